"""The deraining and dehazing baselines of Tables VIII and IX (VRGNet, RESCAN, FFA-Net, MSBDN, AECR-Net,
DerainRLNet): exact parameter counts of the released configurations, the released key layouts (text
fixtures of key names and shapes) loading strictly through each converter, released weights on real
rainy images, architecture invariants and the published losses."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from uhr4k.benchmark.metrics import psnr
from uhr4k.core.images import read_image
from uhr4k.models.factory import create_model
from uhr4k.models.losses import build_loss
from uhr4k.models.registry import model_info

from release_layout import release_layout

pytestmark = pytest.mark.usefixtures("one_thread")   # tests/conftest.py


NAMES = ("aecrnet", "derainrlnet", "ffanet", "msbdn", "rescan", "rescan-gru", "vrgnet")


@pytest.mark.parametrize("name", NAMES)
def test_release_key_layout_loads_strictly(name):
    layout = release_layout(name)
    generator = torch.Generator().manual_seed(0)
    state = {k: torch.randn(shape, generator=generator) for k, shape in layout.items()}
    model = create_model(name)
    converted = model_info(name).converter(state)
    model.load_state_dict(converted, strict=True)
    # Every released tensor lands somewhere, unchanged (a converter renames; it does not invent values).
    ours = model.state_dict()
    assert sorted(t.sum().item() for t in converted.values()) == sorted(t.sum().item() for t in state.values())
    assert all(torch.equal(ours[k], v) for k, v in converted.items())


def _data_parallel(state):
    return {f"module.{k}": v for k, v in state.items()}


# How each release saves its weights (its training / test scripts); MSBDN ships a pickled module, whose
# state dict (extracted with the authors' code) is a plain one: not rewritten here (125 MB).
RELEASE_FILES = {
    "vrgnet": lambda state: state,                                                   # torch.save(state_dict)
    "rescan": lambda state: {"net": state, "opt": {}, "clock": 400},                # train.py save_checkpoints
    "rescan-gru": lambda state: {"net": state, "opt": {}, "clock": 400},
    "ffanet": lambda state: {"model": _data_parallel(state), "step": 5, "max_psnr": 30.0},  # main.py
    "aecrnet": lambda state: {"model": _data_parallel(state), "step": 5, "losses": []},     # train_aecrnet.py
    "derainrlnet": _data_parallel,                                                   # netG1 under DataParallel
}


@pytest.mark.parametrize("name", sorted(RELEASE_FILES))
def test_release_file_format_loads_with_pretrained(name, tmp_path):
    generator = torch.Generator().manual_seed(1)
    state = {k: torch.randn(shape, generator=generator) for k, shape in release_layout(name).items()}
    path = tmp_path / "release.pth"
    torch.save(RELEASE_FILES[name](state), path)
    ours = create_model(name, pretrained=path).state_dict()
    assert all(torch.equal(ours[k], v) for k, v in model_info(name).converter(state).items())


def test_a_file_of_another_model_is_one_line(shared_data):
    from uhr4k.core.errors import InputError
    with pytest.raises(InputError, match="Rain100H_PReNet6_net_latest.pth") as info:
        create_model("vrgnet", pretrained=shared_data / "released-weights" / "Rain100H_PReNet6_net_latest.pth")
    assert "\n" not in str(info.value) and "convfinal" in str(info.value)


# ---------------------------------------------------------------------------------------- VRGNet

def _rain100h(shared_data: Path, n: int, crop: int = 128):
    """The first ``n`` Rain100H pairs, centre ``crop`` x ``crop`` (a full 480 x 320 image costs ~13 s here)."""
    root = shared_data / "rain100h-sample"
    names = sorted(p.name for p in (root / "input").glob("*.png"))[:n]
    pairs = []
    for f in names:
        rainy, clean = read_image(root / "input" / f), read_image(root / "target" / f)
        top, left = (rainy.shape[0] - crop) // 2, (rainy.shape[1] - crop) // 2
        pairs.append(tuple(im[top:top + crop, left:left + crop] for im in (rainy, clean)))
    return pairs


def _run(model, image: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        y = model(x)[0]
    return (y[0].permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def test_vrgnet_released_rain100l_weights_derain_real_rain100h_images(shared_data):
    model = create_model("vrgnet", pretrained=shared_data / "released-weights" / "syn100l_DerainNet_state_700.pt")
    model.eval()
    gains = [psnr(_run(model, rainy), clean, "y") - psnr(rainy, clean, "y")
             for rainy, clean in _rain100h(shared_data, 3)]
    # A Rain100L model on heavier Rain100H rain: +4.2, +4.8, +4.7 dB on these three crops (Y channel).
    assert min(gains) > 3.0 and np.mean(gains) > 4.0, gains


def test_vrgnet_returns_the_clamped_mean_and_the_log_variance():
    torch.manual_seed(0)
    model = create_model("vrgnet").eval()
    with torch.no_grad():
        model.convfinal[0].bias.copy_(torch.tensor([2.0, 0, 0, -1, -2, -3]))
        image, mu, logvar = model(torch.rand(1, 3, 8, 9))
    assert torch.equal(image, mu.clamp(0, 1)) and (mu[:, 0] > 1).any()
    assert logvar.shape == (1, 3, 8, 9)


def test_vrgnet_iterations_share_weights():
    torch.manual_seed(0)
    six = create_model("vrgnet").eval()
    x = torch.rand(1, 3, 12, 10)
    one = create_model("vrgnet", iterations=1).eval()
    one.load_state_dict(six.state_dict())
    with torch.no_grad():
        # One iteration: the last head straight on [x, x] with a zero state.
        y = one._trunk(x, x, torch.zeros(1, 32, 12, 10), torch.zeros(1, 32, 12, 10))[0]
        assert torch.equal(one(x)[1], one.convfinal(y)[:, :3] + x)
        assert not torch.equal(one(x)[1], six(x)[1])


def test_gaussian_kl_matches_the_closed_form():
    eps2 = 1e-6
    target = torch.rand(2, 3, 4, 5)
    mu = target + 1e-3 * torch.randn(2, 3, 4, 5)
    logvar = torch.full_like(target, math.log(4e-6))
    loss = build_loss("gaussian_kl")
    total, parts = loss((mu.clamp(0, 1), mu, logvar), target)
    # KL(N(mu, s^2) || N(t, e^2)) = log(e/s) + (s^2 + (mu - t)^2) / (2 e^2) - 1/2
    s2 = 4e-6
    expected = (0.5 * math.log(eps2 / s2) + (s2 + (mu - target) ** 2) / (2 * eps2) - 0.5).mean()
    torch.testing.assert_close(total, expected)
    assert parts["mse"] == pytest.approx(((mu - target) ** 2).mean().item(), rel=1e-5)
    # The prior itself costs nothing; log-variances beyond the clamp get no gradient.
    zero, _ = loss((target, target, torch.full_like(target, math.log(eps2))), target)
    assert abs(zero.item()) < 1e-5
    wild = torch.full_like(target, 20.0, requires_grad=True)
    loss((target, target, wild), target)[0].backward()
    assert torch.count_nonzero(wild.grad) == 0
    with pytest.raises(ValueError, match="mu, logvar"):
        loss(target, target)


# ---------------------------------------------------------------------------------------- RESCAN

def test_rescan_works_in_bgr_order():
    # One stage whose first unit reads only BGR channel 0 (= RGB blue): the rain it predicts cannot
    # depend on red or green, so a change of the red input passes to the red output unchanged.
    torch.manual_seed(0)
    model = create_model("rescan", stages=1).eval()
    with torch.no_grad():
        model.rnns[0].conv_x.weight[:, 1:] = 0
        x = torch.rand(1, 3, 12, 14)
        y = x.clone()
        y[:, 0] += 0.1 * torch.rand(12, 14)
        dx, dy = model(x)[0], model(y)[0]
    torch.testing.assert_close(dy - dx, y - x)
    with torch.no_grad():
        z = x.clone()
        z[:, 2] += 0.1
        assert not torch.allclose((model(z)[0] - dx)[:, :2], torch.zeros(1, 2, 12, 14))


def test_rescan_add_frame_adds_the_detached_previous_estimate():
    # Two stages: stage 2 sees the same input in both frames (x minus stage 1's rain), so "Add" is
    # "Full" plus stage 1's rain estimate, and because that estimate is detached, the gradients equal.
    torch.manual_seed(0)
    add = create_model("rescan", stages=2).eval()
    full = create_model("rescan", stages=2, frame="Full").eval()
    full.load_state_dict(add.state_dict())
    x = torch.rand(1, 3, 16, 18)
    final_add, stage1 = add(x)
    final_full, stage1_full = full(x)
    torch.testing.assert_close(stage1, stage1_full)
    torch.testing.assert_close(final_add, final_full - (x - stage1))
    final_add.sum().backward()
    final_full.sum().backward()
    for (name, p), q in zip(add.named_parameters(), full.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, msg=name)


def test_mse_stages_is_the_summed_mse_of_the_rain_layers():
    torch.manual_seed(0)
    model = create_model("rescan", channels=8)
    x, target = torch.rand(2, 3, 10, 12), torch.rand(2, 3, 10, 12)
    outputs = model(x)
    total, parts = build_loss("mse_stages")(outputs, target)
    expected = sum(((x - out) - (x - target)).pow(2).mean() for out in outputs)
    torch.testing.assert_close(total, expected)
    assert len(parts) == 5 and parts["total"] == pytest.approx(expected.item(), rel=1e-6)


# ---------------------------------------------------------------------------------------- FFA-Net

def test_ffanet_global_skip_adds_the_normalised_input():
    # With the tail zeroed the network is its global skip: the input normalised as the release's test
    # script does (torchvision Normalize, mean (0.64, 0.6, 0.58), std (0.14, 0.15, 0.152)).
    torch.manual_seed(0)
    model = create_model("ffanet", blocks=1).eval()
    with torch.no_grad():
        model.post[1].weight.zero_()
        model.post[1].bias.zero_()
        x = torch.rand(1, 3, 9, 11)
        mean, std = torch.tensor([0.64, 0.6, 0.58]), torch.tensor([0.14, 0.15, 0.152])
        torch.testing.assert_close(model(x), (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1))


# ---------------------------------------------------------------------------------------- MSBDN

def _conv_macs_by_output(model: nn.Module, shape) -> tuple[int, int]:
    """(MACs of convolutions as FlopCounterMode counts them, MACs with every transposed convolution counted
    over its output pixels, as per-layer counters such as thop do)."""
    ours, by_output = [0], [0]

    def hook(module, inputs, output):
        per_pixel = module.in_channels * module.out_channels * math.prod(module.kernel_size)
        size = output if isinstance(module, nn.Conv2d) else inputs[0]
        ours[0] += per_pixel * size.shape[-2] * size.shape[-1]
        by_output[0] += per_pixel * output.shape[-2] * output.shape[-1]

    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            module.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.zeros(shape, device="meta"))
    return ours[0], by_output[0]


def test_msbdn_macs_at_4k_and_table_1():
    with torch.device("meta"):
        model = create_model("msbdn").eval()
    ours, by_output = _conv_macs_by_output(model, (1, 3, 2160, 3840))
    # What FlopCounterMode / 2 gives (count_macs, benchmarks/baselines_complexity.py): convolutions only.
    assert ours == 3_092_417_740_800
    # Table I's 5.253 T is reproduced (to 0.14 %) when a stride-2 transposed convolution is charged for
    # its output pixels, i.e. 4x the multiplications it performs.
    assert abs(by_output / 5.253e12 - 1) < 0.002


# ---------------------------------------------------------------------------------------- AECR-Net

def _direct_deform_conv(x, offset, mask, weight, bias, stride, padding, dilation):
    """DCNv2's formula pixel by pixel in NumPy (float64): bilinear sampling with zero outside."""
    x, offset, mask, weight, bias = (t.detach().double().numpy() for t in (x, offset, mask, weight, bias))
    _, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    ho, wo = offset.shape[-2:]
    out = np.zeros((1, o, ho, wo))

    def sample(y, xx):
        value = np.zeros(c)
        y0, x0 = math.floor(y), math.floor(xx)
        for yy, xc, wgt in ((y0, x0, (y0 + 1 - y) * (x0 + 1 - xx)), (y0, x0 + 1, (y0 + 1 - y) * (xx - x0)),
                            (y0 + 1, x0, (y - y0) * (x0 + 1 - xx)), (y0 + 1, x0 + 1, (y - y0) * (xx - x0))):
            if 0 <= yy < h and 0 <= xc < w:
                value += wgt * x[0, :, yy, xc]
        return value

    for r in range(ho):
        for q in range(wo):
            acc = bias.copy()
            for k in range(kh * kw):
                i, j = divmod(k, kw)
                y = r * stride - padding + i * dilation + offset[0, 2 * k, r, q]
                xx = q * stride - padding + j * dilation + offset[0, 2 * k + 1, r, q]
                acc += weight[:, :, i, j] @ sample(y, xx) * mask[0, k, r, q]
            out[0, :, r, q] = acc
    return torch.from_numpy(out).float()


