"""uhr4k.models: the model registry, GLSGN, the baselines, losses and training.

>>> from uhr4k.models import create_model, list_models
>>> model = create_model("glsgn")
>>> # model = create_model("restormer", pretrained="deraining.pth")   # the authors' release, as shipped
>>> # model = from_pretrained("exported-folder")                      # model.safetensors + config.json
"""
from uhr4k.models.registry import create_model, list_models, model_info, register_model


def from_pretrained(path, **kwargs):
    """The model saved in a uhr4k export folder or checkpoint (see :func:`uhr4k.models.pretrained.from_pretrained`)."""
    from uhr4k.models.pretrained import from_pretrained as load

    return load(path, **kwargs)


__all__ = ["create_model", "from_pretrained", "list_models", "model_info", "register_model"]
