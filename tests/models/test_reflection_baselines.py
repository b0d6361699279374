"""The five reflection-removal baselines (RmNet, ERRNet, IBCLN, CFDNet, Zou et al.) against facts of
their releases: exact parameter counts, the released key layout loading strictly through each
converter (``tests/models/release_keys/*.txt``: key names and shapes of the authors' state dicts),
architecture invariants the releases imply, and their published losses.

Output agreement with the authors' own code (same weights, two sizes) was measured beside it and is
recorded in docs/benchmarks.md (section reflection baselines); the authors' code is not part of this
repository.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from uhr4k.benchmark.profiling import count_macs
from uhr4k.models.archs.vgg import VGG19Features
from uhr4k.models.factory import create_model
from uhr4k.models.losses import build_loss
from uhr4k.models.registry import model_info

from release_layout import release_layout

pytestmark = pytest.mark.usefixtures("one_thread")   # tests/conftest.py


NAMES = ("cfdnet", "errnet", "ibcln", "rmnet", "zou2020")


def release_state(name: str) -> dict:
    """A state dict (or {file: state dict}) in the release's layout, distinct values per tensor."""
    g = torch.Generator().manual_seed(0)

    def fill(layout):
        return {k: fill(v) if isinstance(v, dict) else torch.randn(v, generator=g) for k, v in layout.items()}
    return fill(release_layout(name))


def flat_values(state: dict) -> list[torch.Tensor]:
    return [t for v in state.values() for t in (flat_values(v) if isinstance(v, dict) else [v])]


@pytest.mark.parametrize("name", NAMES)
def test_release_key_layout_loads_strictly(name):
    info = model_info(name)
    assert info.tasks == ("reflection",) and info.converter is not None
    state = release_state(name)
    converted = info.converter(state)
    with torch.device("meta"):   # shapes only: nothing to initialise
        model = create_model(name)
    own = model.state_dict()
    assert sorted(converted) == sorted(own)
    assert all(converted[k].shape == own[k].shape for k in own)
    model.load_state_dict(converted, strict=True, assign=True)
    # Every released tensor lands somewhere, unchanged (a converter renames, it does not invent values).
    released = sorted(t.sum().item() for t in flat_values(state))
    assert sorted(t.sum().item() for t in model.state_dict().values()) == released


def test_converters_drop_a_data_parallel_prefix():
    state = release_state("rmnet")
    wrapped = {f"module.{k}": v for k, v in state.items()}
    assert model_info("rmnet").converter(wrapped).keys() == state.keys()


# ---------------------------------------------------------------------------------------- RmNet

def test_rmnet_outputs_and_their_ranges():
    torch.manual_seed(0)
    model = create_model("rmnet", ngf=8).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        out = model(x)
    assert out.transmission.shape == out.mix.shape == x.shape
    for image in (out.transmission, out.reflection, out.mix):
        assert image.min() >= 0 and image.max() <= 1
    torch.testing.assert_close(out.recomposition,
                               out.transmission * (1 - out.mix) + out.reflection * out.mix)


def test_rmnet_pads_decoded_maps_on_the_top_left_like_the_release():
    # pad_multiple=2: a 200 x 72 input is 25 x 9 at depth 2 and 12 x 4 at depth 3, so the decoded
    # 24 x 8 map joining the depth-2 skip is zero-padded by one row on top and one column on the left.
    torch.manual_seed(0)
    model = create_model("rmnet", ngf=8, pad_multiple=2).eval()
    seen = {}
    model.model_u_2_back.register_forward_hook(lambda m, args, out: seen.update(decoder_input=args[0]))
    x = torch.rand(1, 3, 200, 72)
    with torch.no_grad():
        out = model(x)
    assert out.transmission.shape == x.shape
    decoded = seen["decoder_input"][:, 32:]                     # [skip (32 channels at ngf=8), decoded]
    assert decoded.shape[-2:] == (25, 9)
    assert decoded[..., 0, :].abs().max() == 0 and decoded[..., :, 0].abs().max() == 0
    assert decoded[..., -1, 1:].abs().max() > 0 and decoded[..., 1:, -1].abs().max() > 0


