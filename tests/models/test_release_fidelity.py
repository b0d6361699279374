"""The forward is the release's: NAFNet's zero padding and TLC pooling, DMGN's mask normalisation."""
import torch
import torch.nn.functional as F

from uhr4k.models import create_model
from uhr4k.models.archs.nafnet import ChannelAverage, tlc_window

SMALL_NAFNET = {"width": 8, "enc_blocks": (1, 1, 1, 1)}


def _perturbed(model, seed=0, scale=0.05):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)
    return model.eval()


def test_tlc_windows_are_the_release_gopro_ones():
    # 1.5 x the 256 training crop at each level: 384, 192, 96, 48, 24 px.
    assert [tlc_window(256, level, 16)[0] for level in range(5)] == [384, 192, 96, 48, 24]


def test_local_average_is_a_clipped_box_mean_with_replicated_border():
    x = torch.rand(2, 3, 9, 14, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    pool = ChannelAverage((4, 5)).eval()
    box = F.avg_pool2d(x, (4, 5), stride=1)                        # independent: (6, 10) valid windows
    want = F.pad(box, (2, 2, 1, 2), mode="replicate")               # centred, the extra row/column last
    assert torch.allclose(pool(x), want, atol=1e-12)
    assert torch.equal(ChannelAverage((9, 14)).eval()(x), F.adaptive_avg_pool2d(x, 1))   # window covers all
    assert torch.equal(pool.train()(x), F.adaptive_avg_pool2d(x, 1))                      # training: global


def test_nafnet_tlc_only_beyond_the_window_and_plain_with_tlc_false(one_thread):
    tlc = _perturbed(create_model("nafnet-w32", **SMALL_NAFNET))
    plain = create_model("nafnet-w32", **SMALL_NAFNET, tlc=False).eval()
    plain.load_state_dict(tlc.state_dict())
    small = torch.rand(1, 3, 32, 384, generator=torch.Generator().manual_seed(1))
    ramp = torch.linspace(0, 1, 768).expand(1, 3, 32, 768).contiguous()
    with torch.no_grad():
        assert torch.equal(tlc(small), plain(small))                  # within 384 px: global, as released
        assert (tlc(ramp) - plain(ramp)).abs().max().item() > 1e-4    # beyond: local statistics


def test_nafnet_pads_with_zeros_like_check_image_size(one_thread):
    model = _perturbed(create_model("nafnet-w32", **SMALL_NAFNET, tlc=False))
    x = torch.rand(1, 3, 37, 51, generator=torch.Generator().manual_seed(2))
    padded = F.pad(x, (0, 13, 0, 11))                                 # zeros to 48 x 64
    with torch.no_grad():
        assert torch.equal(model(x), model(padded)[..., :37, :51])


def test_dmgn_prior_stretch_is_the_releases_at_batch_one_and_per_image_beyond():
    from uhr4k.models.archs.dmgn import stretch_prior

    g = torch.Generator().manual_seed(3)
    one = torch.rand(1, 1, 6, 7, generator=g, dtype=torch.float64)
    release = (one - one.mean()) / (one.max() - one.mean())          # the release: no epsilon
    assert torch.equal(stretch_prior(one), release)
    two = torch.cat([one, 3 * torch.rand(1, 1, 6, 7, generator=g, dtype=torch.float64)])
    assert torch.equal(stretch_prior(two)[1:], stretch_prior(two[1:]))   # independent of its batch-mate
    flat = torch.full((1, 1, 4, 4), 0.25)
    assert torch.equal(stretch_prior(flat), torch.zeros_like(flat))      # the release: 0 / 0 = NaN


def test_dmgn_takes_and_returns_zero_one_images_and_runs_on_minus_one_one(one_thread):
    """With its output convolutions zeroed, every output is the input: the [-1, 1] mapping inside is
    undone exactly (forgetting either direction would give 2x - 1 or (x + 1) / 2)."""
    model = create_model("dmgn", register_unused=False).eval()
    with torch.no_grad():
        for head in (model.out_coarse[-1], model.out_reflection[-1], model.refine.out[-2]):
            head.weight.zero_()
            head.bias.zero_()
        x = torch.rand(1, 3, 20, 18, generator=torch.Generator().manual_seed(4))
        seen = []
        model.head.vgg[0].register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
        for out in model(x):
            assert torch.allclose(out, x, atol=1e-6)
    assert torch.equal(seen[0], x * 2 - 1)          # the hypercolumn of the input is taken on [-1, 1]
