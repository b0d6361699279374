import numpy as np
import pytest

from uhr4k.synth.haze import add_haze, depth_from_disparity, motorcycle_with_depth


def test_depth_is_focal_times_baseline_over_disparity_with_holes_filled():
    disp = np.array([[10.0, 20.0, np.nan], [np.inf, 40.0, 40.0]])
    depth = depth_from_disparity(disp, focal_px=100.0, baseline_m=0.2, doffs_px=10.0)
    # the NaN takes its nearest valid neighbour (20 or 40 at equal distance: either is a valid fill)
    np.testing.assert_allclose(depth[0, :2], [1.0, 20 / 30], rtol=1e-6)
    np.testing.assert_allclose(depth[1, 1:], [0.4, 0.4], rtol=1e-6)
    assert np.isfinite(depth).all() and depth[1, 0] in (np.float32(1.0), np.float32(0.4))


def test_haze_follows_the_scattering_model():
    clear = np.full((4, 4, 3), 0.4, np.float32)
    depth = np.zeros((4, 4), np.float32)
    depth[:, 2:] = 1.0
    hazy = add_haze(clear, depth, beta=np.log(2.0), airlight=(1.0, 1.0, 1.0))
    np.testing.assert_allclose(hazy[:, :2], 0.4)                 # depth 0: t = 1, the scene itself
    np.testing.assert_allclose(hazy[:, 2:], 0.5 * 0.4 + 0.5, rtol=1e-6)  # t = 1/2: halfway to the airlight
    with pytest.raises(ValueError, match="does not match"):
        add_haze(clear, depth[:3], 1.0, 1.0)


def test_motorcycle_depth_is_plausible_metres():
    photo, depth = motorcycle_with_depth()
    assert photo.shape[:2] == depth.shape and photo.dtype == np.uint8
    assert 1.0 < np.median(depth) < 5.0 and np.isfinite(depth).all()  # an indoor scene a few metres deep