def test_rmnet_macs_at_4k():
    # Our count (FlopCounterMode / 2, the 4K image reflection-padded to 3840 x 2176). Table I's 6.785 T
    # is close to what counting each transposed convolution per output pixel gives (x4): see
    # docs/benchmarks.md.
    with torch.device("meta"):
        model = create_model("rmnet")
    assert count_macs(model) == pytest.approx(1.756e12, rel=1e-3)


def test_rmnet_loss_terms_and_weights():
    t = torch.rand(1, 3, 16, 16)
    r, w, image = torch.rand_like(t), torch.rand_like(t), torch.rand_like(t)
    target, reflection, mix = torch.rand_like(t), torch.rand_like(t), torch.rand_like(t)
    from uhr4k.models.archs.rmnet import RmNetOutput
    outputs = RmNetOutput(t, r, w, t * (1 - w) + r * w)
    loss = build_loss("rmnet")
    total, parts = loss(outputs, target, inputs=image)
    # [-1, 1] images as released: twice the [0, 1] L1.
    expected = (100 * 2 * F.l1_loss(t, target) + 50 * 2 * F.l1_loss(outputs.recomposition, image)
                + 50 * parts["gradient"])
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    full, parts = loss(outputs, target, inputs=image, reflection=reflection, mix=mix)
    assert full.item() == pytest.approx(total.item() + 50 * 2 * F.l1_loss(r, reflection).item()
                                        + 100 * F.l1_loss(w, mix).item(), rel=1e-5)
    # A perfect decomposition of a consistent mixture costs nothing.
    mixture = target * (1 - mix) + reflection * mix
    perfect = RmNetOutput(target, reflection, mix, mixture)
    zero, _ = loss(perfect, target, inputs=mixture, reflection=reflection, mix=mix)
    # Without the input (a bare criterion call) the recomposition term is left out.
    bare, parts = loss(outputs, target)
    assert "recomposition" not in parts
    assert bare.item() == pytest.approx(total.item() - 50 * 2 * F.l1_loss(outputs.recomposition, image).item(),
                                        rel=1e-5)
    assert zero.item() == pytest.approx(0.0, abs=1e-6)


def test_rmnet_sobel_term_is_the_release_gradient():
    from uhr4k.models.losses.reflection import sobel_l1
    x, y = torch.rand(1, 3, 12, 12), torch.rand(1, 3, 12, 12)
    # The release's ImageGradient: a 3 -> 3 convolution whose every (out, in) kernel is Sobel-x (-y).
    kx = torch.tensor([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]])
    gx = kx.expand(3, 3, 3, 3)
    gy = kx.t().expand(3, 3, 3, 3)
    expected = (F.l1_loss(F.conv2d(x, gx, padding=1), F.conv2d(y, gx, padding=1))
                + F.l1_loss(F.conv2d(x, gy, padding=1), F.conv2d(y, gy, padding=1)))
    torch.testing.assert_close(sobel_l1(x, y), expected)


def _random_vgg() -> VGG19Features:
    """A randomly initialised VGG-19 (tests never download weights): the losses' arithmetic does not
    depend on which weights it has."""
    torch.manual_seed(0)
    return VGG19Features()


# ---------------------------------------------------------------------------------------- ERRNet

def test_errnet_hypercolumn_is_the_frozen_unnormalised_vgg():
    torch.manual_seed(0)
    model = create_model("errnet", n_feats=16, n_resblocks=1).eval()
    x = torch.rand(1, 3, 40, 48)
    column = model.hypercolumn(x)
    assert column.shape == (1, 3 + 1472, 40, 48)
    assert torch.equal(column[:, :3], x)
    # relu1_1 of the raw (not ImageNet-normalised) image, at full resolution.
    relu1_1 = F.relu(F.conv2d(x, model.vgg[0].weight, model.vgg[0].bias, padding=1))
    torch.testing.assert_close(column[:, 3:67], relu1_1)
    # Frozen: buffers, no gradient into VGG, not counted, not in the state dict (the release's file
    # does not hold it either), and the same fixed trunk whatever the global seed.
    assert not any(n.startswith("vgg.") for n, _ in model.named_parameters())
    assert not any(k.startswith("vgg.") for k in model.state_dict())
    torch.manual_seed(123)
    again = create_model("errnet", n_feats=16, n_resblocks=1)
    assert torch.equal(again.vgg[28].weight, model.vgg[28].weight)


