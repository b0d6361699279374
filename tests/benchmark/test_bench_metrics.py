"""Metric protocols: known values, identities, and agreement with scikit-image."""
import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio as sk_psnr
from skimage.metrics import structural_similarity as sk_ssim

from uhr4k.benchmark import metrics as m
from uhr4k.core.images import read_image


def _pair(seed=0, shape=(64, 80, 3)):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 256, shape, dtype=np.uint8)
    noise = rng.normal(0, 12, shape)
    pred = np.clip(target + noise, 0, 255).astype(np.uint8)
    return pred, target


def _t(img):
    return torch.from_numpy(img).permute(2, 0, 1)[None].double() / 255.0


def test_matlab_y_of_known_pixels():
    px = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [0, 0, 0], [255, 255, 255]]], np.uint8)
    y = m.rgb_to_y(px, round_=False)[0]
    np.testing.assert_allclose(y, [81.481, 144.553, 40.966, 16.0, 235.0], atol=1e-9)
    np.testing.assert_array_equal(m.rgb_to_y(px)[0], [81, 145, 41, 16, 235])


@pytest.mark.parametrize("protocol", m.PROTOCOLS)
def test_identical_images(protocol):
    _, target = _pair()
    assert m.psnr(target, target, protocol) == math.inf
    assert m.ssim(target, target, protocol) == pytest.approx(1.0, abs=1e-12)
    assert torch.isinf(m.psnr_torch(_t(target), _t(target), protocol)).all()
    assert m.ssim_torch(_t(target), _t(target), protocol).item() == pytest.approx(1.0, abs=1e-6)


def test_psnr_known_values():
    target = np.zeros((8, 8, 3), np.uint8)
    pred = target + np.array([1, 2, 4], np.uint8)
    band = np.mean([20 * math.log10(255 / d) for d in (1, 2, 4)])
    assert m.psnr(pred, target, "bandwise") == pytest.approx(band, abs=1e-12)
    assert m.psnr(pred, target, "rgb") == pytest.approx(10 * math.log10(255 ** 2 / 7.0), abs=1e-12)
    # Y of (10, 10, 10) = 16 + 10 * 219 / 255 = 24.588 -> 25; of black: 16. Difference 9 everywhere.
    gray = np.full((8, 8, 3), 10, np.uint8)
    assert m.psnr(gray, target, "y") == pytest.approx(20 * math.log10(255 / 9), abs=1e-12)


def _real_pair(shared_data):
    root = shared_data / "rain100h-sample"
    return read_image(root / "input" / "3.png"), read_image(root / "target" / "3.png")


@pytest.mark.parametrize("seed", [0, 1])
def test_bandwise_agrees_with_scikit_image(seed):
    pred, target = _pair(seed)
    ours_s, ours_p = m.ssim(pred, target, "bandwise"), m.psnr(pred, target, "bandwise")
    sk_s = np.mean([sk_ssim(pred[..., c], target[..., c], data_range=255) for c in range(3)])
    sk_p = np.mean([sk_psnr(target[..., c], pred[..., c], data_range=255) for c in range(3)])
    assert ours_s == pytest.approx(sk_s, abs=1e-10)
    assert ours_p == pytest.approx(sk_p, abs=1e-10)


