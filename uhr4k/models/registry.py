"""A timm-style registry of named model configurations.

Each architecture module registers one entry point per official configuration::

    @register_model("restormer", tasks=("deraining", "reflection"), converter=convert_release)
    def restormer(**kwargs) -> nn.Module:
        return Restormer(dim=48, **kwargs)

``create_model(name, pretrained=PATH, **kwargs)`` builds one and, with ``pretrained``, loads weights;
``list_models(pattern)`` names them (shell-style pattern, as timm); ``model_info(name)`` tells its tasks and
whether released weights can be converted. Registration happens when the architecture module is imported;
:func:`_load_all` imports every module listed in ``ARCHITECTURES``.

What ``pretrained=PATH`` reads (:mod:`uhr4k.models.pretrained`, always ``weights_only=True``): a file as
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
To say that the file is not this model's release, raise ``uhr4k.errors.InputError("reason")`` (the
loader adds the path) or let a ``KeyError`` escape (reported as "its converter failed"). A model whose
release has no weights to convert (no release, or ours) registers ``converter=None``.
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
ARCHITECTURES = ("identity", "glsgn", "restormer", "mprnet", "nafnet", "dmgn", "zheng2021", "prenet", "dcp",
                 "rmnet", "errnet", "ibcln", "cfdnet", "zou2020",
                 "vrgnet", "rescan", "ffanet", "msbdn", "aecrnet", "derainrlnet")


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


def is_several_files(state: dict) -> bool:
    """True when a converter receives ``{file name: state dict}`` (a folder of several weight files)."""
    return bool(state) and all(isinstance(v, dict) for v in state.values())


def create_model(name: str, pretrained=None, **kwargs) -> nn.Module:
    """Build the registered configuration ``name``; ``kwargs`` override its constructor arguments.

    Args:
        pretrained: weights to load (a path, see the module docstring, or a ``pretrained.Weights``); the
            model is then returned in eval mode. uhr4k's own files also give the constructor arguments
            they were saved with (``kwargs`` still override them).
    Raises:
        InputError: no model of that name; weights that cannot be read, belong to another model or do
        not fit (one line naming the file and the first offending keys).
    """
    info = model_info(name)
    if pretrained is None:
        return _build(info, kwargs)
    from uhr4k.models.pretrained import Weights, load_weights, read_weights

    weights = pretrained if isinstance(pretrained, Weights) else read_weights(pretrained)
    if weights.config is not None:
        if weights.config.get("model") != name:
            raise InputError(f"holds model {weights.config.get('model')!r}, not {name!r}", weights.source)
        kwargs = {**weights.config.get("kwargs", {}), **kwargs}
    model = _build(info, kwargs, weights.source)
    load_weights(model, name, weights, info.converter)
    return model.eval()


def _build(info: ModelInfo, kwargs: dict, source=None) -> nn.Module:
    """``info.build(**kwargs)``; an argument the model does not take is an InputError listing those it does."""
    try:
        return info.build(**kwargs)
    except TypeError as exc:
        if "unexpected keyword argument" not in str(exc):
            raise
        accepted = accepted_arguments(info.name)
        unknown = sorted(set(kwargs) - set(accepted)) or [str(exc).rsplit(" ", 1)[-1].strip("'")]
        raise InputError(f"model {info.name!r} takes no argument {', '.join(map(repr, unknown))}; it accepts: "
                         f"{', '.join(accepted) or 'none'}", source) from None


def accepted_arguments(name: str) -> list[str]:
    """Constructor arguments of the registered model ``name`` (its entry point's, else its class's)."""
    import inspect

    info = model_info(name)
    params = inspect.signature(info.build).parameters.values()
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if any(p.kind == p.VAR_KEYWORD for p in params):   # a thin entry point: ask the class it builds
        cls_params = inspect.signature(type(info.build()).__init__).parameters.values()
        names += [p.name for p in cls_params if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                                                p.KEYWORD_ONLY)]
    return sorted(set(names))
