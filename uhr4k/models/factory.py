"""Building models by name: ``create_model(name, pretrained=...)``, and rebuilding the model a uhr4k file
describes (``from_pretrained``, ``load_model``). The registry says how to build; :mod:`uhr4k.models.weights`
reads and loads the weights.
"""
from __future__ import annotations

import os

import torch.nn as nn

from uhr4k.core.errors import InputError
from uhr4k.models.registry import ModelInfo, accepted_arguments, model_info
from uhr4k.models.weights.checkpoint import load_checkpoint
from uhr4k.models.weights.load import load_weights, refuse_other_model
from uhr4k.models.weights.read import Weights, checkpoint_weights, read_weights


def from_pretrained(path: str | os.PathLike, **kwargs) -> nn.Module:
    """The model of a self-describing folder or file (an export, or a uhr4k ``.pt`` checkpoint), in eval mode.

    ``kwargs`` override the saved constructor arguments. Releases of other code carry no model name: load
    them with ``create_model(name, pretrained=path)``.

    Raises:
        InputError: the path holds no uhr4k configuration, or weights that do not fit it.
    """
    weights = read_weights(path)
    if weights.config is None:
        raise InputError("no uhr4k config (config.json or checkpoint config) names the model; use "
                         "create_model(NAME, pretrained=PATH) for another code's release", path)
    return create_model(weights.config["model"], pretrained=weights, **kwargs)


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

    weights = pretrained if isinstance(pretrained, Weights) else read_weights(pretrained)
    refuse_other_model(weights, name)    # before building: another model's kwargs would not fit this one
    if weights.config is not None:
        kwargs = {**weights.config.get("kwargs", {}), **kwargs}
    model = _build(info, kwargs, weights.source)
    load_weights(model, name, weights)
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


def load_model(path: str | os.PathLike, expected_name: str | None = None,
               expected_kwargs: dict | None = None, map_location="cpu") -> tuple[nn.Module, dict]:
    """Rebuild the checkpoint's model through the registry and load its evaluation weights strictly
    (:func:`uhr4k.models.weights.checkpoint.evaluation_params`: ``params_ema`` when it has them, else
    ``params``) with :func:`uhr4k.models.weights.load.load_weights`, as ``create_model(pretrained=...)``
    does; unlike it, the model keeps its train mode and the whole checkpoint comes back.

    ``path`` is a uhr4k ``.pt`` checkpoint or a folder written by ``uhr4k export`` (its ``config.json``
    then plays the checkpoint's ``config``).

    Args:
        expected_name: the registered name the caller wants; another model is an error.
        expected_kwargs: the configuration the caller wants (compared key by key when given).
    Returns:
        (model, checkpoint dict).
    Raises:
        InputError: naming the file, when it holds another model or configuration, or parameters
        that do not fit the configuration.
    """
    if os.path.isdir(path):
        weights = read_weights(path)
        if weights.config is None:
            raise InputError("not a uhr4k export (no config.json naming the model)", path)
        checkpoint = {"params": weights.state, "config": weights.config}
    else:
        checkpoint = load_checkpoint(path, map_location)
        weights = checkpoint_weights(checkpoint, path)
    name, kwargs = weights.config["model"], dict(weights.config.get("kwargs", {}))
    if expected_name is not None and name != expected_name:
        raise InputError(f"checkpoint holds model {name!r}, not {expected_name!r}", path)
    if expected_kwargs is not None:
        differing = {k: (kwargs.get(k), v) for k, v in expected_kwargs.items() if _norm(kwargs.get(k)) != _norm(v)}
        if differing:
            detail = ", ".join(f"{k}={have!r} (wanted {want!r})" for k, (have, want) in sorted(differing.items()))
            raise InputError(f"checkpoint holds another configuration of {name}: {detail}", path)
    try:
        model = create_model(name, **kwargs)
    except InputError as exc:  # its config names an argument the model does not take
        raise InputError(f"config: {exc.reason}", path) from None
    load_weights(model, name, weights)
    return model, checkpoint


def _norm(value):
    """Tuples and lists compare equal (a checkpoint stores what the caller passed)."""
    return list(value) if isinstance(value, tuple) else value

