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

from uhr4k.core.atomic import atomic_path
from uhr4k.core.errors import InputError


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
    problem = checkpoint_problem(checkpoint)
    if problem is not None:
        raise InputError(problem, path)
    return checkpoint


def checkpoint_problem(obj) -> str | None:
    """Why a loaded object is not a uhr4k checkpoint (``{"params": {...}, "config": {"model", "kwargs"}}``),
    or None when it is one."""
    if not isinstance(obj, dict) or not isinstance(obj.get("params"), dict) or "config" not in obj:
        return "not a uhr4k checkpoint (no 'params' and 'config')"
    config = obj["config"]
    if not isinstance(config, dict) or "model" not in config or not isinstance(config.get("kwargs", {}), dict):
        return "checkpoint config lacks the model name and kwargs"
    return None


def evaluation_params(checkpoint: dict) -> dict:
    """The weights a checkpoint is evaluated with: the EMA weights ``params_ema`` when it has them (BasicSR's
    convention; ``uhr4k train --ema`` also picks ``best.pt`` by their validation PSNR), else ``params``."""
    return checkpoint.get("params_ema") or checkpoint["params"]


