import numpy as np
import pytest

from uhr4k.align.simulate import GlassParams, draw_glass_params, random_homography, simulate_glass_photo

from align_material import scene

CLEAN = GlassParams(gain=(1.0, 1.0, 1.0), reflection_weight=0.0, blur_sigma=0.0, noise_sigma=0.0, jpeg_quality=0)


def test_known_homography_is_what_the_glass_photo_shows():
    photo = scene("coffee", (400, 300))
    H = np.array([[1, 0, 7.0], [0, 1, -4.0], [0, 0, 1]])  # glass (x, y) shows background (x + 7, y - 4)
    glass, background = simulate_glass_photo(photo, H, CLEAN, np.random.default_rng(0), size=(360, 260))
    np.testing.assert_array_equal(background, photo[20:280, 20:380])
    np.testing.assert_array_equal(glass[10:250, 10:340], background[6:246, 17:347])


def test_pane_darkens_tints_and_is_deterministic():
    photo = scene("coffee", (400, 300))
    rng = np.random.default_rng(4)
    H = random_homography(400, 300, rng)
    params = draw_glass_params(rng)
    a, bg = simulate_glass_photo(photo, H, params, np.random.default_rng(9))
    b, _ = simulate_glass_photo(photo, H, params, np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)
    assert a.shape == bg.shape == photo.shape and a.dtype == np.uint8
    assert 0.75 * 0.94 <= min(params.gain) and max(params.gain) <= 0.95 * 1.06
    corners = np.array([[0, 0, 1], [399, 0, 1], [399, 299, 1], [0, 299, 1]], float) @ H.T
    shift = np.abs(corners[:, :2] / corners[:, 2:] - [[0, 0], [399, 0], [399, 299], [0, 299]])
    assert shift.max() <= 0.025 * 400 + 1e-9


def test_bad_scene_raises_with_shape():
    with pytest.raises(ValueError, match=r"\(10, 10\)"):
        simulate_glass_photo(np.zeros((10, 10), np.uint8), np.eye(3), CLEAN, np.random.default_rng(0))
    with pytest.raises(ValueError, match="smaller"):
        simulate_glass_photo(np.zeros((10, 10, 3), np.uint8), np.eye(3), CLEAN, np.random.default_rng(0), size=(20, 5))
