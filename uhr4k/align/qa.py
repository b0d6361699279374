"""QA image of one pair: checkerboard and difference views before and after alignment, with the verdict.

Layout (each tile ``tile_width`` px wide, the pair's aspect ratio)::

    +---------------------------+---------------------------+
    | checkerboard, before      | checkerboard, after       |   glass and no-glass squares alternate:
    +---------------------------+---------------------------+   misalignment shows as broken edges
    | |difference| x4, before   | |difference| x4, after    |   of high-passed images: aligned edges cancel
    +---------------------------+---------------------------+
    status, reason and the numbers in a header bar

The views are computed on downscaled copies (a QA image is looked at, not measured), so that writing one
costs little next to the alignment itself.
"""
from __future__ import annotations

import cv2
import numpy as np

from uhr4k.align.estimate import resize_matrix
from uhr4k.align.warp import warp_to_background
from uhr4k.core.images import to_uint8

__all__ = ["qa_image", "checkerboard"]

_STATUS_COLOURS = {"ok": (40, 160, 60), "flagged": (220, 150, 0), "failed": (200, 40, 40)}


def checkerboard(a: np.ndarray, b: np.ndarray, squares: int = 12) -> np.ndarray:
    """(H, W, 3) image whose squares alternate between ``a`` and ``b``; ``squares`` across the width."""
    if a.shape != b.shape:
        raise ValueError(f"expected two images of one shape, got {a.shape} and {b.shape}")
    h, w = a.shape[:2]
    side = max(1, w // squares)
    yy, xx = np.mgrid[0:h, 0:w]
    use_a = ((yy // side + xx // side) % 2 == 0)[..., None]
    return np.where(use_a, a, b)


def _difference(a: np.ndarray, b: np.ndarray, gain: float = 4.0, sigma: float = 3.0) -> np.ndarray:
    """|high-pass(a) - high-pass(b)| x gain: misaligned edges light up, while the smooth reflection and
    the glass's gain (which would dominate a plain difference) mostly cancel."""
    def high_pass(x):
        x = x.astype(np.float32)
        return x - cv2.GaussianBlur(x, (0, 0), sigma)
    return np.clip(np.abs(high_pass(a) - high_pass(b)) * gain, 0, 255).astype(np.uint8)


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    cv2.putText(tile, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(tile, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def qa_image(glass: np.ndarray | None, background: np.ndarray | None, H: np.ndarray | None,
             title: str, status: str, lines: list[str], tile_width: int = 800,
             gains: tuple[float, float, float] | None = None) -> np.ndarray:
    """The QA image (uint8 RGB) of a pair.

    Args:
        glass, background: (H, W, 3) uint8/uint16 RGB full-resolution photos, or None when unreadable.
        H: (3, 3) through-glass -> background, or None when estimation failed (the "after" views stay grey).
        title: first header line (the pair id); status: ok / flagged / failed (colours the header).
        lines: further header lines (reason, numbers).
        gains: per-channel gains of the glass; the through-glass views are divided by them, so that the
            difference views show misalignment rather than the darker pane.
    """
    ref = background if background is not None else glass
    aspect = ref.shape[0] / ref.shape[1] if ref is not None else 9 / 16
    tile_h = max(1, round(tile_width * aspect))
    grey = np.full((tile_h, tile_width, 3), 96, np.uint8)

    def small(img):
        return None if img is None else cv2.resize(to_uint8(img), (tile_width, tile_h), interpolation=cv2.INTER_AREA)

    g, b = small(glass), small(background)
    if g is not None and gains is not None and all(np.isfinite(gains)) and min(gains) > 0.05:
        g = np.clip(g.astype(np.float32) / np.asarray(gains, np.float32) + 0.5, 0, 255).astype(np.uint8)
    tiles = [grey.copy() for _ in range(4)]
    if g is not None and b is not None and g.shape == b.shape:
        tiles[0], tiles[2] = checkerboard(g, b), _difference(g, b)
    if H is not None and glass is not None and b is not None:
        sx, sy = tile_width / glass.shape[1], tile_h / glass.shape[0]
        bx, by = tile_width / background.shape[1], tile_h / background.shape[0]
        # (small glass -> full glass) then H then (full background -> small background)
        H_small = resize_matrix(bx, by) @ H @ np.linalg.inv(resize_matrix(sx, sy))
        warped, mask = warp_to_background(g, H_small, (tile_width, tile_h))
        warped = np.where(mask[..., None] > 0, warped, grey)
        tiles[1], tiles[3] = checkerboard(warped, b), _difference(warped, b)
    names = ("checkerboard, before", "checkerboard, after", "|high-pass difference| x4, before",
             "|high-pass difference| x4, after")
    tiles = [_label(np.ascontiguousarray(t), n) for t, n in zip(tiles, names, strict=True)]
    grid = np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])
    header_lines = [f"{title}: {status}"] + [line for line in lines if line]
    header = np.zeros((12 + 26 * len(header_lines), grid.shape[1], 3), np.uint8)
    header[:] = _STATUS_COLOURS.get(status, (80, 80, 80))
    for i, text in enumerate(header_lines):
        cv2.putText(header, text[:200], (10, 28 + 26 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.65, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return np.vstack([header, grid])
