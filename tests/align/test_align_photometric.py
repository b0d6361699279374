import cv2
import numpy as np

from uhr4k.align.photometric import fit_gains, zncc

from align_material import scene


def test_zncc_is_one_under_gain_and_offset_and_near_zero_for_unrelated():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(50, 60))
    assert abs(zncc(a, 2.5 * a + 3.0) - 1.0) < 1e-12
    assert abs(zncc(a, rng.normal(size=(50, 60)))) < 0.05
    assert np.isnan(zncc(np.ones((5, 5)), a[:5, :5]))


def test_gains_ignore_a_smooth_reflection():
    background = scene("coffee", (900, 600))
    reflection = cv2.GaussianBlur(scene("astronaut", (900, 600)).astype(np.float32), (0, 0), 12)
    gains = np.array([0.8, 0.9, 0.7], np.float32)
    glass = np.clip(background * gains + 0.3 * reflection + 0.5, 0, 255).astype(np.uint8)
    fitted = fit_gains(glass, background)
    np.testing.assert_allclose(fitted, gains, atol=0.02)
    # the naive ratio is far off: the reflection adds light everywhere
    naive = np.median(glass[..., 0][background[..., 0] > 20] / background[..., 0][background[..., 0] > 20])
    assert naive > gains[0] + 0.1