@pytest.mark.parametrize(("stride", "padding", "dilation"), [(1, 1, 1), (2, 2, 2)])
def test_modulated_deform_conv_matches_a_direct_computation(stride, padding, dilation):
    from uhr4k.models.archs.deform_conv import modulated_deform_conv2d
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 2, 6, 7, generator=g)
    weight, bias = torch.randn(3, 2, 3, 3, generator=g), torch.randn(3, generator=g)
    ho = (6 + 2 * padding - 2 * dilation - 1) // stride + 1
    wo = (7 + 2 * padding - 2 * dilation - 1) // stride + 1
    offset = 2.5 * torch.randn(1, 18, ho, wo, generator=g)  # fractional, some taps far outside the image
    mask = torch.rand(1, 9, ho, wo, generator=g)
    ours = modulated_deform_conv2d(x, offset, mask, weight, bias, stride, padding, dilation)
    expected = _direct_deform_conv(x, offset, mask, weight, bias, stride, padding, dilation)
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)
    # Zero offsets and unit masks: an ordinary convolution.
    plain = modulated_deform_conv2d(x, torch.zeros_like(offset), torch.ones_like(mask), weight, bias,
                                    stride, padding, dilation)
    torch.testing.assert_close(plain, F.conv2d(x, weight, bias, stride, padding, dilation), atol=1e-5, rtol=1e-5)


