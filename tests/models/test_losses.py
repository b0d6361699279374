"""Losses: eq. 8-11 by hand, the VGG-19 loader and its errors, the spectral-normalized discriminator."""
import pytest
import torch
import torch.nn.functional as F

from uhr4k.core.errors import InputError
from uhr4k.models.archs.discriminator import SNPatchDiscriminator, generator_adversarial_loss, hinge_discriminator_loss
from uhr4k.models.archs.vgg import PERCEPTUAL_LAYERS, VGG19_CONFIG, WEIGHTS_ENV, VGG19Features, load_vgg19
from uhr4k.models.losses import build_loss, discriminator_value, loss_names, loss_value
from uhr4k.models.losses.glsgn import GLSGNLoss, PerceptualDistance

pytestmark = pytest.mark.usefixtures("one_thread")


def torchvision_vgg19_state(seed=0) -> dict:
    """A state dict with torchvision vgg19's keys and shapes (features 0..34, classifier 0/3/6)."""
    g = torch.Generator().manual_seed(seed)
    state, index, channels = {}, 0, 3
    for item in VGG19_CONFIG:
        if item == "M":
            index += 1
            continue
        state[f"features.{index}.weight"] = torch.randn(item, channels, 3, 3, generator=g) * 0.05
        state[f"features.{index}.bias"] = torch.randn(item, generator=g) * 0.01
        channels, index = item, index + 2
    for i, (o, n) in {0: (4096, 25088), 3: (4096, 4096), 6: (1000, 4096)}.items():
        state[f"classifier.{i}.weight"] = torch.zeros(1, 1).expand(o, n)  # shape only; never loaded
        state[f"classifier.{i}.bias"] = torch.zeros(o)
    return state


def test_vgg_layout_matches_torchvision_indices():
    state = torchvision_vgg19_state()
    assert "features.34.weight" in state and "features.28.weight" in state  # torchvision's last convs
    vgg = VGG19Features()
    assert set(vgg.state_dict()) == {k for k in state if k.startswith("features.") and int(k.split(".")[1]) <= 28}
    feats = vgg(torch.rand(1, 3, 32, 48))
    assert [tuple(f.shape) for f in feats] == [(1, 64, 32, 48), (1, 128, 16, 24), (1, 256, 8, 12),
                                               (1, 512, 4, 6), (1, 512, 2, 3)]
    assert PERCEPTUAL_LAYERS == (1, 6, 11, 20, 29)
    assert all(isinstance(vgg.features[i], torch.nn.ReLU) for i in PERCEPTUAL_LAYERS)
    assert all(not p.requires_grad for p in vgg.parameters())


def test_vgg_loads_a_torchvision_state_dict_from_env(tmp_path, monkeypatch):
    state = torchvision_vgg19_state()
    torch.save({k: v.contiguous() for k, v in state.items() if not k.startswith("classifier")}, tmp_path / "vgg.pth")
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "vgg.pth"))
    vgg = load_vgg19()
    torch.testing.assert_close(vgg.features[28].weight, state["features.28.weight"])
    # first activation by hand: ImageNet normalisation, conv, relu
    x = torch.rand(1, 3, 16, 16)  # relu5_1 sits after 4 poolings
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    expected = F.relu(F.conv2d((x - mean) / std, state["features.0.weight"], state["features.0.bias"], padding=1))
    torch.testing.assert_close(vgg(x)[0], expected)


def test_vgg_errors_name_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    with pytest.raises(InputError, match=WEIGHTS_ENV):
        load_vgg19()
    with pytest.raises(InputError, match="missing.pth"):
        load_vgg19(tmp_path / "missing.pth")
    state = torchvision_vgg19_state()
    state["features.10.weight"] = torch.zeros(3, 3, 3, 3)
    torch.save({k: v.contiguous() for k, v in state.items() if k.startswith("features")}, tmp_path / "bad.pth")
    with pytest.raises(InputError, match=r"bad.pth: features.10.weight has shape \(3, 3, 3, 3\)"):
        load_vgg19(tmp_path / "bad.pth")


