"""A timm-style registry of named model configurations, and the one place where everything known about
each is declared.

Each architecture module registers one entry point per official configuration::

    @register_model("restormer", tasks=("deraining", "deblurring", "reflection"),
                    paper="Restormer (Zamir et al., CVPR 2022)", summary="dim 48, blocks [4, 6, 6, 8], ...",
                    release=("swz30/Restormer", "basicsr/models/archs/restormer_arch.py"),
                    published_params="26.13 M", default_loss="l1", recipe="restormer",
                    converter=convert_release)
    def restormer(**kwargs) -> nn.Module:
        return Restormer(**kwargs)

``create_model(name, pretrained=PATH, **kwargs)`` builds one and, with ``pretrained``, loads weights;
``list_models(pattern)`` names them (shell-style pattern, as timm); ``model_info(name)`` tells its facts
(:class:`ModelInfo`). Registration happens when the architecture module is imported; the registry imports
every module listed in ``ARCHITECTURES`` before a lookup. ``docs/models.md`` and the shipped
``uhr4k/commands/model_facts.json`` are generated from these declarations (``python -m uhr4k.commands.models
--docs docs/models.md``, ``python -m uhr4k.commands.models``).

The default loss has one definition: the ``default_loss=`` of ``register_model`` (the model classes carry
none). Every model the registry builds gets it as the attribute ``model.default_loss`` (a name of
:func:`uhr4k.models.losses.build_loss`, or None), which is where the trainer reads it
(``getattr(model, "default_loss")``); two configurations of one class (``glsgn``, ``glsgn-ssim``) can so
train with different losses. A model with nothing to train declares ``untrained="why"`` instead.

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

import functools
import inspect
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn

from uhr4k.core.registry import Registry

StateDict = dict[str, torch.Tensor]


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows of one configuration: how to build it and what :func:`register_model` declares."""

    name: str
    build: Callable[..., nn.Module]                              # kwargs -> the model, ``default_loss`` set
    tasks: tuple[str, ...] = ()                                  # "reflection", "deraining", "dehazing", ...
    converter: Callable[[StateDict], StateDict] | None = None    # released layout -> ours
    default_loss: str | None = None                              # a loss name of uhr4k.models.losses
    untrained: str | None = None                                 # why there is no default loss
    recipe: str | None = None                                    # the shipped uhr4k/recipes/NAME.yml it trains with
    paper: str | None = None                                     # "Restormer (Zamir et al., CVPR 2022)"
    summary: str = ""                                            # this configuration in a line
    release: tuple[str, str] | None = None                       # (GitHub owner/name, file): the code ours follows
    published_params: str | None = None                          # as published: "26.13 M", "54,735 (Table I)"


# Modules of uhr4k.models.archs that register entry points when imported.
ARCHITECTURES = ("identity", "glsgn", "restormer", "mprnet", "nafnet", "dmgn", "zheng2021", "prenet", "dcp",
                 "rmnet", "errnet", "ibcln", "cfdnet", "zou2020",
                 "vrgnet", "rescan", "ffanet", "msbdn", "aecrnet", "derainrlnet")
_REGISTRY = Registry("model", listed_as="registered",            # name -> ModelInfo
                     modules=tuple(f"uhr4k.models.archs.{m}" for m in ARCHITECTURES))


def register_model(name: str, *, tasks: tuple[str, ...] = (), paper: str | None = None, summary: str = "",
                   release: tuple[str, str] | None = None, published_params: str | None = None,
                   default_loss: str | None = None, untrained: str | None = None, recipe: str | None = None,
                   converter: Callable[[StateDict], StateDict] | None = None):
    """Decorator: register ``fn(**kwargs) -> nn.Module`` under ``name`` (unique) with its facts.

    Args:
        tasks: what it restores ("reflection", "deraining", "dehazing", "deblurring"); the experiments'
            competitor rows and the default training subset follow them.
        paper: the work it reproduces, "Name (Authors, VENUE YEAR)".
        summary: this configuration in one line (what sets it apart from the paper's other ones).
        release: ``(owner/name, file)`` of the authors' GitHub code ours follows; None: ours.
        published_params: the parameter count as the paper or release states it (its rounding kept).
        default_loss: the loss ``uhr4k train`` uses unless told another; set on every built model.
        untrained: instead of ``default_loss``, why the model has none (nothing to train).
        recipe: the name of the shipped ``uhr4k/recipes/NAME.yml`` it trains with; None: none ships.
        converter: released layout -> ours (the contract below); None: no release to convert.

    Returns the entry point wrapped so that what it builds carries ``default_loss``.
    """
    if (default_loss is None) == (untrained is None):
        raise ValueError(f"model {name!r}: declare default_loss or, with nothing to train, untrained='why'")

    def decorator(fn):
        @functools.wraps(fn)
        def build(**kwargs) -> nn.Module:
            model = fn(**kwargs)
            model.default_loss = default_loss     # the trainer reads it here (see the module docstring)
            return model
        info = ModelInfo(name, build, tuple(tasks), converter, default_loss=default_loss, untrained=untrained,
                         recipe=recipe, paper=paper, summary=summary, release=release,
                         published_params=published_params)
        _REGISTRY.add(name, info, same=lambda a, b: a.build.__wrapped__ is b.build.__wrapped__)
        return build
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
