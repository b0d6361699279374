"""One protocol rule: bench and train read the same protocol off every preset and layout."""
import numpy as np
import pytest

from uhr4k import layout
from uhr4k.benchmark.runner import load_dataset
from uhr4k.core.errors import InputError
from uhr4k.core.images import write_image
from uhr4k.data import PRESETS, resolve_dataset
from uhr4k.data.presets import available_presets, preset_roots, split_folder
from uhr4k.models.train.loop import TrainConfig, train

SIZE = 64   # a training crop GLSGN takes without padding


def _image(seed):
    return np.random.default_rng(seed).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)


def _folders(root, inp, tgt, n=2):
    for i in range(n):
        write_image(root / inp / f"{i}.png", _image(i))
        write_image(root / tgt / f"{i}.png", _image(i + 10))
    return root


def _uhr4k_root(root, subsets=("syn", "rain", "real")):
    for key in subsets:
        for split in ("train", "test"):
            for i in range(2):
                paths = layout.pair_paths(key, split, f"{key}{i}")
                write_image(root / paths["input"], _image(i))
                write_image(root / paths["target"], _image(i + 10))
    return root


# The public presets' layouts: the folder pair each one's release uses.
PRESET_LAYOUTS = {"rain100l": ("input", "target"), "rain100h": ("rain", "norain"),
                  "real20": ("blended", "transmission_layer"), "nature": ("blended", "transmission_layer"),
                  "sir2": ("blended", "transmission_layer"), "4kid": ("hazy", "clear"), "ohaze": ("hazy", "GT")}
EXPECTED_PRESETS = {"uhr4k-syn": "bandwise", "uhr4k-real": "bandwise", "uhr4k-rain": "y", "rain100l": "y",
                    "rain100h": "y", "real20": "bandwise", "nature": "bandwise", "sir2": "bandwise",
                    "4kid": "rgb", "ohaze": "rgb"}


@pytest.fixture(scope="module")
def specs(tmp_path_factory):
    """(spec, subset, expected name, expected protocol) for every preset and every layout rule."""
    base = tmp_path_factory.mktemp("specs")
    uhr4k = _uhr4k_root(base / "uhr4k_root")
    out = []
    for name, protocol in EXPECTED_PRESETS.items():
        folder = uhr4k if PRESETS[name].subset else _folders(base / name, *PRESET_LAYOUTS[name])
        out.append((f"{name}={folder}", None, name, protocol))
    out += [
        (str(uhr4k), "syn", "uhr4k_root-syn", "bandwise"),
        (str(uhr4k), "UHR4K-Rain", "uhr4k_root-rain", "y"),
        (str(uhr4k), "real", "uhr4k_root-real", "bandwise"),
        (f"uhr4k-syn={uhr4k}", "rain", "uhr4k-rain", "y"),                 # the subset named wins
        (str(_uhr4k_root(base / "only_rain", ("rain",))), None, "only_rain-rain", "y"),
        (str(_folders(base / "Rain100L_test", "input", "target")), None, "Rain100L_test", "y"),
        (str(_folders(base / "rain100h-copy", "input", "target")), None, "rain100h-copy", "y"),
        (str(_folders(base / "mine", "blended", "transmission")), None, "mine", "bandwise"),
        (str(_folders(base / "foggy", "hazy", "GT")), None, "foggy", "rgb"),
        (str(_folders(base / "train", "input", "target")), None, "train", "rgb"),   # "train" is not "rain"
        (str(_folders(base / "plain", "lq", "gt")), None, "plain", "rgb"),
    ]
    files = base / "pairs_in_one_folder"
    for i in range(2):
        write_image(files / f"rain-{i}.png", _image(i))
        write_image(files / f"norain-{i}.png", _image(i + 10))
    out.append((str(files), None, "pairs_in_one_folder", "y"))
    return out