def test_glsgn_loss_needs_vgg_only_when_weighted(monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    with pytest.raises(InputError, match=WEIGHTS_ENV):
        build_loss("glsgn")
    assert build_loss("glsgn", perceptual_weight=0).perceptual is None


def test_glsgn_pixel_loss_by_hand():
    """Eq. 8 and 11 with constant images: L1 = |a - c| at every scale."""
    loss = GLSGNLoss(perceptual_weight=0, adversarial_weight=0)
    target = torch.full((2, 3, 16, 16), 0.5)
    outputs = (torch.full((2, 3, 16, 16), 0.7), torch.full((2, 3, 16, 16), 0.4), torch.full((2, 3, 8, 8), 0.8),
               torch.full((2, 3, 4, 4), 0.5), torch.full((2, 3, 4, 4), 0.1))
    total, parts = loss(outputs, target)
    expected = 0.5 * 0.2 + 0.1 * (0.1 + 0.3 + 0.0 + 0.4)
    assert total.item() == pytest.approx(expected, abs=1e-6)
    assert parts["pixel"] == pytest.approx(expected, abs=1e-6) and parts["total"] == pytest.approx(expected, abs=1e-6)


def test_glsgn_total_weights_eq11():
    vgg = VGG19Features()
    torch.manual_seed(0)
    for m in vgg.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.normal_(m.weight, std=0.05)
    loss = GLSGNLoss(vgg=vgg, discriminator_width=8)
    target, outputs = torch.rand(1, 3, 32, 32), (torch.rand(1, 3, 32, 32), torch.rand(1, 3, 16, 16))
    total, parts = loss(outputs, target, inputs=torch.rand(1, 3, 32, 32))
    assert total.item() == pytest.approx(parts["pixel"] + 0.01 * parts["perceptual"] + 0.01 * parts["adversarial"],
                                         rel=1e-5)
    perc = PerceptualDistance(vgg)
    assert perc(target, target).item() == 0.0
    by_hand = 0.5 * perc(outputs[0], target) + 0.1 * perc(outputs[1], F.interpolate(
        target, size=(16, 16), mode="bilinear", align_corners=False, antialias=True))
    assert parts["perceptual"] == pytest.approx(by_hand.item(), rel=1e-5)
    assert set(loss.state_dict()) == {k for k in loss.state_dict() if k.startswith("discriminator.")}


def test_discriminator_loss_does_not_reach_the_generator():
    loss = GLSGNLoss(perceptual_weight=0, discriminator_width=8)
    fake = torch.rand(2, 3, 32, 32, requires_grad=True)
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    d = loss.discriminator_loss((fake,), torch.rand(2, 3, 32, 32), inputs=x)
    d.backward()
    assert fake.grad is None and x.grad is not None  # the condition is an input of D, not detached data
    assert all(p.grad is not None for p in loss.discriminator.parameters())


def test_conditional_discriminator_judges_the_pair():
    torch.manual_seed(0)
    d = SNPatchDiscriminator(width=8)
    assert d.conditional and d.body[0].in_channels == 6
    image, a, b = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    d.eval()  # no power iteration between the calls: the same D judges both pairs
    assert not torch.allclose(d(image, a), d(image, b))          # same image, other input: other verdict
    # the pair is (condition, image) on channels, in [-1, 1]: the first convolution sees exactly that
    conv = d.body[0]
    expected = F.conv2d(torch.cat([a, image], 1) * 2 - 1, conv.weight, conv.bias, stride=2, padding=1)
    torch.testing.assert_close(d.body[:2](torch.cat([a, image], 1) * 2 - 1), F.leaky_relu(expected, 0.2))
    with pytest.raises(ValueError, match="conditional discriminator"):
        d(image)
    with pytest.raises(ValueError, match="same"):
        d(image, a[:, :, :16])
    plain = SNPatchDiscriminator(width=8, conditional=False)
    assert plain.body[0].in_channels == 3
    with pytest.raises(ValueError, match="unconditional"):
        plain(image, a)


def test_glsgn_loss_conditional_by_default_and_unconditional_selectable():
    torch.manual_seed(0)
    target, final = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    loss = GLSGNLoss(perceptual_weight=0, discriminator_width=8)
    loss.eval()
    with pytest.raises(ValueError, match="needs the degraded input"):
        loss((final,), target)
    x = torch.rand(2, 3, 32, 32)
    _, parts = loss((final,), target, inputs=x)
    assert parts["adversarial"] == pytest.approx(-loss.discriminator(final, x).mean().item(), rel=1e-6)
    real, fake = loss.discriminator(target, x), loss.discriminator(final, x)
    assert loss.discriminator_loss((final,), target, inputs=x).item() == pytest.approx(
        hinge_discriminator_loss(real, fake).item(), rel=1e-6)
    plain = GLSGNLoss(perceptual_weight=0, discriminator_width=8, conditional=False)
    plain.eval()
    _, parts = plain((final,), target)
    assert parts["adversarial"] == pytest.approx(-plain.discriminator(final).mean().item(), rel=1e-6)


def test_loss_value_passes_inputs_only_to_losses_that_take_them():
    target, final, x = torch.zeros(1, 3, 32, 32), torch.ones(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    total, _ = loss_value(build_loss("l1"), final, target, x)      # L1Loss.forward has no inputs
    assert total.item() == 1.0
    cond = GLSGNLoss(perceptual_weight=0, discriminator_width=8)
    total, parts = loss_value(cond, (final,), target, x)
    assert "adversarial" in parts
    assert discriminator_value(cond, (final,), target, x).ndim == 0


def test_hinge_and_generator_terms():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-0.5, 1.0])
    assert hinge_discriminator_loss(real, fake).item() == pytest.approx((0 + 0.5) / 2 + (0.5 + 2.0) / 2)
    assert generator_adversarial_loss(fake).item() == pytest.approx(-0.25)


def test_spectral_norm_bounds_every_convolution():
    torch.manual_seed(0)
    d = SNPatchDiscriminator(width=8, conditional=False)
    x = torch.rand(2, 3, 64, 64)
    for _ in range(30):  # power iterations converge during training-mode forwards
        d(x)
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 5
    for conv in convs:
        sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2).item()
        assert sigma == pytest.approx(1.0, abs=0.05)
    assert tuple(d(x).shape) == (2, 1, 6, 6)


def test_build_loss_names():
    assert {"l1", "glsgn"} <= set(loss_names())
    with pytest.raises(InputError, match="unknown loss 'nope'"):
        build_loss("nope")
    total, parts = build_loss("l1")((torch.ones(1, 3, 4, 4), torch.zeros(1, 3, 2, 2)), torch.zeros(1, 3, 4, 4))
    assert total.item() == 1.0 and parts["l1"] == 1.0
