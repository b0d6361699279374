"""Warp the through-glass photo onto the untouched background, with its validity mask and crop.

The background (the training target) is never resampled: only the through-glass photo moves. Pixels of
the warped photo whose interpolation support leaves the source are invalid; both images are cropped to
an axis-aligned rectangle of valid pixels, optionally further to a fixed size (by cropping only).
"""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ["warp_to_background", "validity_mask", "valid_rectangle", "fit_crop"]

# bicubic reads 2 px around a sample: one more pixel of margin than the bilinear mask below gives
_CUBIC_EXTRA_MARGIN = 1


def warp_to_background(glass: np.ndarray, H: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Resample the through-glass photo on the background's pixel grid.

    Args:
        glass: (Hg, Wg, 3) uint8/uint16 RGB.
        H: (3, 3) through-glass -> background pixel coordinates.
        size: (width, height) of the background.
    Returns:
        warped (height, width, 3) same dtype (bicubic, saturated), and mask (height, width) uint8,
        255 where the whole bicubic support lay inside the through-glass photo, else 0.
    """
    if glass.ndim != 3 or glass.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) image, got shape {glass.shape}")
    H = np.asarray(H, dtype=np.float64)
    # dst(x) = glass(H^-1 x): OpenCV inverts M itself without WARP_INVERSE_MAP
    warped = cv2.warpPerspective(glass, H, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return warped, validity_mask(H, (glass.shape[1], glass.shape[0]), size)


def validity_mask(H: np.ndarray, glass_size: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """(height, width) uint8 mask of the background grid: 255 where the whole bicubic support of the
    sample lies inside the through-glass photo of ``glass_size`` (w, h), else 0."""
    ones = np.full((glass_size[1], glass_size[0]), 255, np.uint8)
    # bilinear of an all-255 image stays 255 only where all four neighbours were inside
    mask = cv2.warpPerspective(ones, np.asarray(H, np.float64), size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    mask = np.where(mask == 255, 255, 0).astype(np.uint8)
    # pixels beyond the output grid say nothing about coverage: treat them as valid (border 255)
    return cv2.erode(mask, np.ones((2 * _CUBIC_EXTRA_MARGIN + 1,) * 2, np.uint8), borderType=cv2.BORDER_CONSTANT,
                     borderValue=255)


def valid_rectangle(mask: np.ndarray) -> tuple[int, int, int, int]:
    """A large axis-aligned rectangle of valid (non-zero) pixels: (x, y, w, h); (0, 0, 0, 0) if none.

    Starts from the bounding box of the valid pixels and repeatedly drops the border line (top, bottom,
    left or right) that holds the largest fraction of invalid pixels. For the convex valid region of a
    homography warp this reaches (or comes within a few pixels of) the largest inscribed rectangle, and
    costs O(W + H) per step.
    """
    if mask.ndim != 2:
        raise ValueError(f"expected an (H, W) mask, got shape {mask.shape}")
    valid = mask > 0
    rows, cols = np.flatnonzero(valid.any(axis=1)), np.flatnonzero(valid.any(axis=0))
    if rows.size == 0:
        return 0, 0, 0, 0
    top, bottom, left, right = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
    while top <= bottom and left <= right:
        bad = {
            "top": 1.0 - valid[top, left:right + 1].mean(),
            "bottom": 1.0 - valid[bottom, left:right + 1].mean(),
            "left": 1.0 - valid[top:bottom + 1, left].mean(),
            "right": 1.0 - valid[top:bottom + 1, right].mean(),
        }
        side = max(bad, key=bad.get)  # ties resolve in dict order: deterministic
        if bad[side] == 0.0:
            return left, top, right - left + 1, bottom - top + 1
        if side == "top":
            top += 1
        elif side == "bottom":
            bottom -= 1
        elif side == "left":
            left += 1
        else:
            right -= 1
    return 0, 0, 0, 0


def fit_crop(rect: tuple[int, int, int, int], size: tuple[int, int] | None) -> tuple[int, int, int, int] | None:
    """The ``size`` (w, h) crop centred in ``rect`` (x, y, w, h); ``rect`` itself when ``size`` is None.

    Returns:
        (x, y, w, h), or None when ``rect`` is smaller than ``size``.
    """
    if size is None:
        return rect
    x, y, w, h = rect
    want_w, want_h = size
    if want_w > w or want_h > h:
        return None
    return x + (w - want_w) // 2, y + (h - want_h) // 2, want_w, want_h