def test_deform_conv_gradients_reach_offsets_and_masks():
    from uhr4k.models.archs.deform_conv import DCN
    torch.manual_seed(0)
    dcn = DCN(4, 5)
    with torch.no_grad():
        dcn.conv_offset_mask.weight.normal_(0, 0.1)
    dcn(torch.rand(1, 4, 9, 8)).square().sum().backward()
    assert dcn.conv_offset_mask.weight.grad.abs().sum() > 0 and dcn.weight.grad.abs().sum() > 0


def test_isqrt_newton_schulz_is_the_inverse_square_root():
    from uhr4k.models.archs.aecrnet import isqrt_newton_schulz
    g = torch.Generator().manual_seed(0)
    a = torch.randn(27, 200, generator=g, dtype=torch.float64)
    cov = a @ a.t() / 200 + 0.1 * torch.eye(27, dtype=torch.float64)
    values, vectors = torch.linalg.eigh(cov)
    expected = vectors @ torch.diag(values.rsqrt()) @ vectors.t()
    torch.testing.assert_close(isqrt_newton_schulz(cov, 40), expected, atol=1e-8, rtol=1e-6)


def test_fast_deconv_whitens_in_training_and_tracks_the_statistics():
    from uhr4k.models.archs.aecrnet import FastDeconv
    torch.manual_seed(0)
    layer = FastDeconv(3, 3, kernel_size=3, padding=1)
    x = torch.rand(2, 3, 12, 15) * torch.tensor([1.0, 0.5, 2.0]).view(1, 3, 1, 1)
    layer.eval()
    torch.testing.assert_close(layer(x), F.conv2d(x, layer.weight, layer.bias, padding=1))  # fresh: a plain conv
    layer.train()
    y = layer(x)
    # The folded convolution is the conv of whitened patches: (cols - mean) @ deconv @ W^T + bias.
    cols = F.unfold(x, 3, padding=1, stride=3).transpose(1, 2).reshape(-1, 27)
    mean = cols.mean(0)
    cov = (cols - mean).t() @ (cols - mean) / cols.shape[0] + 1e-5 * torch.eye(27)
    from uhr4k.models.archs.aecrnet import isqrt_newton_schulz
    deconv = isqrt_newton_schulz(cov, 5)
    full = F.unfold(x, 3, padding=1).transpose(1, 2)  # (B, H * W, 27)
    expected = ((full - mean) @ deconv @ layer.weight.reshape(3, 27).t() + layer.bias).transpose(1, 2).reshape(y.shape)
    torch.testing.assert_close(y, expected, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(layer.running_mean, 0.1 * mean)
    torch.testing.assert_close(layer.running_deconv, 0.9 * torch.eye(27) + 0.1 * deconv)


def test_aecrnet_shares_one_dehaze_block_and_one_dcn():
    with torch.device("meta"):
        model = create_model("aecrnet")
    calls = {"block": 0, "dcn": 0}
    model.block.register_forward_hook(lambda *a: calls.__setitem__("block", calls["block"] + 1))
    model.dcn_block.register_forward_hook(lambda *a: calls.__setitem__("dcn", calls["dcn"] + 1))
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, 64, 64, device="meta"))
    assert calls == {"block": 6, "dcn": 2}


