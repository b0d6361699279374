import cv2
import numpy as np

from uhr4k.align.gates import GateSettings, geometry_failure, perspective_strength, quality_flags

W = 640
GOOD = dict(inliers=500, inlier_ratio=0.8, rmse_px=0.2, zncc_before=0.7, zncc_after=0.95, valid_fraction=0.95)


def test_plausible_homography_passes():
    H = np.array([[1.01, 0.005, 3.0], [-0.004, 0.99, -5.0], [1e-6, 2e-6, 1.0]])
    assert geometry_failure(H, W, 400) is None
    assert quality_flags(H, W, 400, **GOOD) == []


def test_mirrored_homography_fails():
    mirror = np.array([[-1.0, 0, W - 1], [0, 1, 0], [0, 0, 1]])
    assert "mirrored" in geometry_failure(mirror, W, 400)


def test_folded_or_infinite_homography_fails():
    # a perspective term that sends the right part of the image beyond the horizon line
    horizon = np.array([[1.0, 0, 0], [0, 1, 0], [-0.002, 0, 1]])
    assert "horizon" in geometry_failure(horizon, W, 400)
    # two corners swapped: a self-crossing quadrilateral
    src = np.float32([[0, 0], [W - 1, 0], [W - 1, 399], [0, 399]])
    dst = np.float32([[0, 0], [W - 1, 0], [0, 399], [W - 1, 399]])
    fold = cv2.getPerspectiveTransform(src, dst)
    assert "degenerate" in (geometry_failure(fold, W, 400) or "")
    assert "degenerate" in geometry_failure(np.diag([0.01, 0.01, 1.0]), W, 400)
    assert "not finite" in geometry_failure(np.full((3, 3), np.nan), W, 400)


def test_each_quality_problem_flags_with_its_value():
    H = np.eye(3)
    assert "residual 2.50 px" in quality_flags(H, W, 400, **{**GOOD, "rmse_px": 2.5})[0]
    assert "inlier ratio 0.05" in quality_flags(H, W, 400, **{**GOOD, "inlier_ratio": 0.05})[0]
    assert "correlation after alignment 0.20" in quality_flags(H, W, 400, **{**GOOD, "zncc_after": 0.2})[0]
    assert "lowers the correlation" in quality_flags(H, W, 400, **{**GOOD, "zncc_before": 0.99})[0]
    assert "valid area 30%" in quality_flags(H, W, 400, **{**GOOD, "valid_fraction": 0.3})[0]
    zoom = np.diag([1.5, 1.5, 1.0])
    assert "area changes by +125%" in quality_flags(zoom, W, 400, **GOOD)[0]
    tilt = np.array([[1, 0, 0], [0, 1, 0], [3e-4, 0, 1.0]])
    assert perspective_strength(tilt, W, 400) > GateSettings().max_perspective
    assert any("perspective" in f for f in quality_flags(tilt, W, 400, **GOOD))


def test_low_patch_agreement_flags_parallax():
    flags = quality_flags(np.eye(3), W, 400, **GOOD, agreement=0.55)
    assert len(flags) == 1 and "only 55% of the matched patches" in flags[0]
    assert quality_flags(np.eye(3), W, 400, **GOOD, agreement=0.97) == []