def test_gaussian_ssim_agrees_with_scikit_image_on_real_images(shared_data):
    pred, target = _real_pair(shared_data)
    sk_rgb = sk_ssim(pred, target, channel_axis=2, gaussian_weights=True, sigma=1.5,
                     use_sample_covariance=False, data_range=255)
    assert m.ssim(pred, target, "rgb") == pytest.approx(sk_rgb, abs=1e-4)
    y_p, y_t = m.rgb_to_y(pred), m.rgb_to_y(target)
    sk_y = sk_ssim(y_p, y_t, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    assert m.ssim(pred, target, "y") == pytest.approx(sk_y, abs=1e-4)
    # the bandwise protocol is exactly scikit-image's defaults
    sk_band = np.mean([sk_ssim(pred[..., c], target[..., c], data_range=255) for c in range(3)])
    assert m.ssim(pred, target, "bandwise") == pytest.approx(sk_band, abs=1e-10)


@pytest.mark.parametrize("protocol", m.PROTOCOLS)
def test_torch_matches_numpy(protocol):
    preds, targets = zip(*(_pair(s, (40, 52, 3)) for s in range(3)), strict=True)
    p = torch.cat([_t(x) for x in preds]).float()
    t = torch.cat([_t(x) for x in targets]).float()
    got_psnr, got_ssim = m.psnr_torch(p, t, protocol), m.ssim_torch(p, t, protocol)
    assert got_psnr.shape == (3,) and got_ssim.shape == (3,)
    exact = m.ssim_torch(p, t, protocol, dtype=torch.float64)
    for i in range(3):
        assert got_psnr[i].item() == pytest.approx(m.psnr(preds[i], targets[i], protocol), abs=1e-9)
        assert exact[i].item() == pytest.approx(m.ssim(preds[i], targets[i], protocol), abs=1e-10)
        assert got_ssim[i].item() == pytest.approx(m.ssim(preds[i], targets[i], protocol), abs=1e-5)


def test_torch_quantizes_like_the_uint8_path():
    pred, target = _pair(3)
    noisy = _t(pred) + 0.4 / 255.0               # rounds back to pred
    assert m.psnr_torch(noisy, _t(target), "rgb").item() == pytest.approx(m.psnr(pred, target, "rgb"), abs=1e-9)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_quantize_is_the_torch_twin_of_from_float(dtype):
    """quantize, the in-place planes of the fast SSIM and tensor_to_uint8 round as core.images.from_float
    does, exact halves (rounded up) and out-of-range values (clipped) included."""
    from uhr4k.core.images import from_float

    rng = np.random.default_rng(5)
    values = np.concatenate([(np.arange(256) + 0.5) / 255, rng.uniform(-0.2, 1.2, 3 * 16 * 16 - 256)])
    x = torch.from_numpy(values.reshape(1, 3, 16, 16)).to(dtype)
    expected = from_float(x.numpy())
    np.testing.assert_array_equal(m.quantize(x).numpy(), expected)
    if dtype == torch.float32:
        np.testing.assert_array_equal(m._uint8_planes(x, "rgb"), expected)
        np.testing.assert_array_equal(m.tensor_to_uint8(x), expected[0].transpose(1, 2, 0))
    before = x.clone()
    m.quantize(x)
    assert torch.equal(x, before), "quantize leaves its input as it is"


def test_ssim_is_differentiable_without_quantization():
    pred, target = _pair(4)
    x = _t(pred).float().requires_grad_(True)
    loss = -m.SSIM("rgb")(x, _t(target).float())
    loss.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # Two code paths: the depthwise convolution (taken when autograd tracks the input, and on a GPU) and
    # OpenCV's filters (a CPU without autograd). Both must give the numpy figure.
    y = _t(target).float()
    for protocol in m.PROTOCOLS:
        conv = m.ssim_torch(x, y, protocol, quantize_input=True)
        with torch.no_grad():
            cv = m.ssim_torch(x, y, protocol, quantize_input=True)
        assert conv.grad_fn is not None and cv.grad_fn is None          # the two paths did run
        reference = m.ssim(pred, target, protocol)
        assert conv.item() == pytest.approx(reference, abs=1e-5)
        assert cv.item() == pytest.approx(reference, abs=1e-5)


def test_bad_input_names_the_shape():
    a = np.zeros((10, 12, 3), np.uint8)
    with pytest.raises(ValueError, match=r"\(10, 12, 3\) vs \(10, 13, 3\)"):
        m.psnr(a, np.zeros((10, 13, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        m.ssim(a.astype(np.float32), a.astype(np.float32))
    with pytest.raises(ValueError, match="protocol"):
        m.psnr(a, a, "lab")
    with pytest.raises(ValueError, match=r"\(1, 1, 10, 12\)"):
        m.ssim_torch(torch.zeros(1, 1, 10, 12), torch.zeros(1, 1, 10, 12))
    with pytest.raises(ValueError, match="at least 11x11"):
        m.ssim(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8), "rgb")