def test_l1_contrastive_terms():
    from uhr4k.models.archs.vgg import VGG19Features
    torch.manual_seed(0)
    vgg = VGG19Features()
    for layer in vgg.features:  # He initialisation keeps relu5_1 far above the 1e-7 guard
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    loss = build_loss("l1_contrastive", vgg=vgg)
    hazy, clear = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    out = torch.rand(1, 3, 32, 32)
    # Output equal to the target: no distance to the positive; positive = negative: every ratio is 1.
    total, parts = loss(clear, clear, inputs=hazy)
    assert parts["contrastive"] == 0 and total.item() == 0
    total, parts = loss(out, clear, inputs=clear)
    assert parts["contrastive"] == pytest.approx(1 / 32 + 1 / 16 + 1 / 8 + 1 / 4 + 1, rel=1e-5)
    assert total.item() == pytest.approx(parts["l1"] + 0.1 * parts["contrastive"], rel=1e-6)
    # Nearer the negative than the positive: the term grows past 1 per layer.
    assert loss(hazy + 0.01, clear, inputs=hazy)[1]["contrastive"] > 1.46875
    # VGG sees the raw [0, 1] image (the release does not normalise): compare with features by hand.
    raw = []
    h = out
    for i, layer in enumerate(vgg.features):
        h = layer(h)
        if i in (1, 6, 11, 20, 29):
            raw.append(h)
    from uhr4k.models.losses.terms import raw_vgg_features
    assert all(torch.equal(a, b) for a, b in zip(raw_vgg_features(vgg, out, vgg.layers), raw, strict=True))
    assert not torch.allclose(vgg(out)[0], raw[0])  # VGG19Features itself normalises
    with pytest.raises(ValueError, match="hazy input"):
        loss(out, clear)
    assert build_loss("l1_contrastive", perceptual_weight=0.0)(out, clear)[1].keys() == {"l1", "total"}


