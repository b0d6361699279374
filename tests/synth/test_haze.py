import numpy as np
import pytest

from uhr4k.synth.haze import add_haze, depth_from_disparity


def test_depth_is_inverse_disparity_normalised():
    disp = np.array([[10.0, 20.0], [0.0, 40.0]])
    depth = depth_from_disparity(disp)
    # depth proportional to 1 / disparity, the farthest valid pixel at 1, invalid pixels at the farthest
    np.testing.assert_allclose(depth, [[1.0, 0.5], [1.0, 0.25]])


def test_haze_follows_the_scattering_model():
    clear = np.full((4, 4, 3), 100, np.uint8)
    depth = np.zeros((4, 4), np.float32)
    depth[:, 2:] = 1.0
    hazy = add_haze(clear, depth, beta=np.log(2.0), airlight=(1.0, 1.0, 1.0))
    assert (hazy[:, :2] == 100).all()                    # depth 0: t = 1, the scene itself
    assert (hazy[:, 2:] == round(100 * 0.5 + 255 * 0.5)).all()  # t = 1/2: halfway to the airlight
    with pytest.raises(ValueError, match="does not match"):
        add_haze(clear, depth[:3], 1.0, (1, 1, 1))
