"""Option parsing shared by the commands: ``WIDTHxHEIGHT`` sizes and ``i/n`` shards, errors naming the option."""
from __future__ import annotations

import os
import re

from uhr4k.core.errors import InputError


def parse_size(text: str | None, option: str, allow_none: bool = False) -> tuple[int, int] | None:
    """``WIDTHxHEIGHT`` -> (width, height) in pixels; with ``allow_none``, ``None`` or ``none`` -> None.

    Raises:
        InputError: ``"<option>: size must look like 3840x2160, got '...'"``, or a size that is not positive.
    """
    if allow_none and (text is None or str(text).lower() == "none"):
        return None
    try:
        width, height = (int(p) for p in str(text).lower().split("x"))
    except ValueError:
        raise InputError(f"{option}: size must look like 3840x2160, got {text!r}") from None
    if width <= 0 or height <= 0:
        raise InputError(f"{option}: size must be positive, got {text!r}")
    return width, height


# (task id, task count, first id) of the schedulers --shard auto understands, in order of preference
SHARD_VARIABLES = (("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN"),
                   ("RANK", "WORLD_SIZE", None))


def parse_shard(text: str, option: str = "--shard", environ: dict | None = None) -> tuple[int, int]:
    """``"2/4"`` -> ``(2, 4)``: shard ``i`` of ``n``, counted from 1.

    ``"auto"`` reads the shard from a scheduler's array variables: SLURM's ``SLURM_ARRAY_TASK_ID`` /
    ``SLURM_ARRAY_TASK_COUNT`` (ids counted from ``SLURM_ARRAY_TASK_MIN``, so ``--array=0-3`` and
    ``--array=1-4`` both work), else ``RANK`` / ``WORLD_SIZE`` (0-based, as torchrun and most launchers
    set them); neither set means 1/1.

    Raises:
        InputError: not ``i/n`` or ``auto``, ``i`` outside ``1..n``, or scheduler variables that make no shard.
    """
    if str(text).strip().lower() == "auto":
        return _shard_from_scheduler(os.environ if environ is None else environ, option)
    try:
        i, n = (int(v) for v in str(text).split("/"))
    except ValueError:
        raise InputError(f"{option} must look like i/n or auto, got {text!r}") from None
    if not 1 <= i <= n:
        raise InputError(f"{option} {text}: i must be between 1 and n")
    return i, n


def _shard_from_scheduler(env, option: str) -> tuple[int, int]:
    for id_var, count_var, min_var in SHARD_VARIABLES:
        if id_var not in env or count_var not in env:
            continue
        try:
            task, count = int(env[id_var]), int(env[count_var])
            first = int(env.get(min_var, 0)) if min_var else 0
        except ValueError:
            raise InputError(f"{option} auto: {id_var}={env[id_var]!r} and {count_var}={env[count_var]!r} "
                             f"must be integers") from None
        i = task - first + 1
        if not 1 <= i <= count:
            raise InputError(f"{option} auto: {id_var}={task} is not one of {count_var}={count} tasks "
                             f"starting at {first}")
        return i, count
    return 1, 1


def parse_device(text: str | None, option: str = "--device") -> str | None:
    """``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (None passes through), checked against this machine.

    Raises:
        InputError: ``"--device: unknown device 'bogus' (expected cpu, cuda or cuda:N)"``, or a GPU
        that is not there.
    """
    if text is None:
        return None
    match = re.fullmatch(r"(cpu|mps|cuda)(?::(\d+))?", str(text).strip().lower())
    if not match or (match.group(1) == "cpu" and match.group(2)):
        raise InputError(f"{option}: unknown device {text!r} (expected cpu, cuda or cuda:N)")
    if match.group(1) == "cuda":
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise InputError(f"{option} {text}: no CUDA device is available")
        if match.group(2) is not None and int(match.group(2)) >= count:
            raise InputError(f"{option} {text}: this machine has {count} CUDA device(s) (cuda:0 to cuda:{count - 1})")
    return match.group(0)


def device_callback(ctx, param, value):
    """click callback of ``--device``: :func:`parse_device`."""
    return parse_device(value, "--device")