def test_errnet_reads_torchvision_vgg_weights(tmp_path):
    torch.manual_seed(1)
    path = tmp_path / "vgg19.pth"
    state = VGG19Features().state_dict()
    torch.save(state, path)
    model = create_model("errnet", n_feats=16, n_resblocks=1, vgg_weights=path)
    assert torch.equal(model.vgg[28].weight, state["features.28.weight"])


def test_errnet_pads_to_even_sizes_of_at_least_32():
    torch.manual_seed(0)
    model = create_model("errnet", n_feats=16, n_resblocks=1).eval()
    for shape in ((1, 3, 33, 47), (1, 3, 20, 9)):
        with torch.no_grad():
            out = model(torch.rand(shape))
        assert out.shape == shape and out.min() >= 0   # final 1x1 conv has a ReLU, as released


def test_errnet_release_checkpoint_loads_through_create_model(tmp_path):
    # The release saves {'icnn': DRNet, 'opt_g': optimizer, 'epoch', 'iterations'}; the generic reader
    # flattens it and the converter keeps the network.
    state = release_state("errnet")
    weight = torch.nn.Parameter(torch.zeros(3))
    optimizer = torch.optim.Adam([weight])
    weight.grad = torch.ones(3)
    optimizer.step()   # the optimizer state now holds tensors (exp_avg, ...) the converter must skip
    path = tmp_path / "errnet_latest.pt"
    torch.save({"icnn": state, "opt_g": optimizer.state_dict(), "epoch": 60, "iterations": 1}, path)
    model = create_model("errnet", pretrained=path)
    assert torch.equal(model.res_module[12].se_layer.fc[2].weight, state["res_module.12.se_layer.fc.2.weight"])
    assert not model.training


def test_errnet_loss_is_mse_gradient_and_vgg():
    from uhr4k.models.losses.glsgn import PerceptualDistance
    from uhr4k.models.losses.reflection import difference_l1
    vgg = _random_vgg()
    pred, target = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    total, parts = build_loss("errnet", vgg=vgg)(pred, target)
    expected = (0.2 * F.mse_loss(pred, target) + 0.4 * difference_l1(pred, target)
                + 0.1 * PerceptualDistance(vgg)(pred, target))
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    dx = (pred[..., 1:, :] - pred[..., :-1, :] - target[..., 1:, :] + target[..., :-1, :]).abs().mean()
    dy = (pred[..., 1:] - pred[..., :-1] - target[..., 1:] + target[..., :-1]).abs().mean()
    assert parts["gradient"] == pytest.approx((dx + dy).item(), rel=1e-5)
    no_vgg, parts = build_loss("errnet", perceptual_weight=0)(pred, target)
    assert "perceptual" not in parts
    assert no_vgg.item() == pytest.approx((0.2 * F.mse_loss(pred, target) + 0.4 * (dx + dy)).item(), rel=1e-5)


def test_vgg_losses_need_weights(monkeypatch):
    from uhr4k.core.errors import InputError
    from uhr4k.models.archs.vgg import WEIGHTS_ENV
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    with pytest.raises(InputError, match="VGG-19"):
        build_loss("errnet")


# ---------------------------------------------------------------------------------------- IBCLN

def _ibcln_release_folder(tmp_path) -> Path:
    folder = tmp_path / "ibcln_release"
    folder.mkdir()
    for file_name, state in release_state("ibcln").items():
        torch.save(state, folder / file_name)
    torch.save({"model.0.weight": torch.zeros(1)}, folder / "200_net_D.pth")   # the discriminator, ignored
    return folder


