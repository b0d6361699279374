"""Reflection synthesis: the Zhang et al. 2018, Fan et al. 2017 (CEILNet) and screen (DSRNet) models.

Every function takes the clean background ``T`` as (H, W, 3) uint8 RGB at the output size and a
reflection photo ``R`` as (h, w, 3) uint8 RGB of any size, and returns ``(input, layer)``, both
(H, W, 3) uint8: the blended image and the reflection layer as actually added. The target of a pair
is ``T`` itself (never attenuated). Parameters are plain dicts of relative, size-free numbers (drawn
by :func:`draw_params`), so the same parameters give the same look at 960 x 540 and at 3840 x 2160.

Speed at 4K: the reflection is heavily blurred (sigma 8-40 px at 2160 lines), so it is band-limited
and is built at a reduced working resolution where sigma is about 2.5 px, then upsampled once with
bilinear interpolation; the attenuation statistics and the vignette are computed there too. Only the
final blend and the gamma encoding touch every full-resolution pixel, with OpenCV's SIMD kernels.
"""
from __future__ import annotations

import cv2
import numpy as np

from uhr4k.core.images import from_float_saturated, to_float
from uhr4k.synth.resize import cover_resize, gaussian_ksize, working_size

MODELS = ("zhang", "fan", "screen")
GAMMA = 2.2
# sigma of the reflection blur as a fraction of the short side: 8-40 px at 2160 lines (docs/paper.md),
# the same relative range as Zhang's 1-5 px on 224-480 px crops.
SIGMA_FRAC = (8 / 2160, 40 / 2160)
WORK_SIGMA_PX = 2.5  # blur sigma at the working resolution: enough samples per sigma for bilinear upsampling
VIGNETTE_SIGMA = 0.2  # of the mask side: Zhang's gkern(560, 3) is a Gaussian of sigma ~ 113 px = 0.2 * 560

LINEAR_LUT = ((np.arange(256, dtype=np.float64) / 255.0) ** GAMMA).astype(np.float32)


def draw_params(model: str, rng: np.random.Generator) -> dict:
    """Draw the parameters of one sample for ``model``; every value rounded to what is then used.

    Keys (all models): ``model``, ``sigma_frac`` (blur sigma / short side), ``crop`` ([fx, fy] of the
    reflection crop window). Zhang adds ``att`` in [1.08, 1.18], ``alpha2`` in (0.8, 1], ``mask_ratio``
    (vignette mask side / long image side) and ``mask_offset`` ([fx, fy] of the crop of that mask);
    screen adds ``a`` in [0.8, 1] and ``b`` in [0.4, 1].
    """
    if model not in MODELS:
        raise ValueError(f"reflection model must be one of {MODELS}, got {model!r}")
    r = lambda lo, hi: round(float(rng.uniform(lo, hi)), 6)  # noqa: E731
    params = {"model": model, "sigma_frac": r(*SIGMA_FRAC), "crop": [r(0, 1), r(0, 1)]}
    if model == "zhang":
        params.update(att=r(1.08, 1.18), alpha2=round(1.0 - float(rng.uniform(0, 0.2)), 6),
                      mask_ratio=r(1.2, 2.0), mask_offset=[r(0, 1), r(0, 1)])
    elif model == "screen":
        params.update(a=r(0.8, 1.0), b=r(0.4, 1.0))
    return params


