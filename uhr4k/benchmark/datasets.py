"""Paired datasets: find (input, target) pairs in UHR4K roots, public benchmark layouts and plain folders.

``find_pairs`` understands:

* a UHR4K root (DESIGN.md contract): ``<root>/manifest.csv`` and/or ``<root>/UHR4K-*/<split>/{input,target}``;
  scenes come from the manifest;
* Restormer style ``<set>/input`` + ``<set>/target`` (Rain100L/H, Test100, ...), and the other folder pairs
  of REFERENCE.md section 9: ``blended`` + ``transmission_layer`` (Real20, Nature, SIR2), ``hazy`` + ``GT``
  (O-HAZE) or ``hazy`` + ``clear`` (4KID), ... ; a ``<split>/`` level above them is followed;
* one folder of ``rain-NNN.png`` with ``norain-NNN.png`` (the original Rain100L/H release).

Files pair by a normalized stem (lower case, the role words such as ``rain``/``norain``/``hazy``/``GT``
removed); a file without a partner is an error that names it. Named presets (``rain100h``, ``uhr4k-syn``,
...) resolve under ``$UHR4K_DATA`` (default ``./data``) and carry the metric protocol their tables use.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from uhr4k import layout
from uhr4k.errors import InputError
from uhr4k.io import is_image, read_image, to_float

DATA_ENV = "UHR4K_DATA"
DEFAULT_CROP = (960, 540)   # (width, height) of the paper's training crops (section V-A)


@dataclass(frozen=True)
class Pair:
    """One evaluation or training sample: degraded ``input``, clean ``target``, and its ``scene``."""

    id: str
    input: Path
    target: Path
    scene: str


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


def data_home() -> Path:
    """Where presets live: ``$UHR4K_DATA`` or ``./data``."""
    return Path(os.environ.get(DATA_ENV, "data"))


def normalize_stem(stem: str) -> str:
    """The sample key of a file stem: lower case with role words removed (``norain-012`` -> ``012``,
    ``05_outdoor_GT`` -> ``05_outdoor``). Falls back to the lower-cased stem if nothing would remain."""
    low = stem.lower()
    key = _ROLE_RE.sub("", low).strip("_-. ")
    return key or low


def resolve(root_or_preset: str | os.PathLike) -> tuple[Path, Preset | None]:
    """A path or preset name -> (folder, preset or None). ``name=PATH`` gives a preset a folder of yours.

    Raises:
        InputError: neither an existing folder nor a preset whose folder exists under the data home.
    """
    text = str(root_or_preset)
    if "=" in text and text.split("=", 1)[0].lower() in PRESETS:
        name, path = text.split("=", 1)
        return Path(path), PRESETS[name.lower()]
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
    root, preset = resolve(root_or_preset)
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
            pair = Pair(r["id"], root / r["input"], root / r["target"], r["scene"] or r["id"])
            for p in (pair.input, pair.target):
                if not p.is_file():
                    raise InputError(f"listed in {layout.MANIFEST_NAME} but missing", p)
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


# ------------------------------------------------------------------------------------------ loading


def read_pair(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    """Both images of a pair as (H, W, 3) uint8/uint16 arrays.

    Raises:
        InputError: an unreadable file, or input and target of different sizes (naming both).
    """
    inp, tgt = read_image(pair.input), read_image(pair.target)
    if inp.shape != tgt.shape:
        raise InputError(f"input is {inp.shape[1]}x{inp.shape[0]} but its target {pair.target} is "
                         f"{tgt.shape[1]}x{tgt.shape[0]}", pair.input)
    return inp, tgt


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8/uint16 -> (3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(to_float(img).transpose(2, 0, 1)))


class PairedDataset(Dataset):
    """Pairs as tensors; optionally seeded random crops with flips and 90-degree rotations (training).

    Items are ``{"input": (3, H, W) float32 in [0, 1], "target": same, "id": str}``. With ``crop=(w, h)``
    every item is a (3, h, w) crop; the crop position and augmentation of item ``i`` in epoch ``e`` come
    from ``(seed, e, i)`` only, so they are the same whatever the number of DataLoader workers or the
    DistributedSampler rank that asks for it. Call :meth:`set_epoch` at each epoch to draw new crops.

    Crops read only the needed rows when a cache made by ``uhr4k cache`` is present (see
    :mod:`uhr4k.benchmark.cache`); otherwise the whole image is decoded.
    """

    def __init__(self, pairs: list[Pair], crop: tuple[int, int] | None = None, augment: bool = False,
                 seed: int = 0, use_cache: bool = True):
        if not pairs:
            raise InputError("empty dataset: no pairs given")
        if crop is not None and (len(crop) != 2 or min(crop) <= 0):
            raise ValueError(f"crop must be (width, height) > 0, got {crop}")
        self.pairs, self.crop, self.augment, self.seed = list(pairs), crop, augment, int(seed)
        self.epoch = 0
        self._reader = None
        if use_cache and crop is not None:
            from uhr4k.benchmark.cache import CachedReader
            self._reader = CachedReader()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.pairs)

    def draw(self, index: int, height: int, width: int) -> tuple[int, int, int, int, int, bool, bool]:
        """The crop and augmentation of item ``index`` this epoch for an image of ``height`` x ``width``.

        Returns:
            (top, left, crop_h, crop_w, rot90 k, hflip, vflip); (crop_h, crop_w) is the region read, which is
            transposed for odd k so that the rotated crop is always (h, w) of ``self.crop``.
        """
        w, h = self.crop
        rng = np.random.default_rng([self.seed, self.epoch, index])
        k, hflip, vflip = 0, False, False
        if self.augment:
            k, hflip, vflip = int(rng.integers(4)), bool(rng.integers(2)), bool(rng.integers(2))
            if k % 2 == 1 and (w > height or h > width):
                k -= 1                    # a transposed crop would not fit: keep the orientation
        ch, cw = (w, h) if k % 2 else (h, w)
        if ch > height or cw > width:
            raise InputError(f"crop {w}x{h} larger than the image ({width}x{height})", self.pairs[index].input)
        top = int(rng.integers(height - ch + 1))
        left = int(rng.integers(width - cw + 1))
        return top, left, ch, cw, k, hflip, vflip

    def __getitem__(self, index: int) -> dict:
        pair = self.pairs[index]
        if self.crop is None:
            inp, tgt = read_pair(pair)
        else:
            inp, tgt = self._read_crop(index, pair)
        return {"input": to_tensor(inp), "target": to_tensor(tgt), "id": pair.id}

    def _read_crop(self, index: int, pair: Pair) -> tuple[np.ndarray, np.ndarray]:
        if self._reader is not None:
            shapes = self._reader.shapes(pair.input, pair.target)
        else:
            shapes = None
        if shapes is None:
            full_in, full_tgt = read_pair(pair)
            height, width = full_in.shape[:2]
        else:
            height, width = shapes
        top, left, ch, cw, k, hflip, vflip = self.draw(index, height, width)
        if shapes is None:
            inp = full_in[top:top + ch, left:left + cw]
            tgt = full_tgt[top:top + ch, left:left + cw]
        else:
            inp = self._reader.crop(pair.input, top, left, ch, cw)
            tgt = self._reader.crop(pair.target, top, left, ch, cw)
        return augment_pair(inp, k, hflip, vflip), augment_pair(tgt, k, hflip, vflip)


def augment_pair(img: np.ndarray, k: int, hflip: bool, vflip: bool) -> np.ndarray:
    """Rotate an (H, W, C) array by ``k`` x 90 degrees counter-clockwise, then flip; returns a contiguous copy."""
    if k:
        img = np.rot90(img, k, axes=(0, 1))
    if hflip:
        img = img[:, ::-1]
    if vflip:
        img = img[::-1]
    return np.ascontiguousarray(img)
