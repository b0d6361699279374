"""``uhr4k.train``: the defaults that make training chain with build-syn, align and bench (the subset a
model's task implies, ``runs/NAME``).
"""
from __future__ import annotations

import os
from pathlib import Path

from uhr4k.core.errors import InputError
from uhr4k.core.runs import BEST_CHECKPOINT, RUNS_DIR


def default_train_data(model: str, subset: str | None) -> tuple[str, str]:
    """(data, subset) that ``train`` uses without ``data``: the default UHR4K root and the subset the
    model's first task implies (reflection: syn, deraining: rain), unless ``subset`` says otherwise.

    Raises:
        InputError: no UHR4K root yet, or no subset for the model's tasks (naming what to pass).
    """
    from uhr4k.data import presets  # numpy, OpenCV: `uhr4k train --help` imports this module without them
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


def training_config(config=None, **fields):
    """The :class:`~uhr4k.models.train.config.TrainConfig` of ``config`` (a TrainConfig, a shipped recipe's
    name or a recipe file; None: TrainConfig's defaults) with ``fields`` changed (``TrainConfig.override``).

    Raises:
        InputError: no such recipe; ConfigError (an InputError with the ``key``): a refused key or value.
    """
    from uhr4k.models.train.config import TrainConfig

    if config is None:
        config = TrainConfig()
    elif not isinstance(config, TrainConfig):
        config = TrainConfig.from_yaml(config)
    return config.override(**fields) if fields else config


def train(model: str | None = None, data: str | os.PathLike | None = None, out: str | os.PathLike | None = None,
          subset: str | None = None, *, config=None, echo=None, **overrides):
    """Train a registered model; returns :class:`uhr4k.models.train.loop.TrainSummary`.

    >>> uhr4k.train("prenet", "data/uhr4k", subset="rain", epochs=100)
    >>> uhr4k.train(config="restormer", data="data/uhr4k", subset="rain", batch=2)   # a recipe, changed

    Args:
        model: registered model name (default: the config's, else ``glsgn``).
        data: dataset root, preset or ``PRESET=PATH``; default: the config's, else :func:`default_train_data`.
        out: run folder (default: the config's, else ``runs/MODEL``, where :func:`bench` finds ``best.pt``).
        config: a :class:`~uhr4k.models.train.config.TrainConfig`, a shipped recipe's name (``"glsgn"``) or a
            recipe file (YAML); default: TrainConfig's defaults.
        echo: a function taking each progress line (default: silent).
        overrides: other TrainConfig fields (epochs, batch, lr, crop, model_kwargs, loss, loss_kwargs, ...)
            that replace the config's (see :meth:`TrainConfig.override`: ``schedule={"unit": "step"}``
            changes that field of the schedule only).

    Raises:
        InputError: no such recipe, a refused value (naming the file or the field), and what training raises.
    """
    from uhr4k.models.train.loop import train as run_train

    given = {k: v for k, v in (("model", model), ("data", data), ("out", out), ("subset", subset)) if v is not None}
    config = training_config(config, **given, **overrides)
    if config.data is None:
        data, subset = default_train_data(config.model, config.subset)
        config = config.override(data=data, subset=subset)
    if config.out is None:
        config = config.override(out=str(Path(RUNS_DIR) / config.model))
    return run_train(config, echo=echo or (lambda line: None))


def trained_checkpoint(model: str) -> Path | None:
    """``runs/MODEL/best.pt`` when ``uhr4k train --model MODEL`` left one in this folder, else None."""
    path = Path(RUNS_DIR) / model / BEST_CHECKPOINT
    return path if path.is_file() else None

