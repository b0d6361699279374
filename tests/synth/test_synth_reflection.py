"""Physics of the reflection models: ranges, additivity, the stored layer, scale-aware blur."""
import cv2
import numpy as np
import pytest
from skimage import data

from uhr4k.synth import reflection as R
from uhr4k.synth.resize import cover_resize, gaussian_ksize

LIN = ((np.arange(256) / 255.0) ** 2.2)


@pytest.fixture(scope="module")
def pair():
    t = cover_resize(data.astronaut(), (256, 144))
    r = data.coffee()
    return t, r


def params(model, seed=0, **override):
    p = R.draw_params(model, np.random.default_rng(seed))
    p.update(override)
    return p


@pytest.mark.parametrize("model", R.MODELS)
def test_outputs_are_uint8_images_of_the_background_size(pair, model):
    t, r = pair
    inp, layer = R.synthesize(t, r, params(model))
    assert inp.shape == t.shape and layer.shape == t.shape
    assert inp.dtype == np.uint8 and layer.dtype == np.uint8
    assert layer.max() > 10, "the reflection must be visible"


@pytest.mark.parametrize("seed", range(4))
def test_zhang_never_darker_than_attenuated_background_in_linear_light(pair, seed):
    t, r = pair
    p = params("zhang", seed)
    inp, layer = R.zhang(t, r, p)
    # one 8-bit step of rounding, measured in linear light at the pixel's level
    step = LIN[np.minimum(inp.astype(int) + 1, 255)] - LIN[inp]
    assert np.all(LIN[inp] + step >= p["alpha2"] * LIN[t] - 1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_zhang_layer_accounts_for_input_minus_target(pair, seed):
    t, r = pair
    p = params("zhang", seed)
    inp, layer = R.zhang(t, r, p)
    predicted = np.clip(LIN[layer] + p["alpha2"] * LIN[t], 0, 1) ** (1 / 2.2) * 255
    # input and layer are each rounded to 8 bits: a couple of levels where the gamma curve is steep
    assert np.abs(predicted - inp).max() <= 3.0
    assert np.abs(predicted - inp).mean() < 0.5


def test_zhang_matches_a_direct_implementation_of_the_recipe():
    """No working-resolution shortcut when sigma is small: compare with the formula written plainly."""
    t = cover_resize(data.astronaut(), (96, 64))
    r = cover_resize(data.coffee(), (96, 64))
    p = {"model": "zhang", "sigma_frac": 2.0 / 64, "crop": [0.5, 0.5], "att": 1.13, "alpha2": 0.9,
         "mask_ratio": 1.5, "mask_offset": [0.3, 0.7]}
    inp, layer = R.zhang(t, r, p)
    tl, rl = LIN[t], LIN[r]
    sigma = 2.0
    k = gaussian_ksize(sigma)
    rb = cv2.GaussianBlur(rl, (k, k), sigma, borderType=cv2.BORDER_REFLECT)
    blend = rb + tl
    for c in range(3):
        over = blend[:, :, c] > 1
        if over.any():
            rb[:, :, c] -= 1.13 * (blend[:, :, c][over].mean() - 1)
    rb = np.clip(rb, 0, 1)
    side = 1.5 * 96
    yy, xx = np.mgrid[0:64, 0:96] + 0.5
    alpha1 = np.exp(-((xx + 0.3 * (side - 96) - side / 2) ** 2 + (yy + 0.7 * (side - 64) - side / 2) ** 2)
                    / (2 * (0.2 * side) ** 2))
    expected = np.clip(alpha1[..., None] * rb + 0.9 * tl, 0, 1) ** (1 / 2.2) * 255
    assert np.abs(expected - inp).max() <= 1.01


def test_fan_layer_is_exactly_input_minus_target(pair):
    t, r = pair
    inp, layer = R.fan(t, r, params("fan"))
    assert np.array_equal(inp.astype(int) - t, layer)
    assert np.all(inp >= t)


@pytest.mark.parametrize("seed", range(3))
def test_screen_matches_its_formula_and_never_exceeds_one(pair, seed):
    t, r = pair
    p = params("screen", seed)
    inp, layer = R.screen(t, r, p)
    at = p["a"] * t / 255.0
    expected = (1 - (1 - at) * (1 - layer / 255.0)) * 255
    assert np.abs(expected - inp).max() <= 0.51
    assert np.all(inp >= np.floor(at * 255))  # screen only adds light to the attenuated background


def _edge_width(layer: np.ndarray) -> float:
    """10-90 % rise width (px) of a horizontal step in the middle row of a layer's green channel."""
    row = layer[layer.shape[0] // 2, :, 1].astype(float)
    lo, hi = row.min(), row.max()
    x10 = np.argmax(row > lo + 0.1 * (hi - lo))
    x90 = np.argmax(row > lo + 0.9 * (hi - lo))
    return float(x90 - x10)


@pytest.mark.parametrize("model", ["fan", "screen"])
def test_blur_scales_with_image_size(model):
    """The same parameters give a blur twice as wide (in px) on an image twice as large."""
    step = np.zeros((400, 400, 3), np.uint8)
    step[:, 200:] = 200
    p = params(model, sigma_frac=0.02, crop=[0.5, 0.5])
    widths = []
    for size in ((320, 180), (640, 360), (1280, 720)):
        black = np.zeros((size[1], size[0], 3), np.uint8)
        _, layer = R.synthesize(black, step, p)
        widths.append(_edge_width(layer))
    assert widths[1] / widths[0] == pytest.approx(2, rel=0.2)
    assert widths[2] / widths[1] == pytest.approx(2, rel=0.2)


def test_draw_params_is_deterministic_and_in_the_published_ranges():
    a = [R.draw_params("zhang", np.random.default_rng(s)) for s in range(200)]
    assert a[:3] == [R.draw_params("zhang", np.random.default_rng(s)) for s in range(3)]
    assert all(1.08 <= p["att"] <= 1.18 and 0.8 < p["alpha2"] <= 1.0 for p in a)
    sig = np.array([p["sigma_frac"] * 2160 for p in a])
    assert sig.min() >= 8 and sig.max() <= 40
    s = [R.draw_params("screen", np.random.default_rng(s)) for s in range(100)]
    assert all(0.8 <= p["a"] <= 1 and 0.4 <= p["b"] <= 1 for p in s)


def test_bad_shapes_and_models_are_rejected(pair):
    t, r = pair
    with pytest.raises(ValueError, match=r"\(256, 144\)|shape"):
        R.zhang(t[:, :, 0], r, params("zhang"))
    with pytest.raises(ValueError, match="reflection model"):
        R.draw_params("nope", np.random.default_rng(0))
