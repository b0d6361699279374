"""Every learned baseline's converter against its release's key layout (``release_keys/NAME.txt``: the
key names and shapes of the authors' state dict, recorded from their code; see each file's header)."""

import pytest
import torch

from uhr4k.benchmark.profiling import count_parameters
from uhr4k.models import create_model, list_models, model_info

from release_layout import RELEASED_PARAMS, release_layout

MINE = ["dmgn", "mprnet-deblur", "mprnet-derain", "nafnet-w32", "nafnet-w64", "prenet", "restormer", "zheng2021"]
# What a converter may leave out: tensors the release registers but its forward never reads.
UNREAD = {"dmgn": lambda k: k.startswith("head_feat.vgg.vgg_pretrained_features.")
          and int(k.split(".")[3]) > 29,
          "zheng2021": lambda k: k.startswith("smooth.")}


def test_every_learned_baseline_has_a_converter():
    """Models with parameters learned from data, GLSGN (ours: no foreign release) aside."""
    learned = [n for n in list_models() if n not in ("identity", "dcp") and not n.startswith("glsgn")]
    assert set(MINE) <= set(learned)
    assert [n for n in learned if model_info(n).converter is None] == []


@pytest.mark.parametrize("name", MINE)
def test_release_layout_converts_to_exactly_our_keys_and_shapes(name):
    layout = release_layout(name)
    with torch.device("meta"):
        model = create_model(name)
        state = {k: torch.empty(shape) for k, shape in layout.items()}
    converted = model_info(name).converter(state)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in converted.items()} == ours
    # Nothing invented or lost: every converted tensor is one of the release's, and only unread ones are left.
    assert len({id(v) for v in converted.values()}) == len(converted)
    assert {id(v) for v in converted.values()} <= {id(v) for v in state.values()}
    left_out = [k for k, v in state.items() if id(v) not in {id(t) for t in converted.values()}]
    assert all(UNREAD[name](k) for k in left_out) if left_out else True
    # Which release tensor lands where, where shapes alone could not tell (equal-shaped siblings)
    for ours_key, release_key in PINNED.get(name, {}).items():
        assert converted[ours_key] is state[release_key], ours_key


# Keys whose release counterpart has the same shape as a sibling's: a converter swapping them would keep
# every key and shape right.
PINNED = {"zheng2021": {"guides.0.body.0.weight": "guide_r.conv1.conv.weight",
                        "guides.2.body.0.weight": "guide_b.conv1.conv.weight",
                        "points.1.weight": "g_point.weight"}}


@pytest.mark.parametrize("name, wrap", [
    pytest.param("dmgn", lambda s: {f"module.{k}": v for k, v in s.items()}, marks=pytest.mark.slow),
    ("prenet", lambda s: s)])
def test_release_file_loads_strictly_and_reproduces_a_direct_load(name, wrap, tmp_path, one_thread):
    """The file as the authors ship it (DMGN from DataParallel: module. prefixes) through pretrained=."""
    g = torch.Generator().manual_seed(0)
    state = {k: torch.randn(shape, generator=g) * 0.01 for k, shape in release_layout(name).items()}
    torch.save(wrap(state), tmp_path / "release.pth")
    loaded = create_model(name, pretrained=tmp_path / "release.pth").state_dict()
    direct = model_info(name).converter(state)       # what load_state_dict(converter(state)) would hold
    assert loaded.keys() == direct.keys() and all(torch.equal(loaded[k], direct[k]) for k in direct)


@pytest.mark.parametrize("name", sorted(RELEASED_PARAMS))
def test_parameter_count_is_the_releases(name):
    with torch.device("meta"):
        model = create_model(name)
    trainable, total = count_parameters(model)
    assert trainable == RELEASED_PARAMS[name]
    assert total == RELEASED_PARAMS[name]  # frozen VGG trunks (ERRNet, IBCLN, CFDNet) are buffers, outside the count
