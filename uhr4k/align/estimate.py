"""Homography between a through-glass photo and the same scene without glass.

Convention everywhere in ``uhr4k.align``: ``H`` (3, 3) float64 maps *through-glass* pixel coordinates
``(x, y, 1)`` to *background* (no-glass) pixel coordinates, at full resolution, normalised so that
``H[2, 2] == 1``. Pixel centres are at integer coordinates (OpenCV's convention).

The recipe (docs/paper.md, "Aligning real glass / no-glass pairs"):

1. ORB at a working size of about ``work_megapixels`` (1.5 MP), many features kept spread over a grid
   so that no textured corner of the image dominates the fit;
2. Lowe ratio test and a mutual (cross) check, which also removes many-to-one matches;
3. ``cv2.USAC_MAGSAC`` at the working scale, lifted to full resolution with ``S^-1 H S``;
4. guided re-matching at full resolution: around up to ``refine_points`` well-spread inliers, a patch of
   the background is matched (zero-normalised cross-correlation, sub-pixel peak) against the through-glass
   photo warped by the current ``H``; the homography is refitted on those sub-pixel correspondences and the
   loop repeats, so that the residual shifts (and the peak-interpolation bias) go to zero;
5. inliers and reprojection error recomputed here, never taken from OpenCV's mask (OpenCV issue 25546).

All functions are pure: images in, numbers out; randomness only inside OpenCV's estimators, seeded with
``cv2.setRNGSeed`` before each estimation so that results do not depend on workers or order.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from uhr4k.core.images import from_float, to_float

__all__ = [
    "EstimateSettings", "Estimate", "EstimationError", "to_gray", "detect_orb", "match_descriptors",
    "estimate_homography", "plain_recipe_homography", "refine_guided", "refine_ecc", "transfer",
    "corner_error", "scale_homography", "resize_matrix", "normalize_homography",
]


class EstimationError(Exception):
    """No usable homography: too few features, matches or inliers. The message is the one-line reason."""


@dataclass(frozen=True)
class EstimateSettings:
    """Parameters of :func:`estimate_homography` (pixel units are full-resolution unless named ``coarse``)."""

    work_megapixels: float = 1.5      # ORB works at about this many pixels (scale-aware feature search)
    n_features: int = 4000            # ORB keypoints kept at the working size (fewer for smaller images)
    min_features_kept: int = 3000     # ... but never fewer than this (strong viewpoint changes need many)
    grid: tuple[int, int] = (16, 9)   # cells (x, y) over which keypoints are spread
    ratio: float = 0.8                # Lowe ratio test
    magsac_threshold_coarse: float = 1.5  # px at the working size
    min_features: int = 100           # fewer keypoints in either image: textureless, fail
    min_matches: int = 30             # fewer mutual ratio-test matches: fail
    inlier_threshold: float = 3.0     # px at full resolution, for our own inlier count
    refine_points: int = 600          # patches used by guided re-matching (0 turns it off)
    patch_radius: int = 20            # patch is (2r+1)^2 px, full resolution
    search_radius: int = 6            # px searched around the first prediction
    search_radius_after: int = 2      # px searched in later iterations (the first one leaves < 1 px)
    min_patch_score: float = 0.6      # ZNCC peak below this: the patch is not used
    refine_iterations: int = 3
    min_refined: int = 24             # fewer usable patches: keep the feature estimate
    seed: int = 0


@dataclass
class Estimate:
    """Result of an estimation; ``H`` maps through-glass to background pixels (full resolution)."""

    H: np.ndarray
    matches: int                # mutual ratio-test matches
    inliers: int                # matches within ``inlier_threshold`` of the final H (recounted here)
    inlier_ratio: float
    rmse_px: float              # RMS reprojection error of the correspondences the final H was fitted on
    refined_points: int = 0     # sub-pixel patch correspondences used (0: feature estimate only)
    agreement: float = float("nan")  # of the well-matched patches, the fraction within 1 px of the final H
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------ helpers


def to_gray(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB uint8/uint16 (or (H, W)) -> (H, W) float32 luma in [0, 1]."""
    if img.ndim == 3 and img.shape[2] == 3:
        return cv2.cvtColor(to_float(img), cv2.COLOR_RGB2GRAY)
    if img.ndim == 2:
        return to_float(img) if img.dtype in (np.uint8, np.uint16) else img.astype(np.float32)
    raise ValueError(f"expected (H, W, 3) or (H, W) image, got shape {img.shape}")