def synthesize(background: np.ndarray, reflection: np.ndarray, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """Dispatch on ``params["model"]``: returns ``(input, layer)``, each (H, W, 3) uint8."""
    fn = {"zhang": zhang, "fan": fan, "screen": screen}.get(params.get("model"))
    if fn is None:
        raise ValueError(f"reflection model must be one of {MODELS}, got {params.get('model')!r}")
    return fn(background, reflection, params)


def to_linear(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 sRGB -> float32 linear light in [0, 1] (gamma 2.2, as Zhang et al.)."""
    return cv2.LUT(img, LINEAR_LUT)


def to_srgb8(linear: np.ndarray) -> np.ndarray:
    """float32 linear light >= 0 -> uint8 sRGB (gamma 1/2.2), rounded to nearest, saturated at 255.

    No explicit clip: ``convertScaleAbs`` saturates values above 1 to 255, and our inputs are never
    negative (every blend here is a sum of non-negative terms).
    """
    flat = _planar(linear)
    return from_float_saturated(cv2.pow(flat, 1.0 / GAMMA)).reshape(linear.shape)


def _planar(img: np.ndarray) -> np.ndarray:
    """(H, W, C) -> (H, W * C) view: OpenCV reads a Python scalar as (v, 0, 0, 0) on 3-channel
    arrays, so scalar arithmetic must see one channel."""
    return img.reshape(img.shape[0], -1)


def _check(background: np.ndarray, reflection: np.ndarray) -> None:
    for name, img in (("background", background), ("reflection", reflection)):
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(f"{name} must be (H, W, 3) uint8, got shape {img.shape} dtype {img.dtype}")


def _blurred_reflection(reflection: np.ndarray, size: tuple[int, int], params: dict, linear: bool
                        ) -> tuple[np.ndarray, tuple[int, int]]:
    """The reflection cropped to cover ``size``, blurred, at the working resolution.

    Returns:
        ((h, w, 3) float32 in [0, 1], (w, h) working size).
    """
    width, height = size
    sigma_px = params["sigma_frac"] * min(width, height)
    work = working_size(size, sigma_px / WORK_SIGMA_PX)
    sigma_work = sigma_px * work[0] / width
    src = to_linear(reflection) if linear else to_float(reflection)
    # INTER_AREA averages (the physically right thing in linear light); upscaling a small photo uses
    # bilinear, harmless under a blur of >= 2.5 working pixels
    small = cover_resize(src, work, tuple(params["crop"]),
                         interpolation=cv2.INTER_AREA if src.shape[1] >= work[0] else cv2.INTER_LINEAR)
    k = gaussian_ksize(sigma_work)
    return cv2.GaussianBlur(small, (k, k), sigma_work, borderType=cv2.BORDER_REFLECT), work


def _attenuate(r_small: np.ndarray, t_small: np.ndarray, strength: float) -> np.ndarray:
    """Per channel, subtract ``strength * (mean of (R + T) where it exceeds 1, minus 1)`` from R; clip."""
    total = r_small + t_small
    out = r_small.copy()
    for c in range(3):
        over = total[:, :, c] > 1.0
        if over.any():
            out[:, :, c] -= np.float32(strength * (float(total[:, :, c][over].mean()) - 1.0))
    return np.clip(out, 0.0, 1.0, out=out)


def _vignette(work: tuple[int, int], size: tuple[int, int], params: dict) -> np.ndarray:
    """Zhang's Gaussian vignette alpha1 (h, w) float32 in (0, 1]: a crop of a larger peak-1 mask."""
    (ww, wh), (width, height) = work, size
    side = params["mask_ratio"] * max(width, height) * ww / width  # mask side in working pixels
    sigma = VIGNETTE_SIGMA * side
    ox = params["mask_offset"][0] * (side - ww)
    oy = params["mask_offset"][1] * (side - wh)
    gx = np.exp(-((np.arange(ww) + 0.5 + ox - side / 2) ** 2) / (2 * sigma ** 2))
    gy = np.exp(-((np.arange(wh) + 0.5 + oy - side / 2) ** 2) / (2 * sigma ** 2))
    # floor far below one 8-bit step: float32 denormals would make every later OpenCV pass ~10x slower
    return np.maximum(np.outer(gy, gx), 1e-20).astype(np.float32)


def _upsample(small: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if small.shape[1] == size[0] and small.shape[0] == size[1]:
        return small
    return cv2.resize(small, size, interpolation=cv2.INTER_LINEAR)


def zhang(background: np.ndarray, reflection: np.ndarray, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """Zhang et al. 2018 in linear light: ``I = alpha1 * R' + alpha2 * T``.

    ``R'`` is the blurred reflection with the per-channel overflow attenuation (``att``); ``alpha1``
    the Gaussian vignette. The layer returned is ``alpha1 * R'`` gamma-encoded, so that, up to 8-bit
    rounding, ``lin(input) = lin(layer) + alpha2 * lin(target)`` (clipped at 1).
    """
    _check(background, reflection)
    height, width = background.shape[:2]
    r_small, work = _blurred_reflection(reflection, (width, height), params, linear=True)
    t_lin = to_linear(background)
    t_small = cv2.resize(t_lin, work, interpolation=cv2.INTER_AREA) if work != (width, height) else t_lin
    r_small = _attenuate(r_small, t_small, params["att"])
    layer_small = r_small * _vignette(work, (width, height), params)[:, :, None]
    layer = _upsample(layer_small, (width, height))
    blended = cv2.scaleAdd(t_lin, float(params["alpha2"]), layer)
    return to_srgb8(blended), to_srgb8(layer)


def fan(background: np.ndarray, reflection: np.ndarray, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """Fan et al. 2017 (CEILNet) in sRGB: ``I = T + R_blur``, R lowered by 1.3 x the mean overflow.

    The layer returned is exactly ``input - target`` (what survived the clipping at 255).
    """
    _check(background, reflection)
    height, width = background.shape[:2]
    r_small, work = _blurred_reflection(reflection, (width, height), params, linear=False)
    t_small = to_float(cv2.resize(background, work, interpolation=cv2.INTER_AREA))
    r_small = _attenuate(r_small, t_small, 1.3)
    layer8 = from_float_saturated(_upsample(r_small, (width, height)))
    blended = cv2.add(background, layer8)  # saturating
    return blended, cv2.subtract(blended, background)


def screen(background: np.ndarray, reflection: np.ndarray, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """Screen blend (DSRNet): ``I = aT + bR - aT * bR = 1 - (1 - aT)(1 - bR)``; never exceeds 1.

    The layer returned is ``b * R_blur`` in 8 bits; the input is computed from that stored layer.
    """
    _check(background, reflection)
    height, width = background.shape[:2]
    r_small, _ = _blurred_reflection(reflection, (width, height), params, linear=False)
    layer8 = from_float_saturated(_upsample(r_small, (width, height)), gain=params["b"])
    inv_t = cv2.addWeighted(background, -float(params["a"]), background, 0.0, 255.0, dtype=cv2.CV_32F)
    inv_r = cv2.subtract(255.0, _planar(layer8), dtype=cv2.CV_32F)
    product = cv2.multiply(_planar(inv_t), inv_r, scale=1.0 / 255.0)
    return cv2.convertScaleAbs(product, alpha=-1.0, beta=255.0).reshape(background.shape), layer8
