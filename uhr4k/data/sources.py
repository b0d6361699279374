"""Finding (input, target) pairs in UHR4K roots, public benchmark layouts and plain folders.

``find_pairs`` understands:

* a UHR4K root (the dataset contract of docs/dataset.md): ``<root>/manifest.csv`` and/or
  ``<root>/UHR4K-*/<split>/{input,target}``; scenes come from the manifest;
* Restormer style ``<set>/input`` + ``<set>/target`` (Rain100L/H, Test100, ...), and the other public folder
  pairs: ``blended`` + ``transmission_layer`` (Real20, Nature, SIR2), ``hazy`` + ``GT`` (O-HAZE) or
  ``hazy`` + ``clear`` (4KID), ... ; a ``<split>/`` level above them is followed;
* one folder of ``rain-NNN.png`` with ``norain-NNN.png`` (the original Rain100L/H release).

Files pair by a normalized stem (lower case, the role words such as ``rain``/``norain``/``hazy``/``GT``
removed); a file without a partner is an error that names it.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from uhr4k import layout
from uhr4k.core.errors import InputError
from uhr4k.core.images import is_image, read_image_verified
from uhr4k.core.paths import inside
from uhr4k.data.presets import resolve_root


@dataclass(frozen=True)
class Pair:
    """One evaluation or training sample: degraded ``input``, clean ``target``, and its ``scene``."""

    id: str
    input: Path
    target: Path
    scene: str
    sha256_input: str = ""    # the manifest's checksums (UHR4K roots): bench refuses a file that differs
    sha256_target: str = ""


# Folder pairs (input name, target name) of the public layouts, matched case-insensitively.
FOLDER_PAIRS = (
    ("input", "target"), ("input", "gt"), ("input", "groundtruth"), ("lq", "gt"), ("lr", "hr"),
    ("rainy", "gt"), ("rain", "norain"), ("data", "gt"),
    ("blended", "transmission_layer"), ("blended", "transmission"), ("blend", "transmission_layer"),
    ("mixture", "transmission_layer"), ("m", "t"),
    ("hazy", "gt"), ("hazy", "clear"), ("hazy", "clean"),
)
# Words that name a file's role rather than its sample: removed before pairing stems.
_ROLE_WORDS = ("norain", "rain", "rainy", "hazy", "gt", "clear", "clean", "input", "target", "blended",
               "transmission", "m", "t", "lq", "hq")
_ROLE_RE = re.compile(r"(^|[_\-. ])(" + "|".join(_ROLE_WORDS) + r")(?=$|[_\-. ])")


def normalize_stem(stem: str) -> str:
    """The sample key of a file stem: lower case with role words removed (``norain-012`` -> ``012``,
    ``05_outdoor_GT`` -> ``05_outdoor``). Falls back to the lower-cased stem if nothing would remain."""
    low = stem.lower()
    key = _ROLE_RE.sub("", low).strip("_-. ")
    return key or low


def find_pairs(root_or_preset: str | os.PathLike, subset: str | None = None, split: str = "test") -> list[Pair]:
    """Every (input, target) pair of a dataset, sorted by id.

    Args:
        root_or_preset: a folder (any layout of the module docstring), a preset name, or ``preset=PATH``.
        subset: UHR4K subset (``syn``, ``rain``, ``real`` or folder name) for a UHR4K root; a preset
            supplies its own; needed only when the root holds several subsets.
        split: ``train``, ``val`` or ``test`` (UHR4K roots, and public sets that have split folders).

    Raises:
        InputError: no pairs, files that do not pair (named), an unknown layout.
    """
    root, preset = resolve_root(root_or_preset)
    if preset is not None and preset.subset and subset is None:
        subset = preset.subset
    if _is_uhr4k_root(root):
        pairs = _uhr4k_pairs(root, subset, split)
    else:
        if (root / split).is_dir():
            root = root / split
        pairs = _folder_pairs(root)
    if not pairs:
        raise InputError("no image pairs found", root)
    return pairs


def _is_uhr4k_root(root: Path) -> bool:
    return (root / layout.MANIFEST_NAME).is_file() or any((root / s.name).is_dir() for s in layout.SUBSETS.values())


def _uhr4k_pairs(root: Path, subset_key: str | None, split: str) -> list[Pair]:
    if split not in layout.SPLITS:
        raise InputError(f"unknown split {split!r}; expected one of {', '.join(layout.SPLITS)}", root)
    present = [s for s in layout.SUBSETS.values() if (root / s.name).is_dir()]
    if subset_key is None:
        if len(present) != 1:
            names = ", ".join(s.key for s in present) or "none"
            raise InputError(f"UHR4K root holds subsets {names}: choose one (--subset or a uhr4k-* preset)", root)
        sub = present[0]
    else:
        sub = layout.subset(subset_key)
    rows = [r for r in layout.read_manifest(root) if r["subset"] == sub.name and r["split"] == split]
    if rows:
        pairs = []
        for r in rows:
            where = f"{root / layout.MANIFEST_NAME} row {r['id']!r}"
            pair = Pair(r["id"], inside(root, r["input"], f"{where}, input"),
                        inside(root, r["target"], f"{where}, target"), r["scene"] or r["id"],
                        r["sha256_input"], r["sha256_target"])
            for column, p in (("input", pair.input), ("target", pair.target)):
                if not p.is_file():
                    raise InputError(f"listed in {layout.MANIFEST_NAME} (row {r['id']!r}, column {column}) but "
                                     f"missing", p)
            pairs.append(pair)
        return sorted(pairs, key=lambda p: p.id)
    # No manifest rows (a hand-made or partly built root): pair the split's folders directly.
    folder = root / sub.name / split
    if not folder.is_dir():
        raise InputError(f"no {sub.name} {split} split", folder)
    return _pair_folders(folder / "input", folder / "target")


def _folder_pairs(root: Path) -> list[Pair]:
    subdirs = {d.name.lower(): d for d in root.iterdir() if d.is_dir()}
    for inp, tgt in FOLDER_PAIRS:
        if inp in subdirs and tgt in subdirs:
            return _pair_folders(subdirs[inp], subdirs[tgt])
    files = [p for p in root.iterdir() if p.is_file() and is_image(p)]
    rain = [p for p in files if re.match(r"^(rain|rainy)[-_]", p.stem.lower())]
    clean = [p for p in files if re.match(r"^(norain|clean|gt)[-_]", p.stem.lower())]
    if rain and clean:
        return _pair_files(rain, clean, root)
    raise InputError("unknown layout: expected input/ + target/ (or blended/ + transmission_layer/, hazy/ + GT/, "
                     "...), rain-N + norain-N files, or a UHR4K root", root)


def _pair_folders(input_dir: Path, target_dir: Path) -> list[Pair]:
    def images(d):
        if not d.is_dir():
            raise InputError("missing folder", d)
        return sorted(p for p in d.iterdir() if p.is_file() and is_image(p) and not p.name.startswith("."))
    return _pair_files(images(input_dir), images(target_dir), input_dir.parent)


def _pair_files(inputs: list[Path], targets: list[Path], where: Path) -> list[Pair]:
    def by_key(paths):
        keyed: dict[str, Path] = {}
        for p in paths:
            key = normalize_stem(p.stem)
            if key in keyed:
                raise InputError(f"two files share the sample key {key!r}: {keyed[key].name}, {p.name}", p.parent)
            keyed[key] = p
        return keyed
    ins, tgts = by_key(inputs), by_key(targets)
    lonely = sorted([ins[k] for k in ins.keys() - tgts.keys()] + [tgts[k] for k in tgts.keys() - ins.keys()])
    if lonely:
        shown = ", ".join(str(p.relative_to(where)) for p in lonely[:5])
        more = f" and {len(lonely) - 5} more" if len(lonely) > 5 else ""
        raise InputError(f"{len(lonely)} file(s) without a partner: {shown}{more}", where)
    return [Pair(k, ins[k], tgts[k], k) for k in sorted(ins, key=_natural_key)]


def _natural_key(text: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def read_pair(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    """Both images of a pair as (H, W, 3) uint8/uint16 arrays.

    Raises:
        InputError: an unreadable file, or input and target of different sizes (naming both).
    """
    inp, tgt = read_image_verified(pair.input, pair.sha256_input), read_image_verified(pair.target, pair.sha256_target)
    if inp.shape != tgt.shape:
        raise InputError(f"input is {inp.shape[1]}x{inp.shape[0]} but its target {pair.target} is "
                         f"{tgt.shape[1]}x{tgt.shape[0]}", pair.input)
    return inp, tgt
