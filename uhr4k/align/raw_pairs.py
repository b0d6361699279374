"""Find the glass / no-glass pairs in a folder of raw captures, whatever of the usual layouts it uses.

Two conventions are detected automatically:

1. **Parallel folders**: ``RAW_DIR/glass/`` and ``RAW_DIR/noglass/`` (also ``blended/`` with
   ``transmission/`` or ``transmission_layer/``, the ERRNet / IBCLN layout), files paired by stem
   (case-insensitive, any image suffix). The scene is the sub-folder when files sit one level deeper
   (``glass/<scene>/<name>``), else the stem without a trailing number (``kitchen_03`` -> ``kitchen``).
2. **Marked names**, in one folder per scene (any depth): the stem ends in the side, after ``_``, ``-`` or
   ``.``: ``*_glass`` / ``*_noglass``, ``*_blended`` / ``*_transmission``, ``*_m`` / ``*_g`` (SIR2, where a
   file may also be just ``m.jpg`` / ``g.jpg`` in a folder per pair). The scene is the first folder
   under ``RAW_DIR`` (or, for files directly in it, the name without a trailing number). SIR2 reflection
   layers (``*_r``, ``*_reflection``) are not pairs and are skipped.

Problems of single pairs (a missing partner, two files for one side, an unmarked file) are reported as
pairs with a ``problem`` so that the pipeline records them as failed and goes on; only a folder where no
convention fits at all is an :class:`InputError`.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from uhr4k.core.errors import InputError
from uhr4k.core.media import list_media

__all__ = ["RawPair", "find_raw_pairs", "FOLDER_PAIRS", "GLASS_MARKS", "NOGLASS_MARKS"]

FOLDER_PAIRS = (("glass", "noglass"), ("blended", "transmission"), ("blended", "transmission_layer"))
GLASS_MARKS = ("glass", "blended", "m")
NOGLASS_MARKS = ("noglass", "transmission", "g")
SKIPPED_MARKS = ("r", "reflection")
_SEPARATORS = "_-."


@dataclass(frozen=True)
class RawPair:
    """One capture pair; ``glass`` or ``noglass`` is None (and ``problem`` says why) when it is incomplete."""

    id: str
    scene: str
    glass: Path | None
    noglass: Path | None
    problem: str | None = None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-.") or "pair"


def _scene_of_name(key: str) -> str:
    """``kitchen_03`` -> ``kitchen``: captures of one scene are usually numbered."""
    stripped = re.sub(r"[_\-. ]*\d+$", "", key)
    return stripped or key


def _split_mark(stem: str) -> tuple[str, str | None]:
    """(key, side mark) of a file stem; mark None when the stem ends in no known side."""
    lower = stem.lower()
    for mark in sorted(GLASS_MARKS + NOGLASS_MARKS + SKIPPED_MARKS, key=len, reverse=True):
        if lower == mark:
            return "", mark
        if lower.endswith(mark) and lower[-len(mark) - 1] in _SEPARATORS:
            return stem[: -len(mark) - 1], mark
    return stem, None


def _parallel_folders(raw: Path) -> tuple[Path, Path] | None:
    names = {p.name.lower(): p for p in raw.iterdir() if p.is_dir()}
    for glass, noglass in FOLDER_PAIRS:
        if glass in names and noglass in names:
            return names[glass], names[noglass]
    return None


def find_raw_pairs(raw_dir: str | os.PathLike) -> tuple[list[RawPair], str]:
    """All pairs of ``raw_dir``, sorted by id, and the name of the convention that fitted.

    Raises:
        InputError: not a folder, no images, or no convention fits (the message lists the expected names).
    """
    raw = Path(raw_dir)
    if not raw.is_dir():
        raise InputError("not a folder", raw)
    folders = _parallel_folders(raw)
    if folders is not None:
        pairs = _pairs_from_folders(*folders)
        convention = f"parallel folders {folders[0].name}/ and {folders[1].name}/"
    else:
        pairs = _pairs_from_marks(raw)
        convention = "side marked in file names"
    ids: dict[str, RawPair] = {}
    unique = []
    for pair in sorted(pairs, key=lambda p: p.id):
        if pair.id in ids:
            other = ids[pair.id]
            first = other.glass or other.noglass
            pair = RawPair(pair.id + "-dup", pair.scene, pair.glass, pair.noglass,
                           f"pair id {pair.id!r} is also used by {first}")
        ids[pair.id] = pair
        unique.append(pair)
    return unique, convention


def _group_by_key(files: list[tuple[str, str, str, Path]]) -> list[RawPair]:
    """files: (scene, key, side in {'glass', 'noglass'}, path) -> pairs, problems reported per pair."""
    groups: dict[tuple[str, str], dict[str, list[Path]]] = {}
    for scene, key, side, path in files:
        groups.setdefault((scene, key), {"glass": [], "noglass": []})[side].append(path)
    pairs = []
    for (scene, key), sides in sorted(groups.items()):
        pair_id = _slug(key if key.lower().startswith(scene.lower()) else f"{scene}-{key}")
        problem = None
        for side, name in (("glass", "through-glass"), ("noglass", "no-glass")):
            if len(sides[side]) > 1:
                problem = f"{len(sides[side])} {name} files for one pair: {', '.join(p.name for p in sides[side])}"
        if problem is None:
            if not sides["glass"]:
                problem = f"missing partner: no through-glass photo for {sides['noglass'][0]}"
            elif not sides["noglass"]:
                problem = f"missing partner: no no-glass photo for {sides['glass'][0]}"
        pairs.append(RawPair(pair_id, _slug(scene), sides["glass"][0] if sides["glass"] else None,
                             sides["noglass"][0] if sides["noglass"] else None, problem))
    return pairs


def _pairs_from_folders(glass_dir: Path, noglass_dir: Path) -> list[RawPair]:
    files = []
    for side, folder in (("glass", glass_dir), ("noglass", noglass_dir)):
        for path in list_media(folder, kinds=("image",)) if any(folder.iterdir()) else []:
            rel = path.relative_to(folder)
            key = path.stem.lower()
            scene = rel.parts[0] if len(rel.parts) > 1 else _scene_of_name(key)
            files.append((scene, "/".join(rel.parts[:-1] + (key,)), side, path))
    if not files:
        raise InputError(f"{glass_dir.name}/ and {noglass_dir.name}/ hold no images", glass_dir.parent)
    return _group_by_key(files)


def _pairs_from_marks(raw: Path) -> list[RawPair]:
    images = list_media(raw, kinds=("image",))
    files, unmarked = [], []
    for path in images:
        rel = path.relative_to(raw)
        key, mark = _split_mark(path.stem)
        if mark is None:
            unmarked.append(path)
            continue
        if mark in SKIPPED_MARKS:
            continue
        side = "glass" if mark in GLASS_MARKS else "noglass"
        folder_key = "/".join(rel.parts[1:-1] + ((key.lower(),) if key else ()))
        if len(rel.parts) > 1:
            scene, pair_key = rel.parts[0], folder_key
        else:
            scene, pair_key = _scene_of_name(key.lower()), key.lower()
        files.append((scene, pair_key, side, path))
    if not files:
        raise InputError(
            "no input convention fits: expected glass/ and noglass/ folders (or blended/ and transmission/), "
            "or file names ending in _glass/_noglass, _blended/_transmission or _m/_g", raw)
    pairs = _group_by_key(files)
    for path in unmarked:
        rel = path.relative_to(raw)
        pairs.append(RawPair(_slug("unmarked-" + "-".join(rel.with_suffix("").parts)), _slug(rel.parts[0]),
                             None, None, f"{rel}: the name marks no side (expected *_glass or *_noglass, ...)"))
    return pairs
