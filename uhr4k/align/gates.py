"""Sanity gates: is a homography plausible for a glass / no-glass pair, and is the aligned pair good?

Two verdicts: a homography that cannot be right (mirrored, folded, at infinity) makes a pair ``failed``;
one that is possible but suspicious (few inliers, a large residual from parallax, strong perspective,
low correlation after alignment, little valid area) makes it ``flagged`` for a person to look at.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uhr4k.align.estimate import transfer

__all__ = ["GateSettings", "geometry_failure", "quality_flags", "perspective_strength"]


@dataclass(frozen=True)
class GateSettings:
    min_inliers: int = 50             # fewer: failed (too few to trust a fit of 8 parameters)
    min_inlier_ratio: float = 0.15    # of the mutual matches; fewer: flagged
    max_rmse: float = 0.5             # px, full resolution; the residual of the sub-pixel fit: flagged
    min_agreement: float = 0.8        # fraction of well-matched patches within 1 px of the homography
    max_area_change: float = 0.3      # |warped area / image area - 1| above this: flagged
    max_perspective: float = 0.1      # |h20| W + |h21| H, the relative scale change across the image
    min_zncc: float = 0.5             # correlation of the aligned pair below this: flagged
    min_valid_fraction: float = 0.5   # valid crop smaller than this fraction of the image: flagged


def _corners(width: int, height: int) -> np.ndarray:
    return np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float64)


def perspective_strength(H: np.ndarray, width: int, height: int) -> float:
    """|h20| W + |h21| H of the normalised homography: 0 for an affine map."""
    H = np.asarray(H, np.float64) / H[2, 2]
    return float(abs(H[2, 0]) * width + abs(H[2, 1]) * height)


def geometry_failure(H: np.ndarray, width: int, height: int) -> str | None:
    """Why ``H`` (through-glass -> background) cannot describe a glass pair of this size, or None.

    Checks, in order: finite entries; no image point mapped to or beyond infinity (the horizon line
    ``h20 x + h21 y + h22 = 0`` must not cross the image); the warped corners keep their orientation
    (a mirror flips it) and form a convex quadrilateral (a fold makes it concave or self-crossing);
    the warped area is not collapsed.
    """
    H = np.asarray(H, dtype=np.float64)
    if H.shape != (3, 3) or not np.all(np.isfinite(H)) or H[2, 2] == 0:
        return "degenerate homography (not finite)"
    H = H / H[2, 2]
    corners = _corners(width, height)
    w = corners @ H[2, :2] + H[2, 2]
    if np.any(w <= 1e-6):
        return "degenerate homography (the image crosses the horizon line)"
    q = transfer(H, corners)
    edges = np.roll(q, -1, axis=0) - q
    cross = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    # image corners in (x right, y down) order turn the same way everywhere: all cross products > 0
    if np.all(cross < 0):
        return "mirrored homography (the warped image is flipped)"
    if not np.all(cross > 0):
        return "degenerate homography (warped corners are not convex)"
    area = 0.5 * abs(np.dot(q[:, 0], np.roll(q[:, 1], -1)) - np.dot(q[:, 1], np.roll(q[:, 0], -1)))
    if area < 0.01 * width * height:
        return f"degenerate homography (warped area is {area / (width * height):.1%} of the image)"
    return None


def quality_flags(H: np.ndarray, width: int, height: int, *, inliers: int, inlier_ratio: float, rmse_px: float,
                  zncc_before: float, zncc_after: float, valid_fraction: float, agreement: float = float("nan"),
                  settings: GateSettings = GateSettings()) -> list[str]:
    """Reasons to flag an otherwise usable pair (empty list: ok). Each reason states the value and the limit."""
    flags = []
    if inlier_ratio < settings.min_inlier_ratio:
        flags.append(f"inlier ratio {inlier_ratio:.2f} < {settings.min_inlier_ratio:g}")
    if not np.isfinite(rmse_px) or rmse_px > settings.max_rmse:
        flags.append(f"residual {rmse_px:.2f} px > {settings.max_rmse:g} px (parallax or a moving scene?)")
    if np.isfinite(agreement) and agreement < settings.min_agreement:
        flags.append(f"only {agreement:.0%} of the matched patches agree with one homography within 1 px "
                     f"(< {settings.min_agreement:.0%}; parallax?)")
    H = np.asarray(H, np.float64) / H[2, 2]
    q = transfer(H, _corners(width, height))
    area = 0.5 * abs(np.dot(q[:, 0], np.roll(q[:, 1], -1)) - np.dot(q[:, 1], np.roll(q[:, 0], -1)))
    change = area / ((width - 1) * (height - 1)) - 1.0
    if abs(change) > settings.max_area_change:
        flags.append(f"area changes by {change:+.0%} (limit {settings.max_area_change:.0%})")
    strength = perspective_strength(H, width, height)
    if strength > settings.max_perspective:
        flags.append(f"strong perspective {strength:.3f} > {settings.max_perspective:g}")
    if not np.isfinite(zncc_after) or zncc_after < settings.min_zncc:
        flags.append(f"correlation after alignment {zncc_after:.2f} < {settings.min_zncc:g}")
    elif np.isfinite(zncc_before) and zncc_after < zncc_before - 0.02:
        flags.append(f"alignment lowers the correlation ({zncc_before:.2f} -> {zncc_after:.2f})")
    if valid_fraction < settings.min_valid_fraction:
        flags.append(f"valid area {valid_fraction:.0%} of the image < {settings.min_valid_fraction:.0%}")
    return flags
