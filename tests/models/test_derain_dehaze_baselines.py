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
from torch import nn

from uhr4k.benchmark.metrics import psnr
from uhr4k.benchmark.profiling import count_parameters
from uhr4k.files import read_image
from uhr4k.models.losses import build_loss
from uhr4k.models.registry import create_model, model_info

KEYS = Path(__file__).parent / "release_keys"

# Parameters of the released configurations, counted on the authors' own modules.
RELEASED_PARAMS = {
    "vrgnet": 170_697,
    "rescan": 54_735,
    "rescan-gru": 149_823,
    "ffanet": 4_455_913,
    "msbdn": 31_353_061,
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def release_layout(name: str) -> dict[str, tuple[int, ...]]:
    """The key names and shapes of a release's state dict, from its fixture."""
    layout = {}
    for line in (KEYS / f"{name}.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, *shape = line.split()
            layout[key] = tuple(int(s) for s in shape)
    return layout


@pytest.mark.parametrize("name", sorted(RELEASED_PARAMS))
def test_parameter_count_is_the_releases(name):
    with torch.device("meta"):
        model = create_model(name)
    assert count_parameters(model)[1] == RELEASED_PARAMS[name]


@pytest.mark.parametrize("name", sorted(RELEASED_PARAMS))
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


# ---------------------------------------------------------------------------------------- training

# Small versions (same code paths) for one `uhr4k train` step and a reload from its checkpoint.
TRAIN_KWARGS = {
    "vrgnet": {"iterations": 2, "channels": 8},
    "rescan": {"channels": 8, "stages": 2},
    "rescan-gru": {"channels": 8, "stages": 2},
    "ffanet": {"blocks": 1, "dim": 16},
    "msbdn": {"res_blocks": 1},
}


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    """A two-pair UHR4K-Syn root of 40 x 40 images (input = target + a fixed offset)."""
    from uhr4k.files import write_image
    root = tmp_path_factory.mktemp("derain-data")
    rng = np.random.default_rng(0)
    for split, n in (("train", 2), ("val", 1)):
        for i in range(n):
            target = rng.integers(0, 200, (40, 40, 3), dtype=np.uint8)
            write_image(root / "UHR4K-Syn" / split / "input" / f"p{i}.png", target + 40)
            write_image(root / "UHR4K-Syn" / split / "target" / f"p{i}.png", target)
    return root


@pytest.mark.parametrize("name", sorted(TRAIN_KWARGS))
def test_trains_a_step_with_its_default_loss_and_reloads(name, tiny_root, tmp_path):
    from uhr4k.models.checkpoint import load_model
    from uhr4k.models.training import TrainConfig, train
    config = TrainConfig(model=name, data=str(tiny_root), subset="syn", out=str(tmp_path / "run"),
                         model_kwargs=TRAIN_KWARGS[name], epochs=1, batch=1, crop=(32, 32), steps_per_epoch=1,
                         val_split="none", progress=False)
    summary = train(config, echo=lambda s: None)
    assert np.isfinite(float(summary.rows[0]["train_total"]))
    model, checkpoint = load_model(summary.last_checkpoint, expected_name=name)
    assert checkpoint["config"]["run"]["loss"] == type(model).default_loss
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x)[0], summary.model.eval()(x)[0])
