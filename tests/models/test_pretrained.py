"""Loading weights as their authors distribute them: wrappers, prefixes, formats, folders, refusals."""
import json
import pickle
import re

import pytest
import torch
import torch.nn as nn

from uhr4k.core.errors import InputError
from uhr4k.models import create_model, from_pretrained, model_info, registry
from uhr4k.models.weights.checkpoint import save_checkpoint
from uhr4k.models.weights.keys import rename_keys
from uhr4k.models.weights.read import read_weights, unwrap_state_dict

SMALL = {"stages": 2, "channels": 4, "res_blocks": 2}   # a PReNet small enough for many loads


def release_state(seed=0) -> dict:
    """A PReNet state dict in the authors' layout (csdwren/PReNet key names) for SMALL."""
    g = torch.Generator().manual_seed(seed)
    c = SMALL["channels"]
    shapes = {"conv0.0": (c, 6), "conv_i.0": (c, 2 * c), "conv_f.0": (c, 2 * c), "conv_g.0": (c, 2 * c),
              "conv_o.0": (c, 2 * c), "conv.0": (3, c)}
    for k in range(1, SMALL["res_blocks"] + 1):
        shapes[f"res_conv{k}.0"] = shapes[f"res_conv{k}.2"] = (c, c)
    state = {}
    for name, (out_c, in_c) in shapes.items():
        state[f"{name}.weight"] = torch.randn(out_c, in_c, 3, 3, generator=g) * 0.2
        state[f"{name}.bias"] = torch.randn(out_c, generator=g) * 0.1
    return state


def output(model, seed=1):
    x = torch.rand(1, 3, 12, 10, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model(x)[0]


@pytest.fixture
def reference():
    """Our model loaded with the release state through the converter, by hand."""
    model = create_model("prenet", **SMALL)
    model.load_state_dict(model_info("prenet").converter(release_state()), strict=True)
    return output(model.eval())


@pytest.mark.parametrize("wrap, tolerance", [
    (lambda s: s, 0.0),
    (lambda s: {"params": s}, 0.0),
    (lambda s: {"params_ema": s, "params": {k: torch.zeros_like(v) for k, v in s.items()}}, 0.0),
    (lambda s: {"state_dict": s, "epoch": 700, "optimizer": {"state": {0: {"exp_avg": torch.ones(3)}}}}, 0.0),
    (lambda s: {"model": {f"module.{k}": v for k, v in s.items()}}, 0.0),
    (lambda s: {f"module.{k}": v.half() for k, v in s.items()}, 2e-2),   # stored in half precision
], ids=["plain", "basicsr-params", "basicsr-ema-wins", "state_dict+training", "model+module.", "fp16"])
def test_release_formats_load_and_compute_the_same(tmp_path, reference, wrap, tolerance):
    path = tmp_path / "release.pth"
    torch.save(wrap(release_state()), path)
    model = create_model("prenet", pretrained=path, **SMALL)
    assert not model.training
    difference = (output(model) - reference).abs().max().item()
    assert difference <= tolerance and (tolerance == 0 or difference > 0)


def test_safetensors_and_folders(tmp_path, reference):
    from safetensors.torch import save_file

    folder = tmp_path / "hub"
    folder.mkdir()
    save_file(release_state(), str(folder / "model.safetensors"))
    assert torch.equal(output(create_model("prenet", pretrained=folder / "model.safetensors", **SMALL)), reference)
    # A folder with one weight file is that file (a Hub folder of another code, config.json without uhr4k's keys).
    (folder / "config.json").write_text(json.dumps({"architectures": ["PReNet"]}))
    assert torch.equal(output(create_model("prenet", pretrained=folder, **SMALL)), reference)


def test_our_layout_loads_without_converter(tmp_path):
    model = create_model("prenet", **SMALL)
    torch.save(model.state_dict(), tmp_path / "ours.pth")
    again = create_model("prenet", pretrained=tmp_path / "ours.pth", **SMALL)
    assert torch.equal(output(again), output(model.eval()))


def test_uhr4k_checkpoint_gives_its_kwargs_and_name_is_checked(tmp_path):
    model = create_model("prenet", **SMALL)
    path = save_checkpoint(tmp_path / "best.pt", model, None, 3, {"model": "prenet", "kwargs": SMALL})
    again = create_model("prenet", pretrained=path)   # kwargs come from the checkpoint
    assert again.channels == SMALL["channels"] and torch.equal(output(again), output(model.eval()))
    with pytest.raises(InputError, match=r"holds model 'prenet', not 'restormer'"):
        create_model("restormer", pretrained=path)


def test_wrong_file_is_one_line_naming_first_missing_and_unexpected(tmp_path):
    state = release_state()
    state["extra.weight"] = torch.zeros(1)
    del state["conv0.0.bias"]
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(InputError) as info:
        create_model("prenet", pretrained=tmp_path / "bad.pth", **SMALL)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(tmp_path / "bad.pth"))
    assert "1 missing (first 'head.0.bias')" in message and "1 unexpected (first 'extra.weight')" in message
    torch.save(release_state(), tmp_path / "other_size.pth")
    with pytest.raises(InputError, match=r"of another shape \(first 'head.0.weight': file \(4, 6, 3, 3\), "
                                         r"model \(8, 6, 3, 3\)\)"):
        create_model("prenet", pretrained=tmp_path / "other_size.pth", **{**SMALL, "channels": 8})


class Pickled(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)


