"""A timm-style registry of named model configurations.

Each architecture module registers one entry point per official configuration::

    @register_model("restormer", tasks=("deraining", "reflection"), converter=convert_release)
    def restormer(**kwargs) -> nn.Module:
        return Restormer(dim=48, **kwargs)

``create_model(name, **kwargs)`` builds one; ``list_models(pattern)`` names them (shell-style pattern, as
timm); ``model_info(name)`` tells its tasks and whether released weights can be converted. Registration
happens when the architecture module is imported; :func:`_load_all` imports every module listed in
``ARCHITECTURES``.

A ``converter`` maps a state dict in the authors' released key layout (after the generic unwrapping of
``params`` / ``state_dict`` / ``module.`` done by the checkpoint loader) to this package's layout:
``converter(state_dict: dict[str, Tensor]) -> dict[str, Tensor]``.
"""
from __future__ import annotations

import fnmatch
import importlib
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn

from uhr4k.errors import InputError

StateDict = dict[str, torch.Tensor]


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows of one configuration besides how to build it."""

    name: str
    build: Callable[..., nn.Module]
    tasks: tuple[str, ...] = ()                                  # "reflection", "deraining", "dehazing", ...
    converter: Callable[[StateDict], StateDict] | None = None    # released layout -> ours


_REGISTRY: dict[str, ModelInfo] = {}

# Modules of uhr4k.models that register entry points when imported.
ARCHITECTURES = ("identity", "glsgn", "restormer", "mprnet", "nafnet", "dmgn", "zheng2021", "prenet", "dcp")


def register_model(name: str, *, tasks: tuple[str, ...] = (),
                   converter: Callable[[StateDict], StateDict] | None = None):
    """Decorator: register ``fn(**kwargs) -> nn.Module`` under ``name`` (unique), with its tasks and the
    converter of its authors' released weights (None: no release to convert)."""
    def decorator(fn):
        if name in _REGISTRY and _REGISTRY[name].build is not fn:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ModelInfo(name, fn, tuple(tasks), converter)
        return fn
    return decorator


def _load_all() -> None:
    for module in ARCHITECTURES:
        try:
            importlib.import_module(f"uhr4k.models.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"uhr4k.models.{module}":
                raise


def list_models(pattern: str | None = None) -> list[str]:
    """Names of the registered configurations matching a shell-style ``pattern`` (all if None), sorted."""
    _load_all()
    names = sorted(_REGISTRY)
    return names if pattern is None else [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def model_info(name: str) -> ModelInfo:
    """The registry entry of ``name``.

    Raises:
        InputError: no model of that name.
    """
    _load_all()
    if name not in _REGISTRY:
        raise InputError(f"unknown model {name!r}; registered: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def create_model(name: str, **kwargs) -> nn.Module:
    """Build the registered configuration ``name``; ``kwargs`` override its constructor arguments.

    Raises:
        InputError: no model of that name.
    """
    return model_info(name).build(**kwargs)
