"""``uhr4k.train``: the defaults that make training chain with build-syn, align and bench (the subset a
model's task implies, ``runs/NAME``).
"""
from __future__ import annotations

import os
from pathlib import Path

from uhr4k.core.errors import InputError
from uhr4k.core.runs import BEST_CHECKPOINT, RUNS_DIR
from uhr4k.data import presets


def default_train_data(model: str, subset: str | None) -> tuple[str, str]:
    """(data, subset) that ``train`` uses without ``data``: the default UHR4K root and the subset the
    model's first task implies (reflection: syn, deraining: rain), unless ``subset`` says otherwise.

    Raises:
        InputError: no UHR4K root yet, or no subset for the model's tasks (naming what to pass).
    """
    from uhr4k.models.registry import model_info

    root = presets.default_root()
    if not root.is_dir():
        raise InputError(f"no dataset to train on: looked for {root} (${presets.DATA_ENV}); build one with "
                         "`uhr4k build-syn --frames VIDEOS/` or pass --data")
    if subset is None:
        tasks = model_info(model).tasks
        subset = next((presets.TASK_SUBSETS[t] for t in tasks if t in presets.TASK_SUBSETS), None)
        if subset is None:
            raise InputError(f"model {model!r} (tasks: {', '.join(tasks) or 'none registered'}) has no default "
                             "UHR4K subset: pass --subset syn|rain|real or --data")
    return str(root), subset


def train(model: str = "glsgn", data: str | None = None, out: str | os.PathLike | None = None,
          subset: str | None = None, **options):
    """Train a registered model; returns :class:`uhr4k.models.train.loop.TrainSummary`.

    Args:
        data: dataset root, preset or ``PRESET=PATH``; default: see :func:`default_train_data`.
        out: run folder (default ``runs/MODEL``, where :func:`bench` finds ``best.pt``).
        options: the other fields of :class:`uhr4k.models.train.loop.TrainConfig` (epochs, batch, lr, crop,
            model_kwargs, loss, loss_kwargs, ...), and ``echo`` (a function taking each progress line).
    """
    from uhr4k.models.train.loop import TrainConfig
    from uhr4k.models.train.loop import train as run_train

    echo = options.pop("echo", lambda line: None)
    if data is None:
        data, subset = default_train_data(model, subset)
    out = str(out) if out is not None else str(Path(RUNS_DIR) / model)
    return run_train(TrainConfig(model=model, data=data, out=out, subset=subset, **options), echo=echo)


def trained_checkpoint(model: str) -> Path | None:
    """``runs/MODEL/best.pt`` when ``uhr4k train --model MODEL`` left one in this folder, else None."""
    path = Path(RUNS_DIR) / model / BEST_CHECKPOINT
    return path if path.is_file() else None