def test_whole_pickled_module_is_refused_with_the_way_out(tmp_path):
    path = tmp_path / "model.pkl"
    torch.save(Pickled(), path)
    with pytest.raises(InputError) as info:
        create_model("prenet", pretrained=path)
    message = str(info.value)
    assert "\n" not in message and "whole pickled model" in message and "Pickled" in message
    assert ".state_dict()" in message and "model_state_dict.pth" in message
    # The legacy (non-zip) format too.
    legacy = tmp_path / "legacy.pkl"
    torch.save(Pickled(), legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(InputError, match="whole pickled model"):
        read_weights(legacy)


def test_numpy_and_argparse_entries_beside_the_weights_are_fine(tmp_path, reference):
    """Research checkpoints often save a NumPy best score and the argparse options with the weights."""
    import argparse

    import numpy as np

    torch.save({"state_dict": release_state(), "best_psnr": np.float64(29.5), "args": argparse.Namespace(lr=1e-3),
                "history": np.arange(3.0)}, tmp_path / "ckpt.pth.tar")
    assert torch.equal(output(create_model("prenet", pretrained=tmp_path / "ckpt.pth.tar", **SMALL)), reference)


class Boom:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_code_in_a_pickle_never_runs(tmp_path, capsys):
    path = tmp_path / "evil.pth"
    torch.save({"params": {"a": torch.zeros(1)}, "x": Boom()}, path)
    with pytest.raises(InputError, match=r"not loadable with weights_only=True"):
        read_weights(path)
    assert "must never run" not in capsys.readouterr().out
    (tmp_path / "junk.pth").write_bytes(pickle.dumps([1, 2]) + b"junk")
    with pytest.raises(InputError, match="junk.pth"):
        read_weights(tmp_path / "junk.pth")


def test_unwrap_rules():
    t = torch.zeros(1)
    assert unwrap_state_dict({"params": {"module._orig_mod.a": t}}) == {"a": t}
    # Several sub-networks are flattened with dots; training entries dropped.
    assert set(unwrap_state_dict({"icnn": {"c.w": t}, "vgg": {"d": t}, "epoch": 3, "opt": {"lr": 1}})) == \
        {"icnn.c.w", "vgg.d"}
    with pytest.raises(InputError, match=r"holds no weight tensors \(top-level keys: 'epoch'\)"):
        unwrap_state_dict({"epoch": 1})
    with pytest.raises(InputError, match="holds a list"):
        unwrap_state_dict([t])
    assert rename_keys({"conv0.0.weight": t, "x": t}, [(r"conv0\.0\.(weight|bias)", r"head.0.\1")]) == \
        {"head.0.weight": t, "x": t}
    with pytest.raises(ValueError, match="both become"):
        rename_keys({"a": t, "b": t}, [(r"a|b", "c")])


def test_folder_of_several_files_reaches_the_converter(tmp_path, monkeypatch):
    """IBCLN-style: two generators in two files; the converter gets {file name: state dict}."""
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.t, self.r = nn.Conv2d(3, 3, 1), nn.Conv2d(3, 3, 1)

    seen = {}

    def converter(state):
        seen["multi"] = registry.is_several_files(state)
        return {**{f"t.{k}": v for k, v in state["netG_T.pth"].items()},
                **{f"r.{k}": v for k, v in state["netG_R.pth"].items()}}

    monkeypatch.setitem(registry._REGISTRY, "two-files", registry.ModelInfo("two-files", Two, (), converter))
    folder = tmp_path / "ibcln"
    folder.mkdir()
    a, b = nn.Conv2d(3, 3, 1), nn.Conv2d(3, 3, 1)
    torch.save(a.state_dict(), folder / "netG_T.pth")
    torch.save({"state_dict": b.state_dict()}, folder / "netG_R.pth")
    (folder / "readme.txt").write_text("not weights")
    model = create_model("two-files", pretrained=folder)
    assert seen["multi"] and torch.equal(model.t.weight, a.weight) and torch.equal(model.r.weight, b.weight)
    # A model without a converter says it loads one file.
    monkeypatch.setitem(registry._REGISTRY, "two-files", registry.ModelInfo("two-files", Two, (), None))
    with pytest.raises(InputError, match=re.escape("a folder of 2 weight files (netG_R.pth, netG_T.pth)")):
        create_model("two-files", pretrained=folder)


def test_converter_failure_and_missing_path(tmp_path):
    torch.save({"something.else": torch.zeros(1)}, tmp_path / "x.pth")
    with pytest.raises(InputError, match="does not fit model 'prenet' after converting"):
        create_model("prenet", pretrained=tmp_path / "x.pth")
    with pytest.raises(InputError, match="no such weights file or folder"):
        create_model("prenet", pretrained=tmp_path / "absent.pth")
    with pytest.raises(InputError, match="no weight file"):
        create_model("prenet", pretrained=_empty(tmp_path))
    with pytest.raises(InputError, match="no uhr4k config"):
        from_pretrained(tmp_path / "x.pth")


def _empty(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_every_reader_of_a_checkpoint_takes_its_evaluation_weights(tmp_path):
    """load_model, from_pretrained, create_model(pretrained=) and export all read ``params_ema`` first."""
    from uhr4k.models.factory import load_model
    from uhr4k.models.weights.export import export_checkpoint

    model = create_model("prenet", **SMALL)
    ema = {k: v + 1 for k, v in model.state_dict().items()}
    path = save_checkpoint(tmp_path / "x.pt", model, None, 1, {"model": "prenet", "kwargs": SMALL}, params_ema=ema)
    export_checkpoint(path, tmp_path / "export")
    for source in (path, tmp_path / "export"):
        for loaded in (load_model(source)[0], from_pretrained(source), create_model("prenet", pretrained=source)):
            assert all(torch.equal(v, ema[k]) for k, v in loaded.state_dict().items()), source
    torch.save({"params": "not a state dict", "config": {"model": "prenet", "kwargs": {}}}, tmp_path / "odd.pt")
    with pytest.raises(InputError, match="odd.pt: not a uhr4k checkpoint"):
        load_model(tmp_path / "odd.pt")
