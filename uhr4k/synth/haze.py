"""Haze by the atmospheric scattering model, from a clear photo and its depth.

``I = J * t + A * (1 - t)``, ``t = exp(-beta * d)`` (Koschmieder; the model the dark channel prior
inverts), in sRGB values in [0, 1] as the dehazing benchmarks do. Depth comes from a real measurement,
e.g. the disparity of a stereo pair (``d = f * b / disparity``, known up to scale: we normalise it).
"""
from __future__ import annotations

import numpy as np


def depth_from_disparity(disparity: np.ndarray, valid_min: float = 1.0) -> np.ndarray:
    """Relative depth in (0, 1] from a disparity map (H, W), larger disparity = nearer.

    Invalid disparities (below ``valid_min``, e.g. 0 for occlusions) take the farthest valid depth.
    """
    disp = np.asarray(disparity, dtype=np.float64)
    valid = disp >= valid_min
    if not valid.any():
        raise ValueError("disparity map has no valid pixel")
    depth = np.where(valid, 1.0 / np.maximum(disp, valid_min), 0.0)
    depth[~valid] = depth[valid].max()
    return (depth / depth.max()).astype(np.float32)


def add_haze(clear: np.ndarray, depth: np.ndarray, beta: float, airlight: tuple[float, float, float]
             ) -> np.ndarray:
    """Hazy version of ``clear``.

    Args:
        clear: (H, W, 3) uint8 RGB, the haze-free scene ``J``.
        depth: (H, W) relative depth in [0, 1].
        beta: scattering coefficient per unit of relative depth (1-3 gives light to dense haze).
        airlight: atmospheric light ``A`` per channel, in [0, 1].
    Returns:
        (H, W, 3) uint8 RGB.
    """
    if clear.ndim != 3 or clear.shape[2] != 3 or clear.dtype != np.uint8:
        raise ValueError(f"expected (H, W, 3) uint8, got shape {clear.shape} dtype {clear.dtype}")
    if depth.shape != clear.shape[:2]:
        raise ValueError(f"depth shape {depth.shape} does not match image shape {clear.shape[:2]}")
    t = np.exp(-float(beta) * depth.astype(np.float32))[..., None]
    hazy = clear.astype(np.float32) / 255.0 * t + np.asarray(airlight, np.float32) * (1.0 - t)
    return np.clip(np.floor(hazy * 255.0 + 0.5), 0, 255).astype(np.uint8)
