"""GLSGN: size, shapes, the four mechanisms and their ablation switches."""
import cv2
import numpy as np
import pytest
import torch

from uhr4k.benchmark.profiling import count_macs, count_parameters
from uhr4k.models import create_model, list_models
from uhr4k.models.archs.glsgn import memory
from uhr4k.models.archs.glsgn.blocks import PatchNorm, consistent_attention
from uhr4k.models.archs.glsgn.laplacian import LaplacianSynthesis, blur_halve, high_band, upsample2
from uhr4k.models.archs.glsgn.memory import ChunkPlan, from_patches, to_patches
from uhr4k.models.archs.glsgn.model import GLSGN, Pathway

pytestmark = pytest.mark.usefixtures("one_thread")


VARIANTS = ("glsgn", "glsgn-global-only", "glsgn-global-local", "glsgn-pn", "glsgn-pac", "glsgn-ssim", "glsgn-h0",
            "glsgn-h0h1")


def tiny(**kwargs) -> GLSGN:
    """A small GLSGN (same structure, 4 channels at the first scale) for fast checks."""
    torch.manual_seed(0)
    return GLSGN(**{"width": 4, "mask_width": 4, **kwargs})


def test_variants_registered():
    assert set(VARIANTS) <= set(list_models())


def test_size_matches_the_paper():
    model = create_model("glsgn")
    _, total = count_parameters(model)
    assert total == 15_687_925  # the paper: 15.69 M
    macs = count_macs(model, (1, 3, 2160, 3840))
    assert abs(macs / 0.625e12 - 1) < 0.15, macs


def test_shapes_4k_on_meta_device():
    model = create_model("glsgn").to("meta")
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 2160, 3840, device="meta"))
    assert [tuple(o.shape) for o in out] == [(1, 3, 2160, 3840), (1, 3, 2160, 3840), (1, 3, 1080, 1920),
                                             (1, 3, 540, 960), (1, 3, 540, 960)]


@pytest.mark.slow
def test_shapes_960x540_full_model():
    model = create_model("glsgn").eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 540, 960))
    assert [tuple(o.shape) for o in out] == [(1, 3, 540, 960), (1, 3, 540, 960), (1, 3, 270, 480),
                                             (1, 3, 135, 240), (1, 3, 135, 240)]
    assert all(torch.isfinite(o).all() for o in out)


def test_shapes_1000x700_padded_and_cropped():
    with torch.no_grad():
        out = tiny()(torch.rand(2, 3, 700, 1000))
    assert [tuple(o.shape) for o in out] == [(2, 3, 700, 1000), (2, 3, 700, 1000), (2, 3, 350, 500),
                                             (2, 3, 175, 250), (2, 3, 175, 250)]


@pytest.mark.parametrize("n", [1, 2, 4])
def test_local_pathway_sweep(n):
    model = tiny(num_local_pathways=n)
    assert len(model.local_pathways) == n and model.grid_side == 2 ** (n - 1)
    size = 16 * 2 ** (n - 1)
    with torch.no_grad():
        out = model(torch.rand(1, 3, size, 2 * size))
    assert len(out) == n + 2
    assert tuple(out[0].shape) == (1, 3, size, 2 * size)
    assert tuple(out[-1].shape) == (1, 3, size // 2 ** (n - 1), 2 * size // 2 ** (n - 1))


def test_bad_input_shape_names_it():
    with pytest.raises(ValueError, match=r"\(3, 64, 64\)"):
        tiny()(torch.rand(3, 64, 64))


def test_deterministic_forward():
    model = tiny().eval()
    x = torch.rand(1, 3, 64, 128)
    with torch.no_grad():
        a, b = model(x), model(x)
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))