def test_ibcln_loads_the_two_generator_files(tmp_path):
    from uhr4k.models.archs.ibcln import release_weights
    folder = _ibcln_release_folder(tmp_path)
    state = release_state("ibcln")
    model = create_model("ibcln", pretrained=folder)
    assert torch.equal(model.G_T.conv_o[0].weight, state["200_net_G_T.pth"]["conv_o.0.weight"])
    assert torch.equal(model.G_R.output[0].bias, state["200_net_G_R.pth"]["output.0.bias"])
    same = create_model("ibcln", pretrained=release_weights(folder / "200_net_G_T.pth", folder / "200_net_G_R.pth"))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), same.state_dict().values(),
                                                 strict=True))


def test_ibcln_refuses_one_generator_alone(tmp_path):
    from uhr4k.core.errors import InputError
    folder = _ibcln_release_folder(tmp_path)
    (folder / "200_net_G_R.pth").unlink()
    with pytest.raises(InputError, match="G_R"):
        create_model("ibcln", pretrained=folder)
    with pytest.raises(InputError, match="both"):
        create_model("ibcln", pretrained=folder / "200_net_G_T.pth")


def test_ibcln_cascade_feeds_each_generator_the_previous_estimates():
    torch.manual_seed(0)
    model = create_model("ibcln", n_feats=8).eval()
    calls = []
    model.G_T.register_forward_hook(lambda m, args, out: calls.append(("T", args[0], out[0])))
    model.G_R.register_forward_hook(lambda m, args, out: calls.append(("R", args[0], out[0])))
    x = torch.rand(1, 3, 16, 20)
    with torch.no_grad():
        out = model(x)
    assert [c[0] for c in calls] == ["T", "R"] * 3
    first_t_in = calls[0][1]
    assert torch.equal(first_t_in[:, :3], x) and torch.equal(first_t_in[:, 3:6], x)   # I, T_0 = I
    assert torch.all(first_t_in[:, 6:] == 0.1)                                         # R_0 = 0.1
    for k in range(1, 6):
        previous_out, inputs = calls[k - 1][2], calls[k][1]
        slot = slice(3, 6) if calls[k - 1][0] == "T" else slice(6, 9)
        torch.testing.assert_close(inputs[:, slot], previous_out)   # unclamped, as released
    torch.testing.assert_close(out.transmission, calls[4][2].clamp(0, 1))
    assert out.transmission_half.shape[-2:] == (8, 10) and out.transmission_quarter.shape[-2:] == (4, 5)


def test_ibcln_dropout_only_in_training():
    torch.manual_seed(0)
    model = create_model("ibcln", n_feats=8)
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        model.train()
        a, b = model(x).transmission, model(x).transmission
        model.eval()
        c, d = model(x).transmission, model(x).transmission
    assert not torch.equal(a, b) and torch.equal(c, d)