def normalize_homography(H: np.ndarray) -> np.ndarray:
    H = np.asarray(H, dtype=np.float64)
    if H.shape != (3, 3):
        raise ValueError(f"expected a (3, 3) homography, got shape {H.shape}")
    return H / H[2, 2]


def scale_homography(H: np.ndarray, sx: float, sy: float | None = None) -> np.ndarray:
    """The homography ``H`` expressed after both images are resized by (sx, sy): ``S H S^-1``.

    With pixel centres at integers, a resize by ``s`` maps ``x -> s (x + 0.5) - 0.5``; the half-pixel
    terms matter at the sub-pixel accuracy we want, so ``S`` includes them.
    """
    S = resize_matrix(sx, sx if sy is None else sy)
    return normalize_homography(S @ H @ np.linalg.inv(S))


def resize_matrix(sx: float, sy: float) -> np.ndarray:
    """(3, 3) map of pixel coordinates under a resize by (sx, sy), pixel centres at integers."""
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]], dtype=np.float64)


def transfer(H: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply ``H`` to (N, 2) points; returns (N, 2) float64.

    ``cv2.perspectiveTransform`` in float64: about 15x faster than the numpy expression for the million
    points of the re-matching windows (a point on the horizon line, w == 0, maps to (0, 0)).
    """
    pts = np.ascontiguousarray(np.asarray(pts, dtype=np.float64).reshape(-1, 1, 2))
    if len(pts) == 0:
        return np.zeros((0, 2), np.float64)
    return cv2.perspectiveTransform(pts, np.asarray(H, dtype=np.float64)).reshape(-1, 2)


def corner_error(H_est: np.ndarray, H_true: np.ndarray, width: int, height: int) -> float:
    """Mean distance (px) between the four image corners mapped by ``H_est`` and by ``H_true``."""
    corners = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float64)
    return float(np.linalg.norm(transfer(H_est, corners) - transfer(H_true, corners), axis=1).mean())


def _working_image(gray: np.ndarray, scale: float) -> np.ndarray:
    """Gray float [0, 1] -> uint8 at ``scale`` (area averaging, which also suppresses noise)."""
    if scale < 1.0:
        h, w = gray.shape
        gray = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return from_float(gray)


# ------------------------------------------------------------------------------------ features


def detect_orb(img_u8: np.ndarray, n_features: int, grid: tuple[int, int] = (16, 9)
               ) -> tuple[np.ndarray, np.ndarray]:
    """ORB keypoints spread over a grid, and their descriptors.

    Detects three times ``n_features`` candidates, then keeps the strongest ``n_features / cells`` per
    grid cell (cells left short leave their quota to the strongest remaining candidates elsewhere).

    Args:
        img_u8: (H, W) uint8.
    Returns:
        points (N, 2) float32 (x, y) and descriptors (N, 32) uint8.
    """
    if img_u8.ndim != 2 or img_u8.dtype != np.uint8:
        raise ValueError(f"expected (H, W) uint8, got shape {img_u8.shape} dtype {img_u8.dtype}")
    orb = cv2.ORB_create(nfeatures=3 * n_features, scaleFactor=1.2, nlevels=8, fastThreshold=8)
    keypoints = orb.detect(img_u8, None)
    if not keypoints:
        return np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
    xy = np.array([k.pt for k in keypoints], dtype=np.float32)
    response = np.array([k.response for k in keypoints], dtype=np.float32)
    h, w = img_u8.shape
    gx, gy = grid
    cell = (np.minimum(xy[:, 0] * gx / w, gx - 1).astype(int) * gy
            + np.minimum(xy[:, 1] * gy / h, gy - 1).astype(int))
    # rank of each keypoint inside its cell, strongest first (stable sort: deterministic)
    order = np.lexsort((-response, cell))
    sorted_cell = cell[order]
    starts = np.searchsorted(sorted_cell, sorted_cell, side="left")
    rank = np.empty(len(order), dtype=int)
    rank[order] = np.arange(len(order)) - starts
    quota = max(1, n_features // (gx * gy))
    keep = rank < quota
    if keep.sum() < n_features:
        rest = np.flatnonzero(~keep)
        rest = rest[np.argsort(-response[rest], kind="stable")][: n_features - keep.sum()]
        keep[rest] = True
    chosen = [keypoints[i] for i in np.flatnonzero(keep)]
    chosen, desc = orb.compute(img_u8, chosen)
    if desc is None or not chosen:
        return np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
    return np.array([k.pt for k in chosen], dtype=np.float32), desc


def match_descriptors(desc_a: np.ndarray, desc_b: np.ndarray, ratio: float = 0.8) -> np.ndarray:
    """Ratio-test matches from ``a`` to ``b`` that are also the best match from ``b`` back to ``a``.

    The mutual check also removes many-to-one matches (two points of ``a`` on one point of ``b``).

    Returns:
        (M, 2) int array of index pairs (i in a, j in b).
    """
    if len(desc_a) < 2 or len(desc_b) < 2:
        return np.zeros((0, 2), dtype=int)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    forward = [m for m in matcher.knnMatch(desc_a, desc_b, k=2)
               if len(m) == 2 and m[0].distance < ratio * m[1].distance]
    if not forward:
        return np.zeros((0, 2), dtype=int)
    # the mutual check needs the best match back only for the points of b that were matched
    # (a third of the cost of matching all of b back)
    claimed = np.unique([m[0].trainIdx for m in forward])
    best_back = np.full(len(desc_b), -1, dtype=int)
    for m in matcher.match(desc_b[claimed], desc_a):
        best_back[claimed[m.queryIdx]] = m.trainIdx
    pairs = [(m[0].queryIdx, m[0].trainIdx) for m in forward if best_back[m[0].trainIdx] == m[0].queryIdx]
    return np.array(pairs, dtype=int).reshape(-1, 2)


def _magsac(src: np.ndarray, dst: np.ndarray, threshold: float, seed: int) -> np.ndarray | None:
    cv2.setRNGSeed(seed)
    H, _ = cv2.findHomography(src.astype(np.float64), dst.astype(np.float64), cv2.USAC_MAGSAC,
                              ransacReprojThreshold=threshold, maxIters=10000, confidence=0.9999)
    if H is None or not np.all(np.isfinite(H)) or abs(H[2, 2]) < 1e-12:
        return None
    return normalize_homography(H)


def _residuals(H: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    return np.linalg.norm(transfer(H, src) - dst, axis=1)


# ------------------------------------------------------------------------------------ estimation


def estimate_homography(glass: np.ndarray, background: np.ndarray, settings: EstimateSettings = EstimateSettings()
                        ) -> Estimate:
    """Homography from the through-glass photo to the background photo (full resolution).

    Args:
        glass, background: (H, W, 3) RGB uint8/uint16 or (H, W) float gray in [0, 1]; sizes may differ.
    Raises:
        EstimationError: too few features, matches or inliers (the message says which and how many).
    """
    gray_g = glass if glass.ndim == 2 and glass.dtype == np.float32 else to_gray(glass)
    gray_b = background if background.ndim == 2 and background.dtype == np.float32 else to_gray(background)
    hg, wg = gray_g.shape
    hb, wb = gray_b.shape
    scale = min(1.0, float(np.sqrt(settings.work_megapixels * 1e6 / max(hg * wg, hb * wb))))
    small_g, small_b = _working_image(gray_g, scale), _working_image(gray_b, scale)
    # the actual per-axis factors after rounding the working size
    sg = (small_g.shape[1] / wg, small_g.shape[0] / hg)
    sb = (small_b.shape[1] / wb, small_b.shape[0] / hb)
    # scale-aware: the same density of features at 0.3 MP as at the full working size
    area = max(small_g.size, small_b.size) / (settings.work_megapixels * 1e6)
    n_features = max(settings.min_features_kept, round(settings.n_features * min(1.0, area)))
    pts_g, desc_g = detect_orb(small_g, n_features, settings.grid)
    pts_b, desc_b = detect_orb(small_b, n_features, settings.grid)
    fewest = min(len(pts_g), len(pts_b))
    if fewest < settings.min_features:
        which = "through-glass" if len(pts_g) < len(pts_b) else "background"
        raise EstimationError(f"too few features ({fewest} in the {which} photo; textureless?)")
    pairs = match_descriptors(desc_g, desc_b, settings.ratio)
    if len(pairs) < settings.min_matches:
        raise EstimationError(f"too few matches ({len(pairs)} < {settings.min_matches}; unrelated photos?)")
    # full-resolution coordinates of the matches (inverse of the resize's centre-aligned mapping)
    coarse_src = pts_g[pairs[:, 0]].astype(np.float64)
    coarse_dst = pts_b[pairs[:, 1]].astype(np.float64)
    src = transfer(np.linalg.inv(resize_matrix(*sg)), coarse_src)
    dst = transfer(np.linalg.inv(resize_matrix(*sb)), coarse_dst)
    H_small = _magsac(coarse_src, coarse_dst, settings.magsac_threshold_coarse, settings.seed)
    if H_small is None:
        raise EstimationError(f"no homography found from {len(pairs)} matches")
    # lift: full -> small (glass), H_small, small -> full (background)
    S_g, S_b = resize_matrix(*sg), resize_matrix(*sb)
    H = normalize_homography(np.linalg.inv(S_b) @ H_small @ S_g)
    # our own inlier count at full resolution (the threshold scales with the working size)
    coarse_thr = settings.magsac_threshold_coarse / min(sg + sb)
    inl = _residuals(H, src, dst) < max(settings.inlier_threshold, coarse_thr)
    if inl.sum() < settings.min_matches:
        raise EstimationError(f"too few inliers ({int(inl.sum())} of {len(pairs)} matches)")
    # least squares on the inliers removes MAGSAC's sampling noise before the sub-pixel stage
    H_ls, _ = cv2.findHomography(src[inl], dst[inl], 0)
    if H_ls is not None and np.all(np.isfinite(H_ls)):
        H = normalize_homography(H_ls)
    result_rmse = float(np.sqrt(np.mean(_residuals(H, src[inl], dst[inl]) ** 2)))
    notes: list[str] = []
    refined, agreement = 0, float("nan")
    if settings.refine_points > 0:
        try:
            # anchors: every background keypoint (textured, spread over the grid), not only the feature
            # inliers, so that a second depth plane gets patches too and shows up as disagreement
            anchors = transfer(np.linalg.inv(S_b), pts_b.astype(np.float64))
            H, result_rmse, refined, agreement = refine_guided(gray_g, gray_b, H, anchors, settings)
        except EstimationError as exc:
            notes.append(f"guided re-matching skipped: {exc}")
    inl = _residuals(H, src, dst) < settings.inlier_threshold
    return Estimate(H=H, matches=len(pairs), inliers=int(inl.sum()), inlier_ratio=float(inl.mean()),
                    rmse_px=result_rmse, refined_points=refined, agreement=agreement, notes=notes)


def _spread_points(points: np.ndarray, n: int, width: int, height: int, margin: int) -> np.ndarray:
    """Up to ``n`` of ``points`` (N, 2), at least ``margin`` px inside the image, spread over a grid."""
    inside = ((points[:, 0] >= margin) & (points[:, 0] < width - margin)
              & (points[:, 1] >= margin) & (points[:, 1] < height - margin))
    points = points[inside]
    if len(points) <= n:
        return points
    cells = max(1, int(np.sqrt(n)))
    cell = (np.minimum(points[:, 0] * cells / width, cells - 1).astype(int) * cells
            + np.minimum(points[:, 1] * cells / height, cells - 1).astype(int))
    # round-robin over cells: the k-th point of every cell before the (k+1)-th of any
    order = np.argsort(cell, kind="stable")
    sorted_cell = cell[order]
    rank = np.arange(len(order)) - np.searchsorted(sorted_cell, sorted_cell, side="left")
    chosen = order[np.lexsort((sorted_cell, rank))][:n]
    return points[np.sort(chosen)]


def refine_guided(gray_g: np.ndarray, gray_b: np.ndarray, H: np.ndarray, anchors_b: np.ndarray,
                  settings: EstimateSettings = EstimateSettings()) -> tuple[np.ndarray, float, int, float]:
    """Guided re-matching at full resolution (see the module docstring, step 4).

    Args:
        gray_g, gray_b: (H, W) float32 gray of the through-glass and the background photo.
        H: (3, 3) current estimate, through-glass -> background.
        anchors_b: (N, 2) background points where texture is known to exist (keypoints).
    Returns:
        (H refined, RMS residual px of the correspondences within 3 px, number of correspondences within
        1 px, their fraction of all well-matched patches). Parallax shows as a low fraction (a second
        plane's patches disagree by more than a pixel) or as a large residual.
    Raises:
        EstimationError: fewer than ``settings.min_refined`` usable patches.
    """
    r = settings.patch_radius
    hb, wb = gray_b.shape
    centres = np.round(_spread_points(anchors_b, settings.refine_points, wb, hb, r + 1)).astype(int)
    templates = np.stack([gray_b[cy - r: cy + r + 1, cx - r: cx + r + 1] for cx, cy in centres]) \
        if len(centres) else np.zeros((0, 2 * r + 1, 2 * r + 1), np.float32)
    textured = templates.reshape(len(centres), -1).std(axis=1) > 1e-3
    centres, templates = centres[textured], templates[textured]
    rmse, used, agreement = float("nan"), 0, float("nan")
    for iteration in range(settings.refine_iterations):
        s = settings.search_radius if iteration == 0 else settings.search_radius_after
        side = 2 * (r + s) + 1
        # background-grid offsets of one search window, shared by all windows
        offsets = np.stack(np.meshgrid(np.arange(side) - r - s, np.arange(side) - r - s), axis=-1).reshape(-1, 2)
        H_inv = np.linalg.inv(H)
        # every search window of the through-glass photo resampled on the background grid in ONE remap
        grid_b = (centres[:, None, :] + offsets[None]).reshape(-1, 2)
        grid_g = transfer(H_inv, grid_b).astype(np.float32).reshape(len(centres) * side, side, 2)
        windows = cv2.remap(gray_g, grid_g[..., 0], grid_g[..., 1], cv2.INTER_CUBIC,
                            borderMode=cv2.BORDER_REPLICATE).reshape(len(centres), side, side)
        src, dst = [], []
        for (cx, cy), window, template in zip(centres, windows, templates, strict=True):
            score = cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED)
            iy, ix = np.unravel_index(int(np.argmax(score)), score.shape)
            if score[iy, ix] < settings.min_patch_score or ix in (0, 2 * s) or iy in (0, 2 * s):
                continue
            dx = _parabola_peak(score[iy, ix - 1], score[iy, ix], score[iy, ix + 1])
            dy = _parabola_peak(score[iy - 1, ix], score[iy, ix], score[iy + 1, ix])
            if dx is None or dy is None:
                continue
            # background (cx, cy) shows what the warped glass shows at (cx, cy) + d
            src.append((cx + ix - s + dx, cy + iy - s + dy))
            dst.append((cx, cy))
        if len(src) >= settings.min_refined:
            src = transfer(H_inv, np.array(src))
        if len(src) < settings.min_refined:
            raise EstimationError(f"only {len(src)} usable patches at full resolution")
        dst = np.array(dst, dtype=np.float64)
        H_new = _magsac(src, dst, 1.0, settings.seed)
        if H_new is None:
            raise EstimationError("no homography fits the full-resolution patches")
        keep = _residuals(H_new, src, dst) < 1.0
        if keep.sum() < settings.min_refined:
            raise EstimationError(f"only {int(keep.sum())} consistent patches at full resolution")
        H_ls, _ = cv2.findHomography(src[keep], dst[keep], 0)
        if H_ls is None or not np.all(np.isfinite(H_ls)):
            raise EstimationError("least-squares fit of the patches failed")
        H = normalize_homography(H_ls)
        # the RMSE over all patches that matched well: parallax shows here as a large value
        res = _residuals(H, src, dst)
        rmse = float(np.sqrt(np.mean(res[res < 3.0] ** 2))) if (res < 3.0).any() else float("inf")
        if iteration == 0:
            # the wide first search finds patches of every depth; later narrow searches only those near
            # the fitted plane, so agreement is measured against the first count
            matched_wide = len(src)
        used, agreement = int(keep.sum()), min(1.0, float(keep.sum()) / matched_wide)
    return H, rmse, used, agreement


def _parabola_peak(left: float, centre: float, right: float) -> float | None:
    """Sub-pixel offset in (-0.5, 0.5) of the maximum of a parabola through three samples."""
    denom = left - 2.0 * centre + right
    if denom >= 0:
        return None
    offset = 0.5 * (left - right) / denom
    return float(offset) if abs(offset) < 0.5 + 1e-9 else None


# ------------------------------------------------------------------------------------ ECC refinement


def refine_ecc(gray_g: np.ndarray, gray_b: np.ndarray, H: np.ndarray, *, levels: tuple[float, ...] = (0.25, 0.5, 1.0),
               iterations: tuple[int, ...] = (50, 25, 8), max_change_px: float = 3.0,
               band_pass: bool = True) -> tuple[np.ndarray, str]:
    """ECC (``cv2.findTransformECC``, MOTION_HOMOGRAPHY) coarse to fine, starting from ``H``.

    ECC's photometric model is a gain and an offset; the added reflection of a pane is neither, and pulls
    plain ECC off by about half a pixel at 4K (docs/benchmarks.md). That reflection is out of focus, so with
    ``band_pass`` both images first go through a difference of Gaussians (sigma 1 px and 0.18 % of the
    diagonal, at least 4 px) that keeps the scene's detail and drops the reflection. ECC raises when it
    does not converge, and may wander off on weakly textured pairs: in both cases the input ``H`` is
    returned with a note.

    Args:
        gray_g, gray_b: (H, W) float32 gray; H: (3, 3) through-glass -> background.
    Returns:
        (H, note) with note "" on success.
    """
    H0 = normalize_homography(H)
    hb, wb = gray_b.shape
    if band_pass:
        wide = max(4.0, 0.0018 * float(np.hypot(wb, hb)))
        gray_g, gray_b = (cv2.GaussianBlur(x, (0, 0), 1.0) - cv2.GaussianBlur(x, (0, 0), wide)
                          for x in (gray_g, gray_b))
    # ECC's warp maps template (background) coordinates to input (glass) coordinates
    warp = np.linalg.inv(H0)
    for level, n_iter in zip(levels, iterations, strict=True):
        if level < 1.0:
            size_b = (max(8, round(wb * level)), max(8, round(hb * level)))
            size_g = (max(8, round(gray_g.shape[1] * level)), max(8, round(gray_g.shape[0] * level)))
            template = cv2.resize(gray_b, size_b, interpolation=cv2.INTER_AREA)
            moving = cv2.resize(gray_g, size_g, interpolation=cv2.INTER_AREA)
        else:
            template, moving = gray_b, gray_g
        sx_b, sy_b = template.shape[1] / wb, template.shape[0] / hb
        sx_g, sy_g = moving.shape[1] / gray_g.shape[1], moving.shape[0] / gray_g.shape[0]
        S_b, S_g = resize_matrix(sx_b, sy_b), resize_matrix(sx_g, sy_g)
        w_level = (S_g @ warp @ np.linalg.inv(S_b)).astype(np.float32)
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, n_iter, 1e-6)
        try:
            _, w_level = cv2.findTransformECC(template, moving, w_level, cv2.MOTION_HOMOGRAPHY, criteria, None, 5)
        except cv2.error as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "cv2.error"
            return H0, f"ECC did not converge at scale {level:g} ({reason[:80]}); kept the feature estimate"
        warp = np.linalg.inv(S_g) @ w_level.astype(np.float64) @ S_b
    H_ecc = normalize_homography(np.linalg.inv(warp))
    change = corner_error(H_ecc, H0, wb, hb)
    if not np.isfinite(change) or change > max_change_px:
        return H0, f"ECC moved the corners by {change:.1f} px (> {max_change_px:g}); kept the feature estimate"
    return H_ecc, ""


# ------------------------------------------------------------------------------------ the paper's recipe


def plain_recipe_homography(glass: np.ndarray, background: np.ndarray, n_features: int = 5000,
                            threshold: float = 3.0, seed: int = 0) -> np.ndarray:
    """The homography of :func:`paper_recipe_estimate` alone.

    Raises:
        EstimationError: too few matches or no homography.
    """
    return paper_recipe_estimate(glass, background, n_features, threshold, seed).H


def paper_recipe_estimate(glass: np.ndarray, background: np.ndarray, n_features: int = 5000,
                          threshold: float = 3.0, seed: int = 0) -> Estimate:
    """The paper's alignment (``uhr4k align --method paper``): ORB features (5000) at full resolution,
    brute-force Hamming matching with cross-check, ``cv2.RANSAC`` at ``threshold`` px; no ratio test,
    no grid, no refinement. Inliers and the RMS residual are recounted by our code on the returned H
    (the same ``threshold``), as for :func:`estimate_homography`.

    Raises:
        EstimationError: too few matches or no homography.
    """
    orb = cv2.ORB_create(nfeatures=n_features)
    to_u8 = lambda img: _working_image(to_gray(img), 1.0)  # noqa: E731
    kp_g, d_g = orb.detectAndCompute(to_u8(glass), None)
    kp_b, d_b = orb.detectAndCompute(to_u8(background), None)
    if d_g is None or d_b is None or len(kp_g) < 4 or len(kp_b) < 4:
        raise EstimationError("too few features")
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(d_g, d_b)
    if len(matches) < 4:
        raise EstimationError("too few matches")
    src = np.array([kp_g[m.queryIdx].pt for m in matches], dtype=np.float64)
    dst = np.array([kp_b[m.trainIdx].pt for m in matches], dtype=np.float64)
    cv2.setRNGSeed(seed)
    H, _ = cv2.findHomography(src, dst, cv2.RANSAC, threshold)
    if H is None or not np.all(np.isfinite(H)) or abs(H[2, 2]) < 1e-12:
        raise EstimationError("no homography found")
    H = normalize_homography(H)
    residuals = _residuals(H, src, dst)
    inl = residuals < threshold
    rmse = float(np.sqrt(np.mean(residuals[inl] ** 2))) if inl.any() else float("inf")
    return Estimate(H=H, matches=len(matches), inliers=int(inl.sum()), inlier_ratio=float(inl.mean()), rmse_px=rmse)
