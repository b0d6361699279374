"""Checkpoints: ``{"params", "optimizer", "epoch", "config", ...}`` written atomically, read with
``weights_only=True`` (no arbitrary code runs on load).

``config = {"model": registered name, "kwargs": {...}}`` is enough to rebuild the model through the
registry, so a checkpoint is self-describing: ``load_model(path)`` needs nothing else.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn

from uhr4k.errors import InputError
from uhr4k.files import atomic_path
from uhr4k.models.registry import create_model


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel / DataParallel wrapper (or the model itself)."""
    return model.module if hasattr(model, "module") and isinstance(model.module, nn.Module) else model


def save_checkpoint(path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer | None,
                    epoch: int, config: dict, **extra) -> Path:
    """Write ``{"params": state_dict, "optimizer": ..., "epoch", "config", **extra}`` atomically.

    ``config`` must hold ``model`` (the registered name) and ``kwargs`` (its constructor overrides).
    ``extra`` values must be plain data (tensors, numbers, strings, lists, dicts) so that the file
    loads with ``weights_only=True``.
    """
    if "model" not in config or "kwargs" not in config:
        raise ValueError(f"config needs 'model' and 'kwargs', got keys {sorted(config)}")
    state = {"params": unwrap(model).state_dict(),
             "optimizer": None if optimizer is None else optimizer.state_dict(),
             "epoch": int(epoch), "config": dict(config), **extra}
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Read a checkpoint with ``weights_only=True``.

    Raises:
        InputError: missing file, not a torch file, or not a uhr4k checkpoint (no params/config).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such checkpoint file", path)
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # unpickling errors come in many types; the message is what matters
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"not a loadable checkpoint ({reason[:200]})", path) from None
    if not isinstance(checkpoint, dict) or "params" not in checkpoint or "config" not in checkpoint:
        raise InputError("not a uhr4k checkpoint (no 'params' and 'config')", path)
    config = checkpoint["config"]
    if not isinstance(config, dict) or "model" not in config or not isinstance(config.get("kwargs", {}), dict):
        raise InputError("checkpoint config lacks the model name and kwargs", path)
    return checkpoint


def load_model(path: str | os.PathLike, expected_name: str | None = None,
               expected_kwargs: dict | None = None, map_location="cpu") -> tuple[nn.Module, dict]:
    """Rebuild the checkpoint's model through the registry and load its parameters (strictly): the EMA
    weights ``params_ema`` when the checkpoint has them (BasicSR's convention; ``uhr4k train --ema`` also
    picks ``best.pt`` by their validation PSNR), else ``params``.

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
        from uhr4k.models.pretrained import read_weights
        weights = read_weights(path)
        if weights.config is None:
            raise InputError("not a uhr4k export (no config.json naming the model)", path)
        checkpoint = {"params": weights.state, "config": weights.config}
    else:
        checkpoint = load_checkpoint(path, map_location)
    name, kwargs = checkpoint["config"]["model"], dict(checkpoint["config"].get("kwargs", {}))
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
    try:
        model.load_state_dict(checkpoint["params_ema"] if "params_ema" in checkpoint else checkpoint["params"],
                              strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[1:3]) or first[0]
        raise InputError(f"parameters do not fit model {name!r} with {kwargs}: {detail[:300]}", path) from None
    return model, checkpoint


def _norm(value):
    """Tuples and lists compare equal (a checkpoint stores what the caller passed)."""
    return list(value) if isinstance(value, tuple) else value
