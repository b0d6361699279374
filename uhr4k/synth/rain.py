"""Rain streaks the Photoshop way (docs/paper.md, "Rain streaks"), at any resolution.

The tutorial's steps on a black layer: monochrome noise, Gaussian blur 0.5 px, Levels (leaves sparse
dots: the density), motion blur at an angle (direction and length), Levels again (contrast), blended
with mode Screen: ``I = 1 - (1 - B)(1 - o * S)``. Several layers (near and far streaks) may be stacked.

Every size is relative: the noise is drawn on a grid whose cell is the streak thickness
(``cell_frac`` of the short side) and upsampled once, the motion-blur length is ``length_frac`` of the
short side. The same parameters thus give the same streaks at 960 x 540 and 3840 x 2160, and the
noise and blur run on a grid 4-25x smaller than the image. The motion blur is an anti-aliased line
kernel (sub-pixel splatting, never collapsing whatever its length) applied with ``cv2.filter2D``,
which switches to an FFT for large kernels. The Levels use fixed numbers (no min-max normalisation:
streak brightness never depends on the image) and clip both ends (no hollow streaks).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from uhr4k.core import seeds
from uhr4k.synth.resize import working_size

# (near, far) layer ranges; lengths and thickness as fractions of the image's short side
LENGTH_FRAC = ((0.04, 0.10), (0.02, 0.05))
CELL_FRAC = ((1.0 / 1080, 2.5 / 1080), (0.5 / 1080, 1.2 / 1080))
OPACITY = ((0.7, 1.0), (0.4, 0.7))
ANGLE_DEG = (-30.0, 30.0)   # from vertical, positive leaning right at the bottom
NOISE_BLUR_SIGMA = 0.5      # in noise cells, the tutorial's 0.5 px


def draw_params(rng: np.random.Generator) -> dict:
    """Draw one image's streak parameters: 1 or 2 layers, each a dict of relative numbers.

    Keys per layer: ``angle_deg``, ``length_frac``, ``cell_frac`` (thickness), ``density_black`` and
    ``density_white`` (first Levels, 0-255 scale), ``contrast_black`` and ``contrast_white`` (second
    Levels), ``opacity``, ``noise_seed``.
    """
    r = lambda lo, hi: round(float(rng.uniform(lo, hi)), 6)  # noqa: E731
    n_layers = 1 + int(rng.random() < 0.5)
    base_angle = r(*ANGLE_DEG)
    layers = []
    for k in range(n_layers):
        black = r(125, 145)
        layers.append({
            "angle_deg": base_angle if k == 0 else round(base_angle + float(rng.uniform(-8, 8)), 6),
            "length_frac": r(*LENGTH_FRAC[k]),
            "cell_frac": r(*CELL_FRAC[k]),
            "density_black": black,
            "density_white": round(black + 55.0, 6),
            "contrast_black": r(60, 90),
            "contrast_white": r(140, 175),
            "opacity": r(*OPACITY[k]),
            "noise_seed": int(rng.integers(0, 2 ** 31 - 1)),
        })
    return {"layers": layers}


def levels(values: np.ndarray, black: float, white: float, gamma: float = 1.0) -> np.ndarray:
    """Photoshop Levels on [0, 1] data with 0-255 points: ``clip((v - b) / (w - b), 0, 1) ** (1 / gamma)``."""
    if not 0 <= black < white <= 255:
        raise ValueError(f"levels need 0 <= black < white <= 255, got {black}, {white}")
    b, w = black / 255.0, white / 255.0
    out = np.clip((values - np.float32(b)) * np.float32(1.0 / (w - b)), 0.0, 1.0)
    return out if gamma == 1.0 else out ** np.float32(1.0 / gamma)


def line_kernel(length: float, angle_deg: float) -> np.ndarray:
    """A normalised motion-blur kernel: a line of ``length`` px at ``angle_deg`` from vertical.

    Returns:
        (k, k) float32, k odd, summing to 1. Built by splatting many sub-pixel samples bilinearly,
        so short and long lines (hundreds of px) both stay continuous.
    """
    if not length > 0:
        raise ValueError(f"length must be > 0, got {length}")
    half = length / 2.0
    k = 2 * int(math.ceil(half + 1)) + 1
    centre = k // 2
    t = np.linspace(-half, half, max(2, int(math.ceil(length * 4)) + 1))
    theta = math.radians(angle_deg)
    xs, ys = centre + t * math.sin(theta), centre + t * math.cos(theta)
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    kernel = np.zeros((k, k), np.float64)
    for dx, dy, wgt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(kernel, (y0 + dy, x0 + dx), wgt)
    return (kernel / kernel.sum()).astype(np.float32)


def streak_layer(size: tuple[int, int], layer: dict) -> np.ndarray:
    """One streak layer (before opacity) at ``size`` = (width, height).

    Returns:
        (H, W) float32 in [0, 1].
    """
    width, height = size
    short = min(width, height)
    work = working_size(size, layer["cell_frac"] * short)
    cell = width / work[0]  # the cell actually used, in image pixels
    length = max(1.0, layer["length_frac"] * short / cell)
    kernel = line_kernel(length, layer["angle_deg"])
    margin = kernel.shape[0] // 2 + 2  # noise beyond the border streaks into the image, as on a larger canvas
    rng = seeds.rng(layer["noise_seed"])
    noise = rng.random((work[1] + 2 * margin, work[0] + 2 * margin), dtype=np.float32)
    noise = cv2.GaussianBlur(noise, (3, 3), NOISE_BLUR_SIGMA, borderType=cv2.BORDER_REFLECT)
    dots = levels(noise, layer["density_black"], layer["density_white"])
    streaks = cv2.filter2D(dots, -1, kernel, borderType=cv2.BORDER_REFLECT)
    streaks = levels(streaks[margin:-margin, margin:-margin], layer["contrast_black"], layer["contrast_white"])
    if work != (width, height):
        streaks = cv2.resize(streaks, (width, height), interpolation=cv2.INTER_LINEAR)
    return streaks


def streaks(size: tuple[int, int], params: dict) -> np.ndarray:
    """All layers of ``params`` screened together: ``S = 1 - prod(1 - o_k * S_k)``.

    Returns:
        (H, W) uint8, the streak layer as stored (rounded to 8 bits).
    """
    keep = None  # running prod(1 - o_k S_k)
    for layer in params["layers"]:
        s = streak_layer(size, layer)
        term = 1.0 - np.float32(layer["opacity"]) * s
        keep = term if keep is None else keep * term
    return cv2.convertScaleAbs(keep, alpha=-255.0, beta=255.0)


def screen_blend(background: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """Screen ``layer`` (H, W) uint8 onto ``background`` (H, W, 3) uint8: ``255 - (255-B)(255-S)/255``.

    Computed from the stored 8-bit layer so that the pair (target, streaks) reproduces the input
    exactly; the result is never darker than the background.
    """
    if background.ndim != 3 or background.shape[2] != 3 or background.dtype != np.uint8:
        raise ValueError(f"background must be (H, W, 3) uint8, got shape {background.shape} dtype {background.dtype}")
    if layer.shape != background.shape[:2] or layer.dtype != np.uint8:
        raise ValueError(f"layer must be (H, W) uint8 matching {background.shape[:2]}, got {layer.shape} {layer.dtype}")
    inv_b = cv2.bitwise_not(background)
    inv_s = cv2.cvtColor(cv2.bitwise_not(layer), cv2.COLOR_GRAY2RGB)
    return cv2.bitwise_not(cv2.multiply(inv_b, inv_s, scale=1.0 / 255.0))


def add_rain(background: np.ndarray, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """Rain on ``background`` (H, W, 3) uint8: returns ``(input (H, W, 3), streaks (H, W))``, uint8."""
    height, width = background.shape[:2]
    layer = streaks((width, height), params)
    return screen_blend(background, layer), layer
