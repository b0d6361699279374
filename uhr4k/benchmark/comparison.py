"""Per-sample comparisons for people: where the models differ most, seen at 1:1, and their error maps.

A 4K restoration shrunk to a 480-pixel grid panel is seen at 1/8 of its size: the differences between
models live in details. :func:`pick_regions` chooses the windows where the candidates' absolute errors
disagree most (the range, over candidates, of each pixel's error, box-averaged over the window);
:func:`write_sample_comparison` writes, per candidate, a downscaled full view with those windows outlined,
the windows cropped at 1:1, and an absolute-error map on one shared scale.

Images are (H, W, 3) uint8 RGB arrays.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from uhr4k.core.images import from_float, write_image

BOX_COLOURS = ((255, 64, 64), (64, 160, 255), (255, 200, 0))


@dataclass(frozen=True)
class Region:
    """A square window: top-left (x, y) and side, in pixels of the full image; ``score`` is the mean error
    range inside it (0..255)."""

    x: int
    y: int
    side: int
    score: float


def abs_error(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 pair -> (H, W) float32 mean absolute error over the channels, 0..255."""
    if pred.shape != target.shape or pred.ndim != 3:
        raise ValueError(f"expected two (H, W, 3) images of one shape, got {pred.shape} and {target.shape}")
    return np.abs(pred.astype(np.int16) - target.astype(np.int16)).mean(axis=2, dtype=np.float32)


def crop_side(height: int, width: int, panels: int, page_width: int = 1200) -> int:
    """Side of the 1:1 crops: a row of ``panels`` crops fits ``page_width`` CSS pixels where it can
    (between 96 and 256), and never more than half the image."""
    side = max(96, min(256, page_width // max(1, panels) - 8))
    return int(max(8, min(side, height // 2, width // 2)))


def pick_regions(errors: list[np.ndarray], side: int, count: int = 2) -> list[Region]:
    """The ``count`` non-overlapping ``side`` x ``side`` windows where the (H, W) error maps disagree most.

    The disagreement of a pixel is ``max_k e_k - min_k e_k`` over the candidates' errors (a single map is
    its own disagreement: where that candidate errs most); windows are ranked by its mean, and each pick
    blanks the windows overlapping it. Ties go to the top-left-most window (deterministic).
    """
    if not errors:
        raise ValueError("pick_regions needs at least one error map")
    h, w = errors[0].shape
    side = int(min(side, h, w))
    stack = np.stack(errors)
    spread = stack[0] if len(errors) == 1 else stack.max(axis=0) - stack.min(axis=0)
    # mean over the window whose top-left corner is (x, y), for every valid corner
    integral = cv2.integral(spread.astype(np.float64))
    s = side
    window = (integral[s:, s:] - integral[:-s, s:] - integral[s:, :-s] + integral[:-s, :-s]) / (s * s)
    regions = []
    for _ in range(count):
        flat = int(np.argmax(window))
        y, x = divmod(flat, window.shape[1])
        if not np.isfinite(window[y, x]) or (regions and window[y, x] < 0):
            break
        regions.append(Region(int(x), int(y), s, float(window[y, x])))
        # corners whose window would overlap this one can no longer be picked
        window[max(0, y - s + 1):y + s, max(0, x - s + 1):x + s] = -np.inf
        if np.all(np.isneginf(window)):
            break
    return regions


def error_colormap(err: np.ndarray, vmax: float) -> np.ndarray:
    """(H, W) error in 0..255 -> (H, W, 3) uint8 through matplotlib's perceptually uniform ``magma``
    (black = 0, pale yellow = ``vmax`` and above)."""
    from matplotlib import colormaps

    lut = from_float(colormaps["magma"](np.linspace(0, 1, 256))[:, :3])
    index = np.clip(err / max(vmax, 1e-6) * 255, 0, 255).astype(np.uint8)
    return lut[index]


def _resize(img: np.ndarray, width: int) -> np.ndarray:
    if img.shape[1] <= width:
        return img
    height = max(1, round(img.shape[0] * width / img.shape[1]))
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)


def _outline(view: np.ndarray, regions: list[Region], scale: float) -> np.ndarray:
    im = Image.fromarray(np.ascontiguousarray(view))
    draw = ImageDraw.Draw(im)
    for k, r in enumerate(regions):
        box = [r.x * scale, r.y * scale, (r.x + r.side) * scale - 1, (r.y + r.side) * scale - 1]
        draw.rectangle(box, outline=BOX_COLOURS[k % len(BOX_COLOURS)], width=2)
    return np.asarray(im)


def view_width(panels: int, page_width: int = 1200) -> int:
    """Width of the downscaled full views: a row of ``panels`` fits ``page_width`` (160 to 480 px)."""
    return max(160, min(480, page_width // max(1, panels) - 8))


def write_sample_comparison(folder: Path, candidates: list[tuple[str, np.ndarray]], target: np.ndarray,
                            width: int | None = None, count: int = 2) -> dict:
    """Write one sample's comparison into ``folder`` and describe it.

    Args:
        candidates: (name, (H, W, 3) uint8) for the input and each model's output, in display order.
        target: (H, W, 3) uint8 reference.
        width: width of the full views and error maps (default: :func:`view_width` of the panel count).

    Returns:
        ``{"regions": [Region...], "error_max": float, "panels": [{"name", "view", "crops": [...],
        "error"}...]}`` with file names relative to ``folder``; the target is the last panel (no error map).
    """
    folder = Path(folder)
    errors = [abs_error(img, target) for _, img in candidates]
    h, w = target.shape[:2]
    regions = pick_regions(errors, crop_side(h, w, len(candidates) + 1), count)
    # one scale for every map, so that darker means better across panels; the 99.5th percentile keeps a
    # few saturated pixels from washing the rest out
    vmax = float(max(1.0, max(np.percentile(e, 99.5) for e in errors)))
    width = width or view_width(len(candidates) + 1)
    scale = min(1.0, width / w)
    panels = []
    for k, (name, img) in enumerate([*candidates, ("target", target)]):
        stem = f"{k:02d}"
        entry = {"name": name, "view": f"{stem}_view.png", "crops": [], "error": None}
        write_image(folder / entry["view"], _outline(_resize(img, width), regions, scale))
        for j, r in enumerate(regions):
            crop = f"{stem}_crop{j}.png"
            write_image(folder / crop, img[r.y:r.y + r.side, r.x:r.x + r.side])
            entry["crops"].append(crop)
        if k < len(candidates):
            entry["error"] = f"{stem}_error.png"
            write_image(folder / entry["error"], _resize(error_colormap(errors[k], vmax), width))
        panels.append(entry)
    return {"regions": regions, "error_max": vmax, "panels": panels}
