"""Seeded training crops: where a crop falls and how it is flipped and rotated depends only on
``(seed, epoch, index)``, and the crop as a tensor. Shared by the folder Dataset and the shard stream."""
from __future__ import annotations

import numpy as np
import torch

from uhr4k.core.errors import InputError
from uhr4k.core.images import to_float
from uhr4k.core.seeds import rng as seeded_rng

DEFAULT_CROP = (960, 540)   # (width, height) of the paper's training crops (section V-A)


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8/uint16 -> (3, H, W) float32 in [0, 1], the values of :func:`uhr4k.core.images.to_float`.

    ``img`` may be any view (a crop of a memory map, rotated or flipped by strides): the scaling reads it
    once and writes the planar result once, with no intermediate copy (the training crop path,
    ``benchmarks/bench_loader.py``).
    """
    planar = img.transpose(2, 0, 1)
    return torch.from_numpy(to_float(planar, out=np.empty(planar.shape, np.float32)))


def draw_crop(seed: int, epoch: int, index: int, crop: tuple[int, int], augment: bool, height: int, width: int,
              name=None) -> tuple[int, int, int, int, int, bool, bool]:
    """The crop and augmentation of sample ``index`` in ``epoch``: a function of ``(seed, epoch, index)`` and
    the image size only, shared by :class:`PairedDataset` and the shard stream (``uhr4k.data.shards``).

    Args:
        crop: (width, height) of the crop; ``name`` names the image in the error.

    Returns:
        (top, left, crop_h, crop_w, rot90 k, hflip, vflip); (crop_h, crop_w) is the region read, which is
        transposed for odd k so that the rotated crop is always (h, w) of ``crop``.

    Raises:
        InputError: the crop does not fit the image.
    """
    w, h = crop
    rng = seeded_rng(seed, epoch, index)
    k, hflip, vflip = 0, False, False
    if augment:
        k, hflip, vflip = int(rng.integers(4)), bool(rng.integers(2)), bool(rng.integers(2))
        if k % 2 == 1 and (w > height or h > width):
            k -= 1                    # a transposed crop would not fit: keep the orientation
    ch, cw = (w, h) if k % 2 else (h, w)
    if ch > height or cw > width:
        raise InputError(f"crop {w}x{h} larger than the image ({width}x{height})", name)
    top = int(rng.integers(height - ch + 1))
    left = int(rng.integers(width - cw + 1))
    return top, left, ch, cw, k, hflip, vflip


def augment_view(img: np.ndarray, k: int, hflip: bool, vflip: bool) -> np.ndarray:
    """Rotate an (H, W, C) array by ``k`` x 90 degrees counter-clockwise, then flip: a view (strides only)."""
    if k:
        img = np.rot90(img, k, axes=(0, 1))
    if hflip:
        img = img[:, ::-1]
    if vflip:
        img = img[::-1]
    return img


def augment_pair(img: np.ndarray, k: int, hflip: bool, vflip: bool) -> np.ndarray:
    """:func:`augment_view` as a contiguous copy."""
    return np.ascontiguousarray(augment_view(img, k, hflip, vflip))

