"""Named datasets (presets): where each lives under ``$UHR4K_DATA`` (default ``./data``), its UHR4K
subset, its task, and the metric protocol of the tables that report it.

``resolve_root("rain100h")`` finds the folder of a preset; ``resolve_root("rain100h=/my/Rain100H")`` gives a
preset a folder of yours; a plain folder resolves to itself with no preset. The pairs and the protocol of a
dataset come from :func:`uhr4k.data.resolve_dataset`, which starts here.
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


def resolve_root(spec: str | os.PathLike) -> tuple[Path, Preset | None]:
    """A folder, a preset name or ``preset=PATH`` -> (folder, preset or None): the first step of
    :func:`uhr4k.data.resolve_dataset`, for a caller that needs the folder only. A preset's folder is the
    first of :attr:`Preset.folders` under the data home that exists.

    Raises:
        InputError: neither an existing folder nor a preset whose folder exists under the data home.
    """
    text = str(spec)
    named = split_name_value(text)
    if named is not None and named[0].lower() in PRESETS:
        return Path(named[1]), PRESETS[named[0].lower()]
    path = Path(text)
    if path.is_dir():
        return path, None
    preset = PRESETS.get(text.lower())
    if preset is None:
        raise InputError(f"not a folder nor a preset (presets: {', '.join(PRESETS)})", text)
    roots = preset_roots(preset)
    if not roots:
        raise InputError(f"preset {preset.name!r} not found: looked for "
                         f"{', '.join(preset.folders)} under ${DATA_ENV}={data_home()}", data_home())
    return roots[0], preset


def preset_roots(preset: Preset, home: str | os.PathLike | None = None, split: str | None = None) -> list[Path]:
    """The preset's folders that exist under ``home`` (default: the data home), in the order of
    :attr:`Preset.folders`; with ``split``, only those holding that split (see :func:`split_folder`)."""
    home = data_home() if home is None else Path(home)
    roots = [home / folder for folder in preset.folders if (home / folder).is_dir()]
    return roots if split is None else [r for r in roots if split_folder(r, preset, split).is_dir()]


def split_folder(root: Path, preset: Preset | None, split: str | None = None) -> Path:
    """Where the pairs of a preset's ``split`` lie in its ``root``: ``root/<subset folder>/<split>`` for a
    UHR4K preset (``UHR4K/UHR4K-Syn/test``), ``root/<split>`` otherwise; without ``split`` the folder
    holding the splits."""
    folder = root / layout.subset(preset.subset).name if preset is not None and preset.subset else root
    return folder / split if split else folder


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
    """Names of the presets :func:`resolve_root` finds under the data home (a UHR4K one only when its
    subset's folder is in the root found), in the order of :data:`PRESETS`."""
    found = []
    for preset in PRESETS.values():
        roots = preset_roots(preset)
        if roots and split_folder(roots[0], preset).is_dir():
            found.append(preset.name)
    return found
