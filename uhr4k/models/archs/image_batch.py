"""Small helpers shared by the baseline architectures: input checks and pad-to-multiple.

Every model pads inside ``forward`` to the multiple its down-samplings need and crops the output
back (the NAFNet convention), so callers may pass any H x W.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def check_image_batch(x: torch.Tensor, channels: int = 3) -> None:
    """Raise ``ValueError`` unless ``x`` has shape (B, channels, H, W)."""
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(f"expected (B, {channels}, H, W), got shape {tuple(x.shape)}")


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: str = "reflect") -> tuple[torch.Tensor, int, int]:
    """Pad (B, C, H, W) on the bottom and right so that H and W become multiples of ``multiple``.

    Returns ``(padded, H, W)``, the original size to crop back to. Reflection padding (what the
    Restormer and MPRNet test scripts use) avoids teaching the model a dark border; inputs too small
    to reflect fall back to replication.
    """
    h, w = x.shape[-2:]
    pad_h, pad_w = (-h) % multiple, (-w) % multiple
    if pad_h == 0 and pad_w == 0:
        return x, h, w
    if mode == "reflect" and (pad_h >= h or pad_w >= w):
        mode = "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode), h, w
