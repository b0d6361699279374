"""torch.hub entry points: every registered uhr4k model.

    model = torch.hub.load(REPO_DIR, "glsgn", source="local")                          # random weights
    model = torch.hub.load(REPO_DIR, "restormer", source="local", pretrained="deraining.pth")

``pretrained`` takes anything ``uhr4k.models.create_model(NAME, pretrained=...)`` reads (a release as its
authors distribute it, a uhr4k checkpoint, an exported model folder); nothing is downloaded. Names with
a hyphen (``nafnet-w64``) are entry points as they are and with underscores (``nafnet_w64``).
"""
dependencies = ["torch", "numpy", "scipy", "PIL", "cv2", "click", "safetensors"]


def _entry_points() -> dict:
    from uhr4k.models import create_model, list_models, model_info

    def entry(name):
        def load(pretrained=None, **kwargs):
            return create_model(name, pretrained=pretrained, **kwargs)
        tasks = ", ".join(model_info(name).tasks) or "-"
        load.__name__ = name.replace("-", "_")
        load.__doc__ = (f"uhr4k model {name!r} (tasks: {tasks}); pretrained: weights to load (see "
                        "uhr4k.models.create_model); kwargs override its constructor arguments.")
        return load

    points = {}
    for name in list_models():
        points[name] = points[name.replace("-", "_")] = entry(name)
    return points


globals().update(_entry_points())
