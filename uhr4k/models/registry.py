"""A timm-style registry of named model configurations.

Each architecture module registers one entry point per official configuration::

    @register_model("restormer", tasks=("deraining", "reflection"), converter=convert_release)
    def restormer(**kwargs) -> nn.Module:
        return Restormer(dim=48, **kwargs)

``create_model(name, pretrained=PATH, **kwargs)`` builds one and, with ``pretrained``, loads weights;
``list_models(pattern)`` names them (shell-style pattern, as timm); ``model_info(name)`` tells its tasks and
whether released weights can be converted. Registration happens when the architecture module is imported;
the registry imports every module listed in ``ARCHITECTURES`` before a lookup.

What ``pretrained=PATH`` reads (:mod:`uhr4k.models.weights.read`, always ``weights_only=True``): a file as
its authors distribute it (plain state dict, BasicSR ``params`` / ``params_ema``, ``state_dict`` and
similar wrappers, ``module.`` prefixes, ``.safetensors``), a uhr4k ``.pt`` checkpoint, an exported folder
(``model.safetensors`` + ``config.json``), or a folder of several weight files. uhr4k's own files are
already in this package's layout (their saved kwargs are the defaults of ``kwargs``); so is a state dict
whose keys are exactly the model's. Everything else goes through the entry's converter, then loads with
``strict=True``.

The converter contract (for whoever registers a model with released weights)
------------------------------------------------------------------------------
``converter(state) -> StateDict`` where ``state`` is

* for one file: its flat state dict ``dict[str, Tensor]``, already unwrapped: the wrapper keys above are
  gone, ``module.`` / ``_orig_mod.`` prefixes stripped, training entries (optimizer, epoch, ...) dropped,
  a dict of several sub-networks flattened with dots (ERRNet's ``{"icnn": {...}}`` arrives as
  ``icnn.conv1.weight``, ...); tensors as stored (any dtype, CPU);
* for a folder of several weight files (IBCLN's two generators): ``{file name: flat state dict}``, e.g.
  ``{"netG_T.pth": {...}, "netG_R.pth": {...}}``; test with :func:`is_several_files`. A folder with one
  weight file arrives as that file.

It returns the state dict of this package's module, keys exactly those of ``model.state_dict()``
(persistent buffers included: add the ones a release does not store), shapes equal. It must not modify
its input, copy or reshape tensors only where the layouts differ, and must not download or read files.
To say that the file is not this model's release, raise ``uhr4k.core.errors.InputError("reason")`` (the
loader adds the path) or let a ``KeyError`` escape (reported as "its converter failed"). A model whose
release has no weights to convert (no release, or ours) registers ``converter=None``.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn

from uhr4k.core.registry import Registry

StateDict = dict[str, torch.Tensor]


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows of one configuration besides how to build it."""

    name: str
    build: Callable[..., nn.Module]
    tasks: tuple[str, ...] = ()                                  # "reflection", "deraining", "dehazing", ...
    converter: Callable[[StateDict], StateDict] | None = None    # released layout -> ours


# Modules of uhr4k.models.archs that register entry points when imported.
ARCHITECTURES = ("identity", "glsgn", "restormer", "mprnet", "nafnet", "dmgn", "zheng2021", "prenet", "dcp",
                 "rmnet", "errnet", "ibcln", "cfdnet", "zou2020",
                 "vrgnet", "rescan", "ffanet", "msbdn", "aecrnet", "derainrlnet")
_REGISTRY = Registry("model", listed_as="registered",            # name -> ModelInfo
                     modules=tuple(f"uhr4k.models.archs.{m}" for m in ARCHITECTURES))


def register_model(name: str, *, tasks: tuple[str, ...] = (),
                   converter: Callable[[StateDict], StateDict] | None = None):
    """Decorator: register ``fn(**kwargs) -> nn.Module`` under ``name`` (unique), with its tasks and the
    converter of its authors' released weights (None: no release to convert)."""
    def decorator(fn):
        _REGISTRY.add(name, ModelInfo(name, fn, tuple(tasks), converter), same=lambda a, b: a.build is b.build)
        return fn
    return decorator


def list_models(pattern: str | None = None) -> list[str]:
    """Names of the registered configurations matching a shell-style ``pattern`` (all if None), sorted."""
    return _REGISTRY.names(pattern)


def model_info(name: str) -> ModelInfo:
    """The registry entry of ``name``.

    Raises:
        InputError: no model of that name.
    """
    return _REGISTRY.get_entry(name)


def is_several_files(state: dict) -> bool:
    """True when a converter receives ``{file name: state dict}`` (a folder of several weight files)."""
    return bool(state) and all(isinstance(v, dict) for v in state.values())


def accepted_arguments(name: str) -> list[str]:
    """Constructor arguments of the registered model ``name`` (its entry point's, else its class's)."""
    info = model_info(name)
    params = inspect.signature(info.build).parameters.values()
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if any(p.kind == p.VAR_KEYWORD for p in params):   # a thin entry point: ask the class it builds
        cls_params = inspect.signature(type(info.build()).__init__).parameters.values()
        names += [p.name for p in cls_params if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                                                p.KEYWORD_ONLY)]
    return sorted(set(names))