def test_chunking_does_not_change_the_result():
    model = tiny().eval()
    x = torch.rand(1, 3, 128, 192)
    with torch.no_grad():
        model.patch_chunk = 1
        chunked = model(x)
        model.patch_chunk = 16
        whole = model(x)
    with_grad = model(x)  # autograd on: no chunking at all
    for c, w, g in zip(chunked, whole, with_grad, strict=True):
        torch.testing.assert_close(c, w, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(c, g.detach(), atol=1e-6, rtol=1e-5)


def test_chunked_inference_runs_the_pathways_own_stages(monkeypatch):
    """Inference runs each pathway's own forward and stage functions, the patch-local ones once per chunk:
    the chunked pass is the whole pass on chunks of patches, not a second copy of the equations."""
    calls = {}

    def counting(name, original):
        def counted(self, *args, **kwargs):
            calls[name] = calls.get(name, 0) + 1
            return original(self, *args, **kwargs)
        return counted
    for name in ("forward", "encode", "decode", "gate", "fuse", "residual"):
        monkeypatch.setattr(Pathway, name, counting(name, getattr(Pathway, name)))
    model = tiny(patch_chunk=3).eval()
    heads = []
    model.local_pathways[0].head.register_forward_hook(lambda m, args, out: heads.append(args[0].shape[0]))
    with torch.no_grad():
        model(X)
    pathways, levels = 1 + len(model.local_pathways), model.global_pathway.scales
    assert calls["forward"] == calls["encode"] == calls["decode"] == pathways
    assert calls["gate"] == pathways * levels                       # eq. 2 on all patches of the pathway
    chunks = [1, 6, 2, 1]                                           # 1, 16, 4, 1 patches in chunks of 3
    assert calls["residual"] == sum(chunks) and calls["fuse"] == sum(chunks) * levels
    assert heads == [3, 3, 3, 3, 3, 1]                              # S_1's 16 patches, 3 at a time
    with pytest.raises(ValueError, match="chunk must be >= 1"):
        ChunkPlan(0)


@pytest.mark.slow
def test_compiles_as_one_graph_with_the_same_result():
    """torch.compile traces the pass on all patches at once: no graph break with or without autograd, same outputs as
    eager (chunked without autograd). A small configuration: breaks come from code, not sizes."""
    torch.manual_seed(0)
    model = GLSGN(width=2, mask_width=2, num_local_pathways=2, enc_blocks=(0, 1), dec_blocks=(1, 1),
                  widths=(2, 4, 8), mid_blocks=1).eval()
    x = torch.rand(1, 3, 32, 64)
    torch._dynamo.reset()
    with torch.inference_mode():
        inference = torch._dynamo.explain(model)(x)
    training = torch._dynamo.explain(model)(x)
    for report in (inference, training):
        assert (report.graph_count, report.graph_break_count) == (1, 0), report.break_reasons
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    with torch.inference_mode():
        eager, traced = model(x), compiled(x)
    for a, b in zip(eager, traced, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    torch._dynamo.reset()


def test_every_parameter_receives_a_gradient():
    model = tiny()
    out = model(torch.rand(2, 3, 64, 128))
    sum(o.square().mean() for o in out).backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


# ------------------------------------------------------------------------------------ Laplacian


def test_blur_halve_matches_opencv_pyrdown():
    rng = np.random.default_rng(0)
    img = rng.random((36, 52, 3), dtype=np.float32)
    ours = blur_halve(torch.from_numpy(img).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(ours, cv2.pyrDown(img), atol=1e-5)


def test_upsample_matches_opencv_linear_resize():
    rng = np.random.default_rng(1)
    img = rng.random((20, 30, 3), dtype=np.float32)
    ours = upsample2(torch.from_numpy(img).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(ours, cv2.resize(img, (60, 40), interpolation=cv2.INTER_LINEAR), atol=1e-5)


def test_laplacian_invariant_consistent_pyramid_gives_b1():
    """docs/paper.md (LP): masks = 1, B_2 = d(B_1), B_g = B_3 = d(B_2) => B_out == B_1."""
    torch.manual_seed(0)
    b1 = torch.rand(2, 3, 64, 96)
    b2 = blur_halve(b1)
    b3 = blur_halve(b2)
    out = LaplacianSynthesis(3, learn_masks=False)([b1, b2, b3], b3)
    torch.testing.assert_close(out, b1, atol=1e-5, rtol=0)


def test_laplacian_masks_gate_the_bands():
    torch.manual_seed(0)
    b1, b2, b3 = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 16, 16), torch.rand(1, 3, 8, 8)
    synth = LaplacianSynthesis(3, width=4)
    out, masks = synth([b1, b2, b3], b3, return_masks=True)
    assert [tuple(m.shape) for m in masks] == [(1, 3, 32, 32), (1, 3, 16, 16), (1, 3, 8, 8)]
    assert all(((m > 0) & (m < 1)).all() for m in masks)
    low = upsample2(blur_halve(b3))
    expected = high_band(b1) * masks[0] + upsample2(
        high_band(b2) * masks[1] + upsample2(high_band(b3) * masks[2] + low))
    torch.testing.assert_close(out, expected)


# ------------------------------------------------------------------------------- patch norm, PAC


def test_patch_grid_round_trip_and_order():
    x = torch.arange(2 * 1 * 4 * 6, dtype=torch.float32).reshape(2, 1, 4, 6)
    p = to_patches(x, (2, 3))
    assert tuple(p.shape) == (12, 1, 2, 2)
    torch.testing.assert_close(p[1], x[0, :, 0:2, 2:4])   # image 0, row 0, column 1
    torch.testing.assert_close(p[6 + 3], x[1, :, 2:4, 0:2])  # image 1, row 1, column 0
    torch.testing.assert_close(from_patches(p, (2, 3)), x)


def test_patch_grid_keeps_channels_last_order_and_values():
    """Channels-last images give channels-last patches (a plain reshape would hand every convolution after
    it an NCHW tensor to convert back), with the same values as the NCHW path, both ways."""
    x = torch.rand(2, 5, 8, 12)
    nhwc = x.contiguous(memory_format=torch.channels_last)
    patches = to_patches(nhwc, (2, 3))
    assert patches.is_contiguous(memory_format=torch.channels_last) and not patches.is_contiguous()
    torch.testing.assert_close(patches, to_patches(x, (2, 3)), atol=0, rtol=0)
    back = from_patches(patches, (2, 3))
    assert back.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(back, x, atol=0, rtol=0)
    assert to_patches(x, (2, 3)).is_contiguous()                  # NCHW stays NCHW


def test_channels_last_inference_stays_channels_last_and_agrees(monkeypatch):
    """The chunked pass of a channels-last model keeps every chunk-assembled tensor in channels-last order
    and returns what the NCHW model returns."""
    assembled, original = [], memory.map_chunks
    monkeypatch.setattr(memory, "map_chunks", lambda *args: assembled.append(original(*args)) or assembled[-1])
    model = tiny(patch_chunk=3).eval()
    x = torch.rand(1, 3, 128, 192)
    with torch.no_grad():
        reference = model(x)
        assembled.clear()
        fast = model.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    four_d = [t for t in assembled if t.ndim == 4 and t.shape[1] > 1 and t.shape[-1] > 1]
    assert four_d and all(t.is_contiguous(memory_format=torch.channels_last) for t in four_d)
    for a, b in zip(reference, fast, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_patch_norm_equal_patches_is_identity_plus_bias():
    torch.manual_seed(0)
    norm = PatchNorm(3)
    x, x_hat = torch.rand(1, 3, 5, 5) + 0.5, torch.rand(1, 3, 5, 5)
    xs, x_hats = x.repeat(4, 1, 1, 1), x_hat.repeat(4, 1, 1, 1)
    out = norm(xs, x_hats, (2, 2))
    torch.testing.assert_close(out, x_hats + norm.bias(x_hats))


def test_patch_norm_hand_computation_2x2():
    norm = PatchNorm(1, eps=0.0, max_factor=None)  # the bare eq. 4
    torch.nn.init.zeros_(norm.bias.weight)
    torch.nn.init.zeros_(norm.bias.bias)
    x = torch.ones(4, 1, 2, 2)
    # restoring intensities r = mean |x^ / x| per patch: 1, 2, 4, 8 (patches row by row)
    x_hat = torch.tensor([1.0, 2.0, 4.0, 8.0]).view(4, 1, 1, 1).expand(4, 1, 2, 2).clone()
    x_hat[0, 0, 0, 0] = -1.0  # |.| makes the sign irrelevant
    out = norm(x, x_hat, (2, 2))
    # each patch of a 2x2 grid has 2 neighbours: (0,0) <- (0,1),(1,0) ...
    factors = [(2 + 4) / 2 / 1, (1 + 8) / 2 / 2, (1 + 8) / 2 / 4, (2 + 4) / 2 / 8]
    torch.testing.assert_close(out, x_hat * torch.tensor(factors).view(4, 1, 1, 1))
    norm.max_factor = 2.0  # the model's default bound: 3 -> 2, 0.375 -> 0.5
    bounded = [2.0, 2.0, 1.125, 0.5]
    torch.testing.assert_close(norm(x, x_hat, (2, 2)), x_hat * torch.tensor(bounded).view(4, 1, 1, 1))


def test_patch_norm_border_patches_average_existing_neighbours():
    r = torch.arange(1.0, 10.0).view(9, 1)  # 3x3 grid, r = 1..9 row by row
    a = PatchNorm.neighbour_ratio(r, (3, 3)).view(3, 3)
    assert a[0, 0] == pytest.approx((2 + 4) / 2 / 1)
    assert a[0, 1] == pytest.approx((1 + 3 + 5) / 3 / 2)
    assert a[1, 1] == pytest.approx((2 + 4 + 6 + 8) / 4 / 5)
    assert PatchNorm.neighbour_ratio(torch.tensor([[3.0, 0.5]]), (1, 1)).tolist() == [[1.0, 1.0]]


def test_pac_normalisation():
    own, prev, glob = torch.full((1, 1, 2, 2), 0.2), torch.full((1, 1, 2, 2), 0.6), torch.full((1, 1, 2, 2), 1.0)
    torch.testing.assert_close(consistent_attention(own, prev, glob, 0.5, 0.25),
                               torch.full((1, 1, 2, 2), (0.2 + 0.3 + 0.25) / 1.75))
    torch.testing.assert_close(consistent_attention(own, None, glob, 0.5, 0.25),
                               torch.full((1, 1, 2, 2), (0.2 + 0.25) / 1.25))
    torch.testing.assert_close(consistent_attention(own, None, None, 0.5, 0.25), own)


# ---------------------------------------------------------------------------- ablation switches


def _keys(model):
    return set(model.state_dict())


def _outputs(model, x):
    with torch.no_grad():
        return model.eval()(x)


X = torch.rand(1, 3, 64, 128, generator=torch.Generator().manual_seed(3))


def test_pn_switch_removes_exactly_patch_norm(monkeypatch):
    full, without = tiny(), tiny(pn=False)
    extra = _keys(full) - _keys(without)
    assert extra and all(".patch_norms." in k for k in extra) and _keys(without) <= _keys(full)
    without.load_state_dict({k: v for k, v in full.state_dict().items() if k in _keys(without)})
    assert not torch.allclose(_outputs(full, X)[0], _outputs(without, X)[0])
    monkeypatch.setattr(PatchNorm, "modulate", lambda self, x_hat, a: x_hat)
    for a, b in zip(_outputs(full, X), _outputs(without, X), strict=True):
        torch.testing.assert_close(a, b)


def test_pac_switch_removes_exactly_the_consistency():
    full, without, zero_sigma = tiny(), tiny(pac=False), tiny(sigma1=0.0, sigma2=0.0)
    assert _keys(full) == _keys(without)
    without.load_state_dict(full.state_dict())
    zero_sigma.load_state_dict(full.state_dict())
    assert not torch.allclose(_outputs(full, X)[0], _outputs(without, X)[0])
    for a, b in zip(_outputs(zero_sigma, X), _outputs(without, X), strict=True):
        torch.testing.assert_close(a, b)


def test_lp_switch_changes_only_the_synthesis():
    full, without = tiny(), tiny(lp=False)
    extra = _keys(full) - _keys(without)
    assert extra and all(k.startswith("synthesis.") for k in extra) and _keys(without) <= _keys(full)
    without.load_state_dict({k: v for k, v in full.state_dict().items() if k in _keys(without)})
    a, b = _outputs(full, X), _outputs(without, X)
    for stage_a, stage_b in zip(a[1:], b[1:], strict=True):
        torch.testing.assert_close(stage_a, stage_b)
    expected = torch.nn.functional.interpolate(b[3], scale_factor=4.0, mode="bilinear", align_corners=False)
    torch.testing.assert_close(b[0], expected)
    assert not torch.allclose(a[0], b[0])


def test_iterative_decoding_switch_cuts_the_feature_flow():
    """Without iterative decoding (PAC and PN off too) an S1 patch sees only itself; with it, Sg reaches it."""
    x2 = X.clone()
    x2[..., 64:] = 0.0  # changes the right-hand S1 patches (and so the global pathway's input)
    left = (slice(None), slice(None), slice(None), slice(0, 64))
    isolated = tiny(iterative_decoding=False, pac=False, pn=False)
    a, b = _outputs(isolated, X), _outputs(isolated, x2)
    torch.testing.assert_close(a[1][left], b[1][left], atol=0, rtol=0)
    coupled = tiny(pac=False, pn=False)
    a, b = _outputs(coupled, X), _outputs(coupled, x2)
    assert not torch.allclose(a[1][left], b[1][left])


def test_global_only_variant():
    model = tiny(global_only=True)
    assert not model.local_pathways and model.synthesis is None
    assert all(k.startswith("global_pathway.") for k in _keys(model))
    out = _outputs(model, X)
    assert len(out) == 2 and tuple(out[0].shape) == (1, 3, 64, 128) and tuple(out[1].shape) == (1, 3, 16, 32)


def test_registered_variants_have_their_switches():
    expected = {"glsgn": (True, True, True), "glsgn-pac": (True, True, False), "glsgn-pn": (True, False, False),
                "glsgn-global-local": (False, False, False)}
    for name, (pn, pac, lp) in expected.items():
        model = create_model(name, width=2, mask_width=2)
        has_pn = any(".patch_norms." in k for k in model.state_dict())
        assert (has_pn, model.pac, model.synthesis is not None) == (pn, pac, lp), name
    assert create_model("glsgn-global-only", width=2).global_only


def test_patch_norm_couples_the_patches_of_one_image():
    """With iterative decoding and PAC off, only PN lets an S1 patch see the other patches."""
    x2 = X.clone()
    x2[..., 64:] = 0.0
    left = (slice(None), slice(None), slice(None), slice(0, 64))
    coupled = tiny(iterative_decoding=False, pac=False, pn=True)
    a, b = _outputs(coupled, X), _outputs(coupled, x2)
    assert not torch.allclose(a[1][left], b[1][left])


def test_images_of_a_batch_stay_independent():
    """Patch grids (PN statistics, stitching) never mix two images of one batch, chunked or not."""
    model = tiny().eval()
    first, second = torch.rand(1, 3, 64, 128), torch.rand(1, 3, 64, 128)
    with torch.no_grad():
        alone = model(first)
        for chunk in (1, 16):
            model.patch_chunk = chunk
            together = model(torch.cat([first, second]))
            for a, t in zip(alone, together, strict=True):
                torch.testing.assert_close(t[:1], a, atol=1e-6, rtol=1e-5)


def test_module_apply_reaches_every_submodule():
    """nn.Module.apply (weight init, counting tools) must not be shadowed by a block's own method."""
    model = tiny()
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert "PatchNorm" in seen and seen[-1] == "GLSGN"
    assert len(seen) == len(list(model.modules()))


# ------------------------------------------------------------------- Table V variants, LP options


def test_laplacian_with_fewer_bands_drops_exactly_the_coarse_ones():
    torch.manual_seed(0)
    b1, b2, bg, b3 = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 16, 16), torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    low = upsample2(blur_halve(b3))
    plain = [LaplacianSynthesis(3, learn_masks=False, used_bands=k)([b1, b2, bg], b3) for k in (1, 2, 3)]
    torch.testing.assert_close(plain[0], high_band(b1) + upsample2(upsample2(low)))
    torch.testing.assert_close(plain[1], high_band(b1) + upsample2(high_band(b2) + upsample2(low)))
    torch.testing.assert_close(plain[2], high_band(b1) + upsample2(high_band(b2) + upsample2(high_band(bg) + low)))
    synth = LaplacianSynthesis(3, width=4, used_bands=2)
    assert len(synth.masks) == 2 and synth.masks[1].body[0].in_channels == 6     # the coarsest kept: no coarser mask
    out, masks = synth([b1, b2, bg], b3, return_masks=True)
    torch.testing.assert_close(out, high_band(b1) * masks[0] + upsample2(high_band(b2) * masks[1] + upsample2(low)))
    with pytest.raises(ValueError, match="used_bands must lie in 1..3"):
        LaplacianSynthesis(3, used_bands=4)


def _stage_pyramid(out, bands):
    """B_out of the mask-free synthesis recomputed from a model's stage outputs (B_1, B_2, B_3, B_g)."""
    b1, b2, b3, bg = out[1:]
    finest_first = [b1, b2, bg]
    recon = upsample2(blur_halve(b3))
    for i in reversed(range(3)):
        if i < 2:
            recon = upsample2(recon)
        if i < bands:
            recon = recon + high_band(finest_first[i])
    return recon


@pytest.mark.parametrize("name, bands", [("glsgn-h0", 1), ("glsgn-h0h1", 2), ("glsgn", 3)])
def test_table5_band_variants_remove_exactly_their_bands(name, bands):
    full = create_model("glsgn", width=4, mask_width=4)
    variant = create_model(name, width=4, mask_width=4)
    # the same network except the mask networks of the bands it drops (and the coarsest kept mask's input)
    removed = _keys(full) - _keys(variant)
    assert {k.split(".")[2] for k in removed} == {str(i) for i in range(bands, 3)}
    assert all(k.startswith("synthesis.masks.") for k in removed) and _keys(variant) <= _keys(full)
    assert variant.synthesis.masks[bands - 1].body[0].in_channels == 6
    # without masks, B_out is exactly the pyramid of its bands over the stage outputs
    plain = create_model(name, width=4, mask_width=4, lp_masks=False)
    assert plain.synthesis.masks is None and not any(k.startswith("synthesis") for k in _keys(plain))
    out = _outputs(plain, X)
    torch.testing.assert_close(out[0], _stage_pyramid(out, bands), atol=1e-5, rtol=0)


def test_table5_ssim_variant_is_glsgn_pac_with_an_ssim_loss():
    from uhr4k.models.losses import build_loss
    from uhr4k.models.losses.glsgn import GLSGNLoss
    from uhr4k.models.losses.terms import gaussian_window, ssim_map

    variant, pac = create_model("glsgn-ssim", width=4), create_model("glsgn-pac", width=4)
    assert variant.synthesis is None and variant.default_loss == "glsgn_ssim" and pac.default_loss == "glsgn"
    assert {k: v.shape for k, v in variant.state_dict().items()} == {k: v.shape for k, v in pac.state_dict().items()}
    torch.manual_seed(0)
    target, x = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    outputs = (torch.rand(1, 3, 32, 32), torch.rand(1, 3, 16, 16))
    loss = build_loss("glsgn_ssim", perceptual_weight=0.0, adversarial_weight=0.0)
    plain = GLSGNLoss(perceptual_weight=0.0, adversarial_weight=0.0)
    total, parts = loss(outputs, target, inputs=x)
    ssim = ssim_map(outputs[0], target, gaussian_window()).mean()
    assert total.item() == pytest.approx(plain(outputs, target)[0].item() + (1 - ssim.item()), rel=1e-6)
    assert parts["ssim"] == pytest.approx(ssim.item(), rel=1e-6)


def test_no_lp_output_b3_default_or_b1():
    b3, b1 = tiny(lp=False), tiny(lp=False, no_lp_output="b1")
    b1.load_state_dict(b3.state_dict())
    out3, out1 = _outputs(b3, X), _outputs(b1, X)
    for a, b in zip(out3[1:], out1[1:], strict=True):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(out3[0], torch.nn.functional.interpolate(out3[3], scale_factor=4.0, mode="bilinear",
                                                                        align_corners=False))
    torch.testing.assert_close(out1[0], out1[1])                                 # the full-resolution B_1
    assert create_model("glsgn-pac").no_lp_output == "b3"
    with pytest.raises(ValueError, match="no_lp_output must be one of"):
        tiny(no_lp_output="b2")


# --------------------------------------------------------------------------- attention maps (Fig. 8)


def test_attention_maps_are_the_ones_the_forward_used():
    from uhr4k.models.archs.glsgn.attention import attention_maps

    model = tiny()
    seen = {}
    # inference runs the patches in chunks: every call's output, in order
    hooks = [a.register_forward_hook(lambda m, i, o, key=(name, level): seen.setdefault(key, []).append(o))
             for name, p in [("global", model.global_pathway)] + [(f"local{k + 1}", p) for k, p in
                                                                  enumerate(model.local_pathways)]
             for level, a in enumerate(p.attention)]
    maps = attention_maps(model, X)
    for h in hooks:
        h.remove()
    assert "gate" not in vars(model.local_pathways[0])             # the recording is undone
    assert [(m.pathway, m.level) for m in maps] == [(p, lv) for p in ("global", "local1", "local2", "local3")
                                                      for lv in range(4)]
    sizes = {(m.pathway, m.level): tuple(m.plain.shape) for m in maps}
    assert sizes[("local1", 0)] == (1, 1, 64, 128) and sizes[("local2", 0)] == (1, 1, 32, 64)
    assert sizes[("local3", 1)] == (1, 1, 8, 16) and sizes[("global", 0)] == (1, 1, 16, 32)
    grids = {"global": (1, 1), "local1": (4, 4), "local2": (2, 2), "local3": (1, 1)}
    for m in maps:   # the plain map is f(E) of the pathway's own attention module, patches stitched
        calls = seen[(m.pathway, m.level)]
        # the global pathway's modules run once more, on its decoded features (f_g(F_g) of eq. 2)
        own = calls[0] if m.pathway == "global" else torch.cat(calls)
        torch.testing.assert_close(m.plain, from_patches(own, grids[m.pathway]))
        assert ((m.applied > 0) & (m.applied < 1)).all()
    local1 = next(m for m in maps if (m.pathway, m.level) == ("local1", 0))
    assert not torch.allclose(local1.applied, local1.plain)       # PAC mixes in the global attention
    plain_model = tiny(pac=False)
    assert all(torch.equal(m.plain, m.applied) for m in attention_maps(plain_model, X))


def test_attention_command_writes_the_maps(tmp_path):
    from click.testing import CliRunner

    from uhr4k.cli import cli
    from uhr4k.core.images import read_image, write_image

    image = tmp_path / "scene.png"
    write_image(image, (X[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    result = CliRunner().invoke(cli, ["attention", str(image), "--model", "glsgn-pac", "--out", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    assert "random weights" in result.output
    folder = tmp_path / "a" / "scene"
    names = sorted(p.name for p in folder.iterdir())
    assert "local2-level0-pac.png" in names and "local2-level0-plain.png" in names and "sheet.png" in names
    assert "global-level0-pac.png" not in names                  # the global pathway has no PAC
    assert read_image(folder / "local1-level0-plain.png").shape == (64, 128, 3)
    result = CliRunner().invoke(cli, ["attention", str(image), "--model", "prenet", "--out", str(tmp_path / "b")])
    assert result.exit_code == 2 and "not a GLSGN" in result.output
    result = CliRunner().invoke(cli, ["attention", str(image), "--level", "9", "--out", str(tmp_path / "c")])
    assert result.exit_code == 2 and "no attention maps at level 9" in result.output