def test_ibcln_loss_terms():
    from uhr4k.models.archs.ibcln import IBCLNOutput
    from uhr4k.models.losses.terms import raw_vgg_features
    g = torch.Generator().manual_seed(0)
    ts = [torch.rand(1, 3, 16, 16, generator=g) for _ in range(3)]
    rs = [torch.rand(1, 3, 16, 16, generator=g) for _ in range(3)]
    half, quarter = torch.rand(1, 3, 8, 8, generator=g), torch.rand(1, 3, 4, 4, generator=g)
    target, image = torch.rand(1, 3, 16, 16, generator=g), torch.rand(1, 3, 16, 16, generator=g)
    outputs = IBCLNOutput(ts[2], rs[2], ts[0], ts[1], rs[0], rs[1], half, quarter, half.flip(-1), quarter.flip(-1))
    vgg = _random_vgg()
    total, parts = build_loss("ibcln", vgg=vgg)(outputs, target, inputs=image)
    pixel = sum(F.mse_loss(t, target) for t in ts)
    residual = sum(F.mse_loss(image ** 2.2, t ** 2.2 + r ** 2.2) for t, r in zip(ts, rs, strict=True))
    refl = sum(F.mse_loss(r ** 2.2 + target ** 2.2, image ** 2.2) for r in rs)

    def v(a, b):
        fa, fb = raw_vgg_features(vgg, a, (1, 6)), raw_vgg_features(vgg, b, (1, 6))
        return F.l1_loss(fa[0], fb[0]) / 2.6 + F.l1_loss(fa[1], fb[1]) / 4.8
    from uhr4k.models.losses.terms import resize_target
    perceptual = v(ts[2], target) + 0.8 * v(half, resize_target(target, half)) + 0.6 * v(quarter, resize_target(
        target, quarter))
    expected = pixel + 10 * residual + 10 * refl + perceptual
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    assert parts["perceptual"] == pytest.approx(perceptual.item(), rel=1e-5)
    # Without the input (a bare criterion call) or alpha=None the linear-light terms are left out.
    bare, parts = build_loss("ibcln", perceptual_weight=0)(outputs, target)
    assert set(parts) == {"pixel", "total"} and bare.item() == pytest.approx(pixel.item(), rel=1e-5)


# ---------------------------------------------------------------------------------------- CFDNet

def test_cfdnet_contrastive_split_sees_the_whole_image():
    # The softmax / softmin run over all H x W positions: a change in one corner reaches the opposite
    # corner's output (a purely local network of this depth could not: its receptive field is < 100 px).
    torch.manual_seed(0)
    model = create_model("cfdnet", feature_channel=16, s_channel=2).eval()
    x = torch.rand(1, 3, 8, 160)
    y = x.clone()
    y[..., :, :4] = 1.0
    with torch.no_grad():
        a, b = model(x), model(y)
    assert not torch.equal(a.head_transmission[..., -1], b.head_transmission[..., -1])
    # The heads are 1x1 convs of f + f * w: w the softmax over all positions for the reflection, the
    # softmin for the transmission (float64, so that swapping them or dropping w shows).
    model = model.double()
    x = x.double()
    with torch.no_grad():
        out, f = model(x), model.head(x)
        flat = f.flatten(2)
        torch.testing.assert_close(out.head_reflection, model.outc1(f + f * F.softmax(flat, -1).view_as(f)),
                                   atol=1e-12, rtol=0)
        torch.testing.assert_close(out.head_transmission, model.outc2(f + f * F.softmin(flat, -1).view_as(f)),
                                   atol=1e-12, rtol=0)


def test_cfdnet_loss_terms():
    from uhr4k.models.archs.cfdnet import CFDNetOutput
    from uhr4k.models.losses.reflection import total_variation
    from uhr4k.models.losses.terms import raw_vgg_features
    g = torch.Generator().manual_seed(0)
    images = [torch.rand(1, 3, 16, 16, generator=g) for _ in range(6)]
    target, reflection = torch.rand(1, 3, 16, 16, generator=g), torch.rand(1, 3, 16, 16, generator=g)
    outputs = CFDNetOutput(*images)
    vgg = _random_vgg()
    weights = (1 / 2.6, 1 / 4.8, 1 / 3.7, 1 / 5.6, 10 / 1.5)

    def p(a, b):   # the release's VGGLoss: VGG of 255 * normalised images, plus L1 at 0-255
        fa = raw_vgg_features(vgg, 255 * (a - vgg.mean) / vgg.std, (1, 6, 11, 20, 29))
        fb = raw_vgg_features(vgg, 255 * (b - vgg.mean) / vgg.std, (1, 6, 11, 20, 29))
        return sum(w * F.l1_loss(u, v) for w, u, v in zip(weights, fa, fb, strict=True)) + 255 * F.l1_loss(a, b)
    loss = build_loss("cfdnet", vgg=vgg)
    total, _ = loss(outputs, target)
    expected = 100 * 0.2 * p(images[0], target) + 0.05 * total_variation(images[0])
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    with_r, _ = loss(outputs, target, reflection=reflection)
    extra = 100 * (F.l1_loss(images[1], reflection) + 0.2 * p(images[1], reflection))
    assert with_r.item() == pytest.approx((expected + extra).item(), rel=1e-5)
    tv = (images[0][..., :, 1:] - images[0][..., :, :-1]).abs().mean() + \
        (images[0][..., 1:, :] - images[0][..., :-1, :]).abs().mean()
    torch.testing.assert_close(total_variation(images[0]), tv)


