"""Tiled inference: run a model on overlapping tiles of a large image and blend them back.

For models whose memory at 4K exceeds the device (the paper reports MPRNet at 17.72 GB and DMGN at
21.60 GB on one 3840 x 2160 image), tiles keep memory bounded. Tiles overlap by ``overlap`` pixels and
are blended with linear ramps across each seam (feathering) rather than averaged, so a model's edge
artefacts near a tile border fade out instead of leaving a visible step. Tiles change what a model with
global context (GLSGN's global pathway, bilateral grids) sees: report tiled figures as such.
"""
from __future__ import annotations

import torch
import torch.nn as nn


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of length ``tile`` covering ``size`` pixels with at least ``overlap`` shared."""
    if tile >= size:
        return [0]
    stride = tile - overlap
    starts = list(range(0, size - tile, stride))
    return starts + [size - tile]


def _ramp(start: int, length: int, size: int, overlap: int, device) -> torch.Tensor:
    """1-D blend weight of one tile: a linear ramp over ``overlap`` px on each side that is not an image border."""
    w = torch.ones(length, device=device)
    n = min(overlap, length // 2)
    if n > 0:
        ramp = torch.arange(1, n + 1, device=device, dtype=torch.float32) / (n + 1)
        if start > 0:
            w[:n] = ramp
        if start + length < size:
            w[-n:] = ramp.flip(0)
    return w


def _first(output):
    return output[0] if isinstance(output, (tuple, list)) else output


def tiled_forward(model: nn.Module, x: torch.Tensor, tile: int, overlap: int = 32) -> torch.Tensor:
    """``model(x)`` computed tile by tile.

    Args:
        model: maps (B, C, h, w) to (B, C', h, w) (or a tuple whose element 0 is that).
        x: (B, C, H, W) input.
        tile: tile side in pixels (clipped to the image size).
        overlap: pixels shared by neighbouring tiles; must be smaller than ``tile``.

    Returns:
        (B, C', H, W) float32, the tiles blended with seam ramps.
    """
    if x.ndim != 4:
        raise ValueError(f"expected (B, C, H, W), got shape {tuple(x.shape)}")
    if tile <= 0 or not 0 <= overlap < tile:
        raise ValueError(f"need tile > overlap >= 0, got tile={tile}, overlap={overlap}")
    _, _, height, width = x.shape
    th, tw = min(tile, height), min(tile, width)
    out = weight = None
    for top in tile_starts(height, th, overlap):
        wy = _ramp(top, th, height, overlap, x.device)
        for left in tile_starts(width, tw, overlap):
            y = _first(model(x[:, :, top:top + th, left:left + tw]))
            if y.shape[-2:] != (th, tw):
                raise ValueError(f"model returned shape {tuple(y.shape)} for a tile of {th}x{tw}")
            if out is None:
                out = torch.zeros(y.shape[0], y.shape[1], height, width, device=x.device)
                weight = torch.zeros(1, 1, height, width, device=x.device)
            w = wy[:, None] * _ramp(left, tw, width, overlap, x.device)[None, :]
            out[:, :, top:top + th, left:left + tw] += y.float() * w
            weight[:, :, top:top + th, left:left + tw] += w
    return out / weight