# ---------------------------------------------------------------------------------------- DerainRLNet

def test_derainrlnet_feedback_branch_is_training_only():
    with torch.device("meta"):
        model = create_model("derainrlnet")
    feedback = sum(p.numel() for n, p in model.named_parameters() if n.startswith(("res3.", "res4.")))
    assert feedback == 189_970
    torch.manual_seed(0)
    model = create_model("derainrlnet")
    x = torch.rand(1, 3, 32, 32)
    target = (x - 0.2).clamp(0, 1)
    # Inference (and training without a target): the feedback networks are not read.
    model.train()(x).mean().backward()
    assert model.res3.conv1.weight.grad is None and model.res33.conv1.weight.grad is not None
    model.zero_grad()
    outputs = model(x, target=target)
    total, parts = build_loss("derainrlnet")(outputs, target)
    total.backward()
    assert model.res3.conv1.weight.grad.abs().sum() > 0 and model.res4.conv1.weight.grad.abs().sum() > 0
    assert {"l1", "ssim", "feedback", "total"} <= parts.keys()
    # The corrected targets: y = R + 0.15 * k * R at 1/2 and 1/4 scale, with k = 0.15 * sigmoid(.) in (0, 0.15).
    rain_half = F.avg_pool2d(x - target, 2)
    torch.testing.assert_close(outputs.rain_half, rain_half)
    torch.testing.assert_close(outputs.y3, rain_half + 0.15 * outputs.k3 * rain_half)
    assert 0 < outputs.k3.min() and outputs.k3.max() < 0.15
    torch.testing.assert_close(outputs.clean, x - outputs.rain)


def test_derainrlnet_loss_without_training_outputs_is_l1_minus_ssim():
    from uhr4k.models.losses.terms import gaussian_window, ssim_map
    pred, target = torch.rand(1, 3, 24, 24), torch.rand(1, 3, 24, 24)
    total, parts = build_loss("derainrlnet")(pred, target)
    expected = F.l1_loss(pred, target) - ssim_map(pred, target, gaussian_window()).mean()
    torch.testing.assert_close(total, expected)
    assert "feedback" not in parts


# ---------------------------------------------------------------------------------------- training

# Small versions (same code paths) for one `uhr4k train` step and a reload from its checkpoint.
TRAIN_KWARGS = {
    "vrgnet": {"iterations": 2, "channels": 8},
    "rescan": {"channels": 8, "stages": 2},
    "rescan-gru": {"channels": 8, "stages": 2},
    "ffanet": {"blocks": 1, "dim": 16},
    "msbdn": {"res_blocks": 1},
    "aecrnet": {"ngf": 8, "block_repeats": 2, "dcn_repeats": 1},
    "derainrlnet": {},  # the release has no width option: the full network at 32 x 32
}


# The contrastive regulariser needs pretrained VGG-19 weights, a file the user supplies (tests download nothing).
TRAIN_LOSS_KWARGS = {"aecrnet": {"perceptual_weight": 0.0}}



@pytest.mark.parametrize("name", sorted(TRAIN_KWARGS))
def test_trains_a_step_with_its_default_loss_and_reloads(name, train_and_reload):
    train_and_reload(name, TRAIN_KWARGS[name], TRAIN_LOSS_KWARGS.get(name, {}))
