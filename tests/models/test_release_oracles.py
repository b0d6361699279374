"""Released layouts through an independent implementation: spandrel builds Restormer, MPRNet and NAFNet
from a state dict in the authors' key layout; ours loads the same file through ``pretrained=``; both must
compute the same image."""
import pytest
import torch

from uhr4k.models import create_model


def _perturbed(module, seed, scale):
    """Random weights everywhere (NAFNet's zero-initialised residual scales would hide half the net)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.state_dict().values():
            if p.is_floating_point():
                p.add_(torch.randn(p.shape, generator=g) * scale)
    return module.eval()


def _compare(spandrel, release_module, name, kwargs, tmp_path, sizes, wrap="params"):
    path = tmp_path / "release.pth"
    torch.save({wrap: release_module.state_dict()}, path)
    descriptor = spandrel.ModelLoader().load_from_file(str(path))   # spandrel detects and builds it alone
    ours = create_model(name, pretrained=path, **kwargs)
    for h, w in sizes:
        x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(h + w))
        with torch.no_grad():
            want = descriptor(x)           # pads to its size requirement (reflection), crops, clamps to [0, 1]
            got = ours(x)
        got = (got[0] if isinstance(got, tuple) else got).clamp(0, 1)
        assert want.shape == got.shape
        assert (want - got).abs().max().item() <= 1e-5, (name, h, w)
        assert want.std().item() > 0.01      # a non-trivial image, not two constant outputs
    return descriptor


def test_restormer_release_layout_matches_spandrel(spandrel, tmp_path, one_thread):
    from spandrel_extra_arches.architectures.Restormer import Restormer

    release = _perturbed(Restormer(dim=16, num_blocks=[1, 1, 2, 2], num_refinement_blocks=1, heads=[1, 2, 4, 8]),
                         0, 0.05)
    descriptor = _compare(spandrel, release, "restormer",
                          {"dim": 16, "blocks": (1, 1, 2, 2), "refinement_blocks": 1}, tmp_path, [(32, 40), (27, 35)])
    assert descriptor.architecture.name == "Restormer"


def test_mprnet_release_layout_matches_spandrel(spandrel, tmp_path, one_thread):
    from spandrel_extra_arches.architectures.MPRNet import MPRNet

    release = _perturbed(MPRNet(n_feat=16, scale_unetfeats=8, scale_orsnetfeats=8, num_cab=2), 1, 0.02)
    _compare(spandrel, release, "mprnet-derain", {"n_feat": 16, "scale_unetfeats": 8, "scale_orsnetfeats": 8,
                                                   "num_cab": 2}, tmp_path, [(32, 40), (29, 37)], wrap="state_dict")


@pytest.mark.parametrize("name", ["nafnet-w32", "nafnet-w64"])
def test_nafnet_release_layout_matches_spandrel(spandrel, tmp_path, one_thread, name):
    """spandrel's NAFNet is the plain network (tlc=False); below the TLC window (384 px) ours equals it
    in its default TLC configuration too. spandrel pads by reflection where the release pads zeros:
    sizes here are multiples of 16, where neither pads."""
    from spandrel.architectures.NAFNet import NAFNet

    width = int(name.rsplit("w", 1)[1]) // 4
    release = _perturbed(NAFNet(width=width, enc_blk_nums=[1, 1, 1, 2], middle_blk_num=1, dec_blk_nums=[1, 1, 1, 1]),
                         2, 0.03)
    kwargs = {"width": width, "enc_blocks": (1, 1, 1, 2)}
    _compare(spandrel, release, name, {**kwargs, "tlc": False}, tmp_path, [(32, 48)])
    _compare(spandrel, release, name, kwargs, tmp_path, [(64, 32)])
