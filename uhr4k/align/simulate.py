"""Through-glass photos with a KNOWN homography, made from a real photo: the ground truth for alignment.

A photo taken through a pane of glass differs from the photo without it by a small geometric shift (the
pane displaces the rays; the camera moves a little between the two shots), a darker and tinted
transmission, an added out-of-focus reflection, a little blur, sensor noise and JPEG compression.
:func:`simulate_glass_photo` applies all of these to a real background photo, so an aligner can be scored
against the exact homography (``benchmarks/align_accuracy.py``, tests, the demo).

Convention (as in :mod:`uhr4k.align.estimate`): ``H`` maps through-glass pixel coordinates to background
pixel coordinates, so the simulated photo is ``glass(x) = background(H x)`` before the photometric changes.
Every pixel-unit parameter is relative to the image size (the same draw looks alike at 960 x 540 and 4K).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from uhr4k.core.images import from_float, to_float_divided

__all__ = ["GlassParams", "random_homography", "draw_glass_params", "simulate_glass_photo"]


@dataclass(frozen=True)
class GlassParams:
    """Photometric side of a simulated pane. Sizes are fractions of the image diagonal."""

    gain: tuple[float, float, float] = (0.85, 0.85, 0.85)  # per-channel transmission (R, G, B)
    reflection_weight: float = 0.2      # added reflection = weight * blurred reflection image
    reflection_sigma: float = 0.006     # Gaussian blur of the reflection (out of focus), x diagonal
    blur_sigma: float = 0.00012         # slight optical blur of the whole photo, x diagonal (~0.5 px at 4K)
    noise_sigma: float = 2.0 / 255.0    # additive Gaussian noise, in [0, 1] units
    jpeg_quality: int = 90              # 0 means no JPEG round trip


def random_homography(width: int, height: int, rng: np.random.Generator, *, max_corner_shift: float = 0.015,
                      max_translation: float = 0.01) -> np.ndarray:
    """A plausible glass / camera-shift homography: every corner moved independently.

    Args:
        max_corner_shift: each corner moves up to this fraction of the width (x) and height (y).
        max_translation: a common shift of all corners, fraction of width/height.
    Returns:
        (3, 3) float64, through-glass -> background pixel coordinates, ``H[2, 2] == 1``.
    """
    corners = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float64)
    size = np.array([width, height], dtype=np.float64)
    moved = (corners + rng.uniform(-max_corner_shift, max_corner_shift, (4, 2)) * size
             + rng.uniform(-max_translation, max_translation, 2) * size)
    H = cv2.getPerspectiveTransform(corners.astype(np.float32), moved.astype(np.float32))
    return H / H[2, 2]


def draw_glass_params(rng: np.random.Generator) -> GlassParams:
    """Random pane: transmission 0.75-0.95 with a tint of +-6 % per channel, reflection weight 0.1-0.3."""
    base = rng.uniform(0.75, 0.95)
    tint = rng.uniform(0.94, 1.06, 3)
    return GlassParams(
        gain=tuple(float(v) for v in np.clip(base * tint, 0.0, 1.0)),
        reflection_weight=float(rng.uniform(0.1, 0.3)),
        reflection_sigma=float(rng.uniform(0.003, 0.01)),
        blur_sigma=float(rng.uniform(0.00005, 0.0002)),
        noise_sigma=float(rng.uniform(1.0, 3.0) / 255.0),
        jpeg_quality=int(rng.integers(80, 96)),
    )


def simulate_glass_photo(scene: np.ndarray, H: np.ndarray, params: GlassParams, rng: np.random.Generator,
                         reflection: np.ndarray | None = None, size: tuple[int, int] | None = None
                         ) -> tuple[np.ndarray, np.ndarray]:
    """A glass / no-glass pair of ``scene``: the central ``size`` crop, and that view seen through a pane.

    A real through-glass photo shows the scene beyond the edges of the no-glass photo; cropping the
    background from a larger ``scene`` gives the simulated photo the same property (no invented border).

    Args:
        scene: (Hs, Ws, 3) uint8 RGB; at least ``size``; a scene of exactly ``size`` gets replicated borders.
        H: (3, 3) through-glass -> background pixel coordinates (background = the crop).
        params: the pane (:func:`draw_glass_params`).
        rng: noise source.
        reflection: (h, w, 3) uint8 RGB image reflected by the pane, resized to the photo; ``None`` uses
            the background turned by 180 degrees (a room behind the camera looks unlike the scene).
        size: (width, height) of the pair; ``None``: the scene's size.
    Returns:
        (glass, background), both (height, width, 3) uint8 RGB; ``background`` is an untouched crop.
    """
    if scene.ndim != 3 or scene.shape[2] != 3 or scene.dtype != np.uint8:
        raise ValueError(f"expected (H, W, 3) uint8 scene, got shape {scene.shape} dtype {scene.dtype}")
    w, h = (scene.shape[1], scene.shape[0]) if size is None else size
    if w > scene.shape[1] or h > scene.shape[0]:
        raise ValueError(f"scene of shape {scene.shape} is smaller than the requested size {w}x{h}")
    x0, y0 = (scene.shape[1] - w) // 2, (scene.shape[0] - h) // 2
    background = scene[y0:y0 + h, x0:x0 + w]
    diagonal = float(np.hypot(w, h))
    # glass(x) = scene(T H x), T the crop offset; WARP_INVERSE_MAP samples the source at M x directly
    M = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], dtype=np.float64) @ np.asarray(H, np.float64)
    glass = cv2.warpPerspective(to_float_divided(scene), M, (w, h),
                                flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    glass *= np.asarray(params.gain, np.float32)
    if reflection is None:
        refl = to_float_divided(background[::-1, ::-1])
    else:
        refl = to_float_divided(cv2.resize(reflection, (w, h), interpolation=cv2.INTER_AREA))
    sigma = params.reflection_sigma * diagonal
    if sigma > 0:
        refl = cv2.GaussianBlur(refl, (0, 0), sigma)
    glass += params.reflection_weight * refl
    sigma = params.blur_sigma * diagonal
    if sigma > 0.05:
        glass = cv2.GaussianBlur(glass, (0, 0), sigma)
    if params.noise_sigma > 0:
        glass += rng.normal(0.0, params.noise_sigma, glass.shape).astype(np.float32)
    out = from_float(glass)
    if params.jpeg_quality:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, params.jpeg_quality])
        out = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return out, background.copy()
