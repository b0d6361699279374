"""Haze by the atmospheric scattering model, from a clear photo and its real depth.

``I = J * t + A * (1 - t)``, ``t = exp(-beta * d)`` (Koschmieder; the model the dark channel prior
inverts), on sRGB values in [0, 1] as the dehazing benchmarks do. Depth comes from a real measurement:
the disparity of a calibrated stereo pair, ``d = f * b / (disparity + doffs)``.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

# Middlebury 2014 "Motorcycle" as scikit-image ships it (downsampled): focal length in px, baseline in
# metres, principal-point offset in px (from scikit-image's docstring of stereo_motorcycle).
MOTORCYCLE_CALIBRATION = (994.978, 0.193001, 31.086)


def depth_from_disparity(disparity: np.ndarray, focal_px: float, baseline_m: float, doffs_px: float = 0.0
                         ) -> np.ndarray:
    """Metric depth (H, W) float32 in metres from a disparity map (H, W) in px.

    Pixels without a disparity (NaN or inf, occlusions) take the value of their nearest valid pixel.
    """
    disparity = np.asarray(disparity, dtype=np.float64)
    valid = np.isfinite(disparity)
    if not valid.any():
        raise ValueError("disparity map has no valid pixel")
    nearest = ndimage.distance_transform_edt(~valid, return_distances=False, return_indices=True)
    filled = disparity[tuple(nearest)]
    return (focal_px * baseline_m / (filled + doffs_px)).astype(np.float32)


def motorcycle_with_depth() -> tuple[np.ndarray, np.ndarray]:
    """The Middlebury motorcycle photo (H, W, 3) uint8 and its depth (H, W) in metres (scikit-image ships both)."""
    from skimage.data import stereo_motorcycle

    left, _, disparity = stereo_motorcycle()
    return left, depth_from_disparity(disparity, *MOTORCYCLE_CALIBRATION)


def add_haze(clear: np.ndarray, depth: np.ndarray, beta: float, airlight) -> np.ndarray:
    """Hazy version of ``clear``.

    Args:
        clear: (H, W, 3) float in [0, 1], the haze-free scene ``J``.
        depth: (H, W) depth, in the unit ``beta`` is per (metres for :func:`depth_from_disparity`).
        beta: scattering coefficient per unit of depth.
        airlight: atmospheric light ``A``, a scalar or one value per channel, in [0, 1].
    Returns:
        (H, W, 3) float32 in [0, 1].
    """
    if clear.ndim != 3 or clear.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3), got shape {clear.shape}")
    if depth.shape != clear.shape[:2]:
        raise ValueError(f"depth shape {depth.shape} does not match image shape {clear.shape[:2]}")
    t = np.exp(-float(beta) * depth.astype(np.float32))[..., None]
    return (clear.astype(np.float32) * t + np.asarray(airlight, np.float32) * (1.0 - t)).astype(np.float32)
