"""Named datasets (presets): where each lives under ``$UHR4K_DATA`` (default ``./data``), its UHR4K
subset, its task, and the metric protocol of the tables that report it.

``resolve("rain100h")`` finds the folder of a preset; ``resolve("rain100h=/my/Rain100H")`` gives a preset a
folder of yours; a plain folder resolves to itself with no preset.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from uhr4k import layout
from uhr4k.core.errors import InputError
from uhr4k.core.name_value import split_name_value

DATA_ENV = "UHR4K_DATA"


@dataclass(frozen=True)
class Preset:
    """A named dataset: where it lives under ``$UHR4K_DATA``, its UHR4K subset, its metric protocol."""

    name: str
    folders: tuple[str, ...]        # candidate folder names under the data home, first found wins
    protocol: str                   # the protocol of the tables that report it (metrics.PROTOCOLS)
    subset: str | None = None       # UHR4K subset key for the three UHR4K presets
    task: str = ""


PRESETS = {p.name: p for p in (
    Preset("uhr4k-syn", ("UHR4K", "uhr4k"), "bandwise", "syn", "reflection"),
    Preset("uhr4k-real", ("UHR4K", "uhr4k"), "bandwise", "real", "reflection"),
    Preset("uhr4k-rain", ("UHR4K", "uhr4k"), "y", "rain", "deraining"),
    Preset("rain100l", ("Rain100L", "rain100l", "Rain100L/test"), "y", None, "deraining"),
    Preset("rain100h", ("Rain100H", "rain100h", "Rain100H/test"), "y", None, "deraining"),
    Preset("real20", ("Real20", "real20", "real20_420"), "bandwise", None, "reflection"),
    Preset("nature", ("Nature", "nature"), "bandwise", None, "reflection"),
    Preset("sir2", ("SIR2", "sir2", "SIR2/WildSceneDataset"), "bandwise", None, "reflection"),
    Preset("4kid", ("4KID", "4kid", "4KID/test"), "rgb", None, "dehazing"),
    Preset("ohaze", ("O-HAZE", "OHAZE", "ohaze", "O-HAZE/# O-HAZY NTIRE 2018"), "rgb", None, "dehazing"),
)}

def data_home() -> Path:
    """Where presets live: ``$UHR4K_DATA`` or ``./data``."""
    return Path(os.environ.get(DATA_ENV, "data"))


def resolve(root_or_preset: str | os.PathLike) -> tuple[Path, Preset | None]:
    """A path or preset name -> (folder, preset or None). ``name=PATH`` gives a preset a folder of yours.

    Raises:
        InputError: neither an existing folder nor a preset whose folder exists under the data home.
    """
    text = str(root_or_preset)
    named = split_name_value(text)
    if named is not None and named[0].lower() in PRESETS:
        return Path(named[1]), PRESETS[named[0].lower()]
    path = Path(text)
    if path.is_dir():
        return path, None
    preset = PRESETS.get(text.lower())
    if preset is None:
        raise InputError(f"not a folder nor a preset (presets: {', '.join(PRESETS)})", text)
    for folder in preset.folders:
        candidate = data_home() / folder
        if candidate.is_dir():
            return candidate, preset
    raise InputError(f"preset {preset.name!r} not found: looked for "
                     f"{', '.join(preset.folders)} under ${DATA_ENV}={data_home()}", data_home())


# ------------------------------------------------------------------------------- the dataset home

UHR4K_FOLDER = "UHR4K"                                   # where build-syn and align write by default
REFLECTION_FOLDERS = ("DIV2K_train_HR", "DIV2K")         # the paper's reflection photos, when present
TASK_SUBSETS = {"reflection": "syn", "deraining": "rain"}  # the UHR4K subset a task trains on


def default_root() -> Path:
    """The one UHR4K root under the data home that build-syn and align fill and train and bench read:
    ``$UHR4K_DATA/UHR4K`` (``./data/UHR4K`` when the variable is unset)."""
    return data_home() / UHR4K_FOLDER


def default_reflections() -> Path | None:
    """``$UHR4K_DATA/DIV2K_train_HR`` (or ``DIV2K``) when that folder exists, else None."""
    return next((data_home() / f for f in REFLECTION_FOLDERS if (data_home() / f).is_dir()), None)


def available_presets() -> list[str]:
    """Names of the presets whose folder exists under the data home (the UHR4K ones only for a subset
    whose folder exists in the default root), in the order of :data:`PRESETS`."""
    found = []
    for preset in PRESETS.values():
        if preset.subset:
            if (default_root() / layout.subset(preset.subset).name).is_dir():
                found.append(preset.name)
        elif any((data_home() / folder).is_dir() for folder in preset.folders):
            found.append(preset.name)
    return found
