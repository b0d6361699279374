"""Rain streaks: the motion-blur kernel, Levels, the screen blend, and sizes that scale with the image."""
import cv2
import numpy as np
import pytest
from skimage import data

from uhr4k.synth import rain
from uhr4k.synth.resize import cover_resize


def _kernel_axis(kernel):
    """(length along the principal axis from the second moment, angle from vertical in degrees)."""
    k = kernel / kernel.sum()
    yy, xx = np.mgrid[0:k.shape[0], 0:k.shape[1]]
    cx, cy = (k * xx).sum(), (k * yy).sum()
    cov = np.array([[(k * (xx - cx) ** 2).sum(), (k * (xx - cx) * (yy - cy)).sum()],
                    [(k * (xx - cx) * (yy - cy)).sum(), (k * (yy - cy) ** 2).sum()]])
    vals, vecs = np.linalg.eigh(cov)
    vx, vy = vecs[:, 1]
    angle = np.degrees(np.arctan2(vx, vy))
    angle = (angle + 90) % 180 - 90
    return np.sqrt(12 * vals[1]), angle  # a uniform segment of length L has variance L^2 / 12


@pytest.mark.parametrize("length", [3, 20, 99, 100, 101, 250])
@pytest.mark.parametrize("angle", [0, 25, -30])
def test_line_kernel_has_the_asked_length_and_angle_and_never_collapses(length, angle):
    kernel = rain.line_kernel(length, angle)
    assert kernel.sum() == pytest.approx(1, abs=1e-5)
    assert kernel.min() >= 0
    measured, measured_angle = _kernel_axis(kernel)
    assert measured == pytest.approx(length, rel=0.08, abs=0.8)
    if length >= 20:
        assert measured_angle == pytest.approx(angle, abs=1.0)
    # continuous: every row the line crosses holds weight (no gaps at any length)
    rows = np.nonzero(kernel.sum(axis=1) > 0)[0]
    assert np.all(np.diff(rows) == 1)


def test_levels_known_values_and_no_hollow_streaks():
    v = np.array([0.0, 134 / 255, 161.5 / 255, 189 / 255, 1.0], np.float32)
    assert np.allclose(rain.levels(v, 134, 189), [0, 0, 0.5, 1, 1], atol=1e-5)
    # the brightest input stays the brightest output (clipped, not wrapped or zeroed)
    assert rain.levels(np.array([1.0], np.float32), 73, 158)[0] == 1.0
    assert np.allclose(rain.levels(np.array([0.5], np.float32), 0, 255, gamma=2.0), 0.5 ** 0.5)
    with pytest.raises(ValueError, match="black < white"):
        rain.levels(v, 200, 100)


def test_screen_blend_only_brightens_and_matches_the_formula():
    t = cover_resize(data.astronaut(), (160, 90))
    s = np.random.default_rng(0).integers(0, 256, (90, 160), dtype=np.uint8)
    out = rain.screen_blend(t, s)
    assert np.all(out >= t)
    expected = 255 - (255 - t.astype(float)) * (255 - s[..., None].astype(float)) / 255
    assert np.abs(out - expected).max() <= 0.5 + 1e-6
    assert np.array_equal(rain.screen_blend(t, np.zeros_like(s)), t)
    assert np.all(rain.screen_blend(t, np.full_like(s, 255)) == 255)


@pytest.mark.parametrize("seed", range(3))
def test_add_rain_input_is_screen_of_target_and_stored_layer(seed):
    t = cover_resize(data.coffee(), (320, 180))
    p = rain.draw_params(np.random.default_rng(seed))
    inp, layer = rain.add_rain(t, p)
    assert inp.shape == t.shape and layer.shape == t.shape[:2] and layer.dtype == np.uint8
    assert np.array_equal(inp, rain.screen_blend(t, layer))
    assert np.all(inp >= t)
    assert 0.001 < (layer > 20).mean() < 0.6, "streaks should be visible and sparse"


def test_streaks_do_not_depend_on_the_background():
    p = rain.draw_params(np.random.default_rng(5))
    a = rain.add_rain(np.zeros((90, 160, 3), np.uint8), p)[1]
    b = rain.add_rain(cover_resize(data.astronaut(), (160, 90)), p)[1]
    assert np.array_equal(a, b)


def test_streak_length_and_thickness_scale_with_image_size():
    """At twice the size, the same parameters draw the same streaks, twice as long and thick."""
    p = {"layers": [{"angle_deg": 20.0, "length_frac": 0.08, "cell_frac": 0.004, "density_black": 134.0,
                     "density_white": 189.0, "contrast_black": 73.0, "contrast_white": 158.0,
                     "opacity": 1.0, "noise_seed": 7}]}
    small = rain.streaks((480, 270), p).astype(np.float32)
    large = rain.streaks((960, 540), p).astype(np.float32)
    reduced = cv2.resize(large, (480, 270), interpolation=cv2.INTER_AREA)
    corr = np.corrcoef(small.ravel(), reduced.ravel())[0, 1]
    assert corr > 0.9
    # and a fixed-pixel implementation would not: the streaks of the large image are longer
    autocorr_len = []
    for img in (small, large):
        f = np.fft.fft2(img - img.mean())
        ac = np.fft.ifft2(f * np.conj(f)).real
        ac = np.fft.fftshift(ac) / ac.max()
        cy, cx = np.array(ac.shape) // 2
        t = np.arange(0, 200)
        ys = np.clip((cy + t * np.cos(np.radians(20))).astype(int), 0, ac.shape[0] - 1)
        xs = np.clip((cx + t * np.sin(np.radians(20))).astype(int), 0, ac.shape[1] - 1)
        profile = ac[ys, xs]
        autocorr_len.append(np.argmax(profile < 0.5))
    assert autocorr_len[1] / autocorr_len[0] == pytest.approx(2, rel=0.25)


def test_draw_params_ranges():
    ps = [rain.draw_params(np.random.default_rng(s)) for s in range(100)]
    assert {len(p["layers"]) for p in ps} == {1, 2}
    for p in ps:
        near = p["layers"][0]
        assert -30 <= near["angle_deg"] <= 30 and 0.04 <= near["length_frac"] <= 0.10
        assert near["density_white"] - near["density_black"] == pytest.approx(55)
