"""uhr4k.models: GLSGN and its baselines by name, their losses, their weights and their training.

>>> from uhr4k.models import create_model, list_models
>>> model = create_model("glsgn")
>>> # model = create_model("restormer", pretrained="deraining.pth")   # the authors' release, as shipped
>>> # model = from_pretrained("exported-folder")                      # model.safetensors + config.json

The package by kind: ``archs/`` (one module per architecture, ``archs/glsgn/``), ``losses/`` (every loss,
one registry), ``weights/`` (released files, converters' tools, checkpoints, export), ``train/`` (the loop,
its config, schedules, EMA); ``registry`` (what is registered) and ``factory`` (building by name) are this
face's backing.
"""
from uhr4k.models.factory import create_model, from_pretrained, load_model
from uhr4k.models.registry import list_models, model_info, register_model

__all__ = ["create_model", "from_pretrained", "list_models", "load_model", "model_info", "register_model"]