def test_every_preset_and_layout_has_its_protocol(specs):
    assert {s[2] for s in specs} >= set(PRESETS)          # every preset is covered
    for spec, subset, name, protocol in specs:
        resolved = resolve_dataset(spec, subset, "test")
        assert (resolved.name, resolved.protocol) == (name, protocol), spec
        bench = load_dataset(spec, subset=subset)
        assert (bench.name, bench.protocol, bench.pairs) == (name, protocol, resolved.pairs), spec
        # the protocol is the dataset's, whichever split is read
        assert resolve_dataset(spec, subset, "train").protocol == protocol, spec


def test_preset_names_resolve_under_the_data_home(specs, monkeypatch, tmp_path):
    _folders(tmp_path / "Rain100H", "rain", "norain")
    _uhr4k_root(tmp_path / "UHR4K", ("real",))
    monkeypatch.setenv("UHR4K_DATA", str(tmp_path))
    assert tuple(resolve_dataset("rain100h"))[::2] == ("rain100h", "y")
    assert tuple(resolve_dataset("uhr4k-real"))[::2] == ("uhr4k-real", "bandwise")
    with pytest.raises(InputError, match="preset 'sir2' not found: looked for SIR2"):
        resolve_dataset("sir2")



def test_the_presets_found_under_the_data_home_are_those_that_resolve(monkeypatch, tmp_path):
    _folders(tmp_path / "Rain100H" / "test", "rain", "norain")
    _uhr4k_root(tmp_path / "uhr4k", ("real",))          # the UHR4K presets' other folder name
    (tmp_path / "SIR2").mkdir()                         # an empty folder is found; it holds no test split
    monkeypatch.setenv("UHR4K_DATA", str(tmp_path))
    assert available_presets() == ["uhr4k-real", "rain100h", "sir2"]
    assert [resolve_dataset(name).root for name in available_presets()[:2]] == [tmp_path / "uhr4k",
                                                                                tmp_path / "Rain100H"]
    rain = PRESETS["rain100h"]
    assert preset_roots(rain, split="test") == [tmp_path / "Rain100H"] and preset_roots(rain, split="train") == []
    assert preset_roots(PRESETS["sir2"], split="test") == []
    assert split_folder(tmp_path / "uhr4k", PRESETS["uhr4k-real"], "test") == tmp_path / "uhr4k" / "UHR4K-Real" / "test"
    assert split_folder(tmp_path / "x", None, "val") == tmp_path / "x" / "val"

def _train_protocol(spec, subset, out, protocol=None):
    """The protocol ``train`` validates with, read off its log: one step of a two-channel GLSGN."""
    summary = train(TrainConfig(model="glsgn", data=spec, subset=subset, out=str(out), protocol=protocol,
                                model_kwargs={"width": 2, "mask_width": 2},
                                loss_kwargs={"perceptual_weight": 0.0, "adversarial_weight": 0.0},
                                epochs=1, batch=1, crop=(SIZE, SIZE), steps_per_epoch=1, val_split="train",
                                val_limit=1, progress=False), echo=lambda line: None)
    return summary.rows[0]["protocol"]


@pytest.mark.usefixtures("one_thread")
def test_train_validates_rain100h_sample_with_bench_protocol(shared_data, tmp_path):
    """The bug this rule fixes: bench scored this folder ``y`` while train validated it ``rgb``."""
    spec = str(shared_data / "rain100h-sample")
    assert load_dataset(spec).protocol == "y"
    assert _train_protocol(spec, None, tmp_path / "run") == "y"


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_train_and_bench_agree_on_every_preset_and_layout(specs, tmp_path):
    for i, (spec, subset, _, protocol) in enumerate(specs):
        assert load_dataset(spec, subset=subset).protocol == protocol, spec
        assert _train_protocol(spec, subset, tmp_path / str(i)) == protocol, spec


@pytest.mark.usefixtures("one_thread")
def test_train_protocol_option_overrides_the_data(tmp_path):
    root = str(_folders(tmp_path / "set", "hazy", "GT"))
    assert _train_protocol(root, None, tmp_path / "auto") == "rgb"
    assert _train_protocol(root, None, tmp_path / "y", protocol="y") == "y"
