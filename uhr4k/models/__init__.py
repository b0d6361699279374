"""uhr4k.models: the model registry, GLSGN, the baselines, losses and training.

>>> from uhr4k.models import create_model, list_models
>>> model = create_model("glsgn")
"""
from uhr4k.models.registry import create_model, list_models, register_model

__all__ = ["create_model", "list_models", "register_model"]
