"""A tiny generated data home for ``uhr4k experiment NAME --smoke`` without ``--data``.

Every preset an experiment reads gets a few pairs in the layout its real release has (UHR4K subsets as
``UHR4K/UHR4K-<Subset>/{train,val,test}/{input,target}``, the public sets as ``<Folder>/{train,test}/<their
folder pair>``), cut from the photographs scikit-image ships (the demo's material) and degraded by the
task's simple stand-in: a blurred second photo blended in (reflection), bright slanted streaks (rain) or
a uniform haze. It exists to exercise the pipeline, not to measure anything.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from uhr4k import layout
from uhr4k.core import seeds
from uhr4k.core.images import from_float, to_float_divided, write_image
from uhr4k.data.presets import PRESETS
from uhr4k.synth.material import REFLECTION_PHOTOS, SCENE_PHOTOS, load_photo

# (input folder, target folder) each public preset's release uses
PUBLIC_FOLDERS = {"real20": ("blended", "transmission_layer"), "nature": ("blended", "transmission_layer"),
                  "sir2": ("blended", "transmission_layer"), "rain100l": ("input", "target"),
                  "rain100h": ("input", "target"), "4kid": ("hazy", "clear"), "ohaze": ("hazy", "GT")}


def degrade(target: np.ndarray, task: str, rng: np.random.Generator, other: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> its degraded twin for ``task`` (reflection, deraining, dehazing)."""
    t = to_float_divided(target)
    if task == "reflection":
        r = cv2.GaussianBlur(to_float_divided(cv2.resize(other, t.shape[1::-1])), (0, 0), 1.5)
        out = 0.8 * t + rng.uniform(0.2, 0.4) * r
    elif task == "deraining":
        streaks = np.zeros(t.shape[:2], np.float32)
        ys, xs = rng.integers(0, t.shape[0], 40), rng.integers(0, t.shape[1], 40)
        for y, x in zip(ys, xs, strict=True):
            cv2.line(streaks, (int(x), int(y)), (int(x) + 3, int(y) + 9), 1.0, 1)
        out = 1 - (1 - t) * (1 - 0.7 * streaks[..., None])
    else:
        transmission = rng.uniform(0.5, 0.7)
        out = t * transmission + 0.85 * (1 - transmission)
    return from_float(out)


def _pairs(task: str, count: int, size: tuple[int, int], seed: int):
    rng = seeds.rng(seed)
    scenes = [load_photo(n) for n in SCENE_PHOTOS]
    others = [load_photo(n) for n in REFLECTION_PHOTOS]
    w, h = size
    for i in range(count):
        photo = scenes[i % len(scenes)]
        y = int(rng.integers(0, photo.shape[0] - h)) if photo.shape[0] > h else 0
        x = int(rng.integers(0, photo.shape[1] - w)) if photo.shape[1] > w else 0
        target = np.ascontiguousarray(cv2.resize(photo[y:, x:], (w, h)) if photo.shape[0] < h or photo.shape[1] < w
                                      else photo[y:y + h, x:x + w])
        yield target, degrade(target, task, rng, others[i % len(others)])


def write_smoke_home(home: Path, presets: list[str], pairs: dict[str, int], size: tuple[int, int]) -> Path:
    """Write ``pairs`` (split -> count) of every preset in ``presets`` under ``home``; returns ``home``.

    Existing files are kept (the content is a function of the preset, split and index only).
    """
    for name in presets:
        preset = PRESETS[name]
        seed = sum(map(ord, name))
        for split, count in pairs.items():
            if preset.subset:
                base = home / preset.folders[0] / layout.subset(preset.subset).name / split
                folders = ("input", "target")
            else:
                if split == "val":
                    continue   # the public releases have no validation split
                base = home / preset.folders[0] / split
                folders = PUBLIC_FOLDERS[name]
            if (base / folders[1]).is_dir() and len(list((base / folders[1]).iterdir())) >= count:
                continue
            for i, (target, degraded) in enumerate(_pairs(preset.task, count, size, seed + len(split))):
                write_image(base / folders[0] / f"{split}{i:03d}.png", degraded)
                write_image(base / folders[1] / f"{split}{i:03d}.png", target)
    return home
