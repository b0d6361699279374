"""Cover-resize and center/offset crop: fill a target size without ever stretching.

Images are (H, W, C) or (H, W) numpy arrays; sizes are ``(width, height)`` in pixels, the OpenCV order.
"""
from __future__ import annotations

import math

import cv2
import numpy as np


def cover_scale(src_size: tuple[int, int], dst_size: tuple[int, int]) -> float:
    """The one scale factor that makes ``src_size`` cover ``dst_size`` (>1 means upscaling)."""
    (sw, sh), (dw, dh) = src_size, dst_size
    return max(dw / sw, dh / sh)


def cover_resize(img: np.ndarray, size: tuple[int, int], offset: tuple[float, float] = (0.5, 0.5),
                 interpolation: int | None = None) -> np.ndarray:
    """Scale ``img`` (H, W, C) so that it covers ``size`` = (width, height), then crop to it.

    ``offset`` = (fx, fy) in [0, 1] places the crop window inside the scaled image: (0.5, 0.5) is a
    center crop. The crop is taken in source pixels before resizing, so only the kept region is
    resampled (cheap when a 4K source is reduced to a small working size). Interpolation defaults
    to INTER_AREA when shrinking (no aliasing) and INTER_CUBIC when enlarging.
    """
    if img.ndim not in (2, 3):
        raise ValueError(f"expected (H, W) or (H, W, C), got shape {img.shape}")
    dw, dh = size
    sh, sw = img.shape[:2]
    scale = cover_scale((sw, sh), (dw, dh))
    # the source window that maps onto the target, in source pixels
    cw = min(sw, max(1, int(round(dw / scale))))
    ch = min(sh, max(1, int(round(dh / scale))))
    x0 = int(round((sw - cw) * float(np.clip(offset[0], 0, 1))))
    y0 = int(round((sh - ch) * float(np.clip(offset[1], 0, 1))))
    crop = img[y0:y0 + ch, x0:x0 + cw]
    if (cw, ch) == (dw, dh):
        return np.ascontiguousarray(crop)
    if interpolation is None:
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    out = cv2.resize(crop, (dw, dh), interpolation=interpolation)
    if out.ndim == 2 and img.ndim == 3:
        out = out[:, :, None]
    return out


def working_size(size: tuple[int, int], factor: float) -> tuple[int, int]:
    """``size`` divided by ``factor`` (>= 1), rounded, at least 1 px each way."""
    factor = max(1.0, float(factor))
    return max(1, int(round(size[0] / factor))), max(1, int(round(size[1] / factor)))


def gaussian_ksize(sigma: float) -> int:
    """Zhang et al.'s kernel size for a Gaussian of ``sigma`` px: 2 * ceil(2 sigma) + 1."""
    return 2 * int(math.ceil(2 * sigma)) + 1