# ---------------------------------------------------------------------------------------- Zou et al.

def test_zou2020_release_checkpoint_loads_through_create_model(tmp_path):
    # best_ckpt.pt holds the generator, three discriminators, optimizers and schedulers.
    state = release_state("zou2020")
    path = tmp_path / "best_ckpt.pt"
    torch.save({"model_G_state_dict": state, "model_D1_state_dict": {"model.0.weight": torch.zeros(2, 6, 4, 4)},
                "exp_lr_scheduler_G_state_dict": {"step_size": 100}}, path)
    model = create_model("zou2020", pretrained=path)
    assert torch.equal(model.net_G.model.model[3].weight, state["model.model.3.weight"])
    # norm='none': no convolution has a bias but the outermost transposed one.
    biases = [k for k in state if k.endswith(".bias")]
    assert biases == ["model.model.3.bias"]


def test_zou2020_pads_to_512_or_resizes_like_the_release():
    torch.manual_seed(0)
    model = create_model("zou2020", ngf=8).eval()
    seen = []
    model.net_G.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[-2:]))
    x = torch.rand(1, 3, 37, 600)
    with torch.no_grad():
        out = model(x)
        released = create_model("zou2020", ngf=8, resize_to=512)
        released.load_state_dict(model.state_dict())
        released.net_G.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[-2:]))
        thumb = released.eval()(x)
    assert seen == [(512, 1024), (512, 512)]
    assert out.transmission.shape == out.reflection.shape == thumb.transmission.shape == x.shape
    with pytest.raises(ValueError, match="multiple of 512"):
        create_model("zou2020", resize_to=300)


def test_zou2020_macs_at_4k():
    # 3840 x 2160 runs whole, padded to 4096 x 2560; the release's 512 x 512 evaluation costs 40x less.
    with torch.device("meta"):
        model = create_model("zou2020")
    assert count_macs(model) == pytest.approx(0.9848e12, rel=1e-3)


def test_zou2020_loss_is_l1_of_both_layers():
    from uhr4k.models.archs.zou2020 import Zou2020Output
    t, r, target, reflection = (torch.rand(1, 3, 8, 8) for _ in range(4))
    loss = build_loss("zou2020")
    total, parts = loss(Zou2020Output(t, r), target)
    assert total.item() == pytest.approx(F.l1_loss(t, target).item())
    both, _ = loss(Zou2020Output(t, r), target, reflection=reflection)
    assert both.item() == pytest.approx((F.l1_loss(t, target) + F.l1_loss(r, reflection)).item())


def test_adversarial_term_is_optional_and_trains_its_discriminator():
    from uhr4k.models.archs.zou2020 import Zou2020Output
    torch.manual_seed(0)
    t, r, target = (torch.rand(2, 3, 32, 32) for _ in range(3))
    plain = build_loss("zou2020")
    assert plain.discriminator is None
    with pytest.raises(ValueError, match="no discriminator"):
        plain.discriminator_loss(Zou2020Output(t, r), target)
    loss = build_loss("zou2020", adversarial_weight=0.01)
    total, parts = loss(Zou2020Output(t, r), target)
    assert total.item() == pytest.approx(F.l1_loss(t, target).item() + 0.01 * parts["adversarial"], rel=1e-5)
    d_loss = loss.discriminator_loss(Zou2020Output(t.requires_grad_(), r), target)
    d_loss.backward()
    assert t.grad is None   # the discriminator's loss does not reach the generator's output
    assert all(p.grad is not None for p in loss.discriminator.parameters())

