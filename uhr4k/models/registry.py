"""A timm-style registry of named model configurations.

Each architecture module registers one entry point per official configuration::

    @register_model("restormer")
    def restormer(**kwargs) -> nn.Module:
        return Restormer(dim=48, **kwargs)

``create_model(name, **kwargs)`` builds one; ``list_models()`` names them all. Registration happens when
the architecture module is imported; :func:`_load_all` imports every module listed in ``ARCHITECTURES``.
"""
from __future__ import annotations

import importlib
from typing import Callable

import torch.nn as nn

from uhr4k.errors import InputError

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}

# Modules of uhr4k.models that register entry points when imported.
ARCHITECTURES = ("identity", "glsgn", "restormer", "mprnet", "nafnet", "dmgn", "zheng2021", "prenet", "dcp")


def register_model(name: str):
    """Decorator: register ``fn(**kwargs) -> nn.Module`` under ``name`` (unique)."""
    def decorator(fn):
        if name in _REGISTRY and _REGISTRY[name] is not fn:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = fn
        return fn
    return decorator


def _load_all() -> None:
    for module in ARCHITECTURES:
        try:
            importlib.import_module(f"uhr4k.models.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"uhr4k.models.{module}":
                raise


def list_models() -> list[str]:
    """Names of every registered configuration, sorted."""
    _load_all()
    return sorted(_REGISTRY)


def create_model(name: str, **kwargs) -> nn.Module:
    """Build the registered configuration ``name``; ``kwargs`` override its constructor arguments.

    Raises:
        InputError: no model of that name.
    """
    _load_all()
    if name not in _REGISTRY:
        raise InputError(f"unknown model {name!r}; registered: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**kwargs)
