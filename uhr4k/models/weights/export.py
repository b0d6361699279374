"""``uhr4k export``: a uhr4k checkpoint as ``model.safetensors`` + ``config.json`` (a Hugging Face model folder).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from safetensors.torch import save_file

from uhr4k import __version__
from uhr4k.core.atomic import atomic_path, write_text_atomic
from uhr4k.core.errors import InputError
from uhr4k.models.registry import model_info
from uhr4k.models.weights.checkpoint import load_checkpoint
from uhr4k.models.weights.load import load_weights
from uhr4k.models.weights.read import EXPORT_CONFIG, EXPORT_WEIGHTS, checkpoint_weights


def export_checkpoint(checkpoint_path: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write a uhr4k checkpoint's weights as ``OUT/model.safetensors`` plus ``OUT/config.json``.

    ``config.json`` holds the model name and kwargs (enough to rebuild it), its task(s), the training data
    and settings, the checkpoint's epoch and validation metrics, and the uhr4k version: a Hugging Face model
    folder that :func:`uhr4k.models.factory.from_pretrained` and ``create_model(name, pretrained=OUT)`` load
    offline. The weights are the checkpoint's evaluation weights (``params_ema`` when it has them), bit for bit.

    Raises:
        InputError: the checkpoint is unreadable or not uhr4k's, or ``out`` is a file.
    """

    checkpoint = load_checkpoint(checkpoint_path)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("--out must be a folder, a file is there", out)
    config = checkpoint["config"]
    name = config["model"]
    model = model_info(name).build(**config.get("kwargs", {}))
    weights = checkpoint_weights(checkpoint, checkpoint_path)
    load_weights(model, name, weights)  # refuses, before anything is written, weights that do not rebuild
    run = config.get("run", {})
    record = {"model": name, "kwargs": config.get("kwargs", {}), "tasks": list(model_info(name).tasks),
              "training_data": {k: run[k] for k in ("data", "subset") if k in run},
              "training": {k: v for k, v in run.items() if k not in ("data", "subset")},
              "metrics": {k: checkpoint[k] for k in ("epoch", "best_psnr") if checkpoint.get(k) is not None},
              "format": "uhr4k", "uhr4k_version": __version__}
    # Every tensor its own contiguous copy: safetensors refuses shared or strided storage.
    tensors = {k: v.detach().contiguous().clone() for k, v in weights.state.items()}
    with atomic_path(out / EXPORT_WEIGHTS) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})
    write_text_atomic(out / EXPORT_CONFIG, json.dumps(record, indent=2, default=str) + "\n")
    return out

