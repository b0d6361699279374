"""Our own weights travel as safetensors + config.json; torch.hub; fine-tuning from any weights file;
architecture detection for models we do not implement."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from uhr4k.cli import cli
from uhr4k.core.errors import InputError
from uhr4k.core.images import write_image
from uhr4k.models import create_model, from_pretrained
from uhr4k.models.factory import load_model
from uhr4k.models.train.loop import TrainConfig, train
from uhr4k.models.weights.checkpoint import load_checkpoint, save_checkpoint

REPO = Path(__file__).resolve().parents[2]
TINY_GLSGN = {"width": 2, "mask_width": 2}
TINY_PRENET = {"stages": 2, "channels": 4, "res_blocks": 1}

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    model = create_model("glsgn", **TINY_GLSGN)
    config = {"model": "glsgn", "kwargs": TINY_GLSGN, "run": {"data": "UHR4K", "subset": "syn", "loss": "glsgn"}}
    path = save_checkpoint(tmp_path / "run" / "best.pt", model, None, 7, config, best_psnr=27.5)
    return path, model.eval()


def _image(seed=0, h=64, w=96):
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _same_outputs(a, b, x):
    with torch.no_grad():
        ya, yb = a(x), b(x)
    ya, yb = (ya if isinstance(ya, tuple) else (ya,)), (yb if isinstance(yb, tuple) else (yb,))
    return all(torch.equal(p, q) for p, q in zip(ya, yb, strict=True))


def test_export_then_from_pretrained_is_bit_identical(checkpoint, tmp_path):
    from safetensors import safe_open

    path, model = checkpoint
    res = CliRunner().invoke(cli, ["export", str(path), "--out", str(tmp_path / "hub")])
    assert res.exit_code == 0, res.output
    folder = tmp_path / "hub"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["model"] == "glsgn" and config["kwargs"] == TINY_GLSGN
    assert config["training_data"] == {"data": "UHR4K", "subset": "syn"}
    assert config["metrics"] == {"epoch": 7, "best_psnr": 27.5} and "uhr4k_version" in config
    assert "reflection" in config["tasks"]
    with safe_open(str(folder / "model.safetensors"), "pt") as f:     # what huggingface_hub users read
        assert f.metadata() == {"format": "pt"}
        assert set(f.keys()) == set(model.state_dict())
    again = from_pretrained(folder)
    assert not again.training
    saved = load_checkpoint(path)["params"]
    assert all(torch.equal(saved[k], v) for k, v in again.state_dict().items())
    assert _same_outputs(model, again, _image())
    assert _same_outputs(model, create_model("glsgn", pretrained=folder), _image(1))
    assert _same_outputs(model, from_pretrained(path), _image(2))      # the .pt checkpoint itself too
    # bench --checkpoint glsgn=FOLDER
    assert _same_outputs(model, load_model(folder, expected_name="glsgn")[0].eval(), _image(5))


def test_export_refuses_what_is_not_a_uhr4k_checkpoint(tmp_path):
    torch.save({"params": {"w": torch.zeros(1)}}, tmp_path / "release.pth")
    res = CliRunner().invoke(cli, ["export", str(tmp_path / "release.pth"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "not a uhr4k checkpoint" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "o").exists()
    (tmp_path / "o2").mkdir()
    (tmp_path / "o2" / "config.json").write_text(json.dumps({"model": "glsgn", "kwargs": {}}))
    with pytest.raises(InputError, match="model.safetensors is missing"):
        from_pretrained(tmp_path / "o2")


def test_torch_hub_local_loads_every_registered_model_with_weights(checkpoint):
    path, model = checkpoint
    import importlib.util

    from uhr4k.models import list_models

    spec = importlib.util.spec_from_file_location("hubconf", REPO / "hubconf.py")
    hubconf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hubconf)
    assert all(callable(getattr(hubconf, n)) and callable(getattr(hubconf, n.replace("-", "_")))
               for n in list_models())
    assert "deraining" in hubconf.prenet.__doc__
    hub_model = torch.hub.load(str(REPO), "glsgn", source="local", pretrained=str(path))
    assert _same_outputs(model, hub_model, _image(3))
    fresh = torch.hub.load(str(REPO), "nafnet-w32", source="local", width=8, enc_blocks=(1, 1), dec_blocks=(1, 1))
    assert fresh.tlc and len(fresh.encoders) == 2


def _tiny_root(root, size=32):
    rng = np.random.default_rng(0)
    for split, n in (("train", 2), ("val", 1)):
        for i in range(n):
            target = rng.random((size, size, 3))
            rainy = np.clip(target + 0.3 * (rng.random((size, size, 3)) > 0.9), 0, 1)
            write_image(root / "UHR4K-Rain" / split / "input" / f"s{i}.png", (rainy * 255).round().astype(np.uint8))
            write_image(root / "UHR4K-Rain" / split / "target" / f"s{i}.png", (target * 255).round().astype(np.uint8))
    return root


def test_train_init_weights_starts_from_a_release_file(tmp_path):
    """Fine-tuning: a PReNet state dict in the authors' layout; with a vanishing learning rate the trained
    weights stay the file's, without --init-weights they are the random initialisation."""
    release = create_model("prenet", **TINY_PRENET)
    inverse = {"head.0": "conv0.0", "lstm.input_gate.0": "conv_i.0", "lstm.forget_gate.0": "conv_f.0",
               "lstm.cell.0": "conv_g.0", "lstm.output_gate.0": "conv_o.0", "tail": "conv.0",
               "res_blocks.0.0": "res_conv1.0", "res_blocks.0.2": "res_conv1.2"}
    state = {inverse[k.rsplit(".", 1)[0]] + "." + k.rsplit(".", 1)[1]: v + 0.1 for k, v in release.state_dict().items()}
    torch.save({"state_dict": state}, tmp_path / "net_latest.pth")
    root = _tiny_root(tmp_path / "data")

    def run(out, **kw):
        config = TrainConfig(model="prenet", data=str(root), subset="rain", out=str(tmp_path / out),
                             model_kwargs=dict(TINY_PRENET), epochs=1, batch=2, lr=1e-12, crop=None,
                             val_split="none", progress=False, **kw)
        return train(config, echo=lambda s: None).model.state_dict()

    tuned = run("tuned", init_weights=str(tmp_path / "net_latest.pth"))
    assert torch.allclose(tuned["head.0.weight"], state["conv0.0.weight"], atol=1e-8)
    assert torch.allclose(tuned["res_blocks.0.2.bias"], state["res_conv1.2.bias"], atol=1e-8)
    scratch = run("scratch")
    assert (scratch["head.0.weight"] - state["conv0.0.weight"]).abs().max() > 0.05
    res = CliRunner().invoke(cli, ["train", "--model", "prenet", "--data", str(root), "--subset", "rain",
                                   "--out", str(tmp_path / "tuned"), "--resume", "--init-weights",
                                   str(tmp_path / "net_latest.pth"), "--epochs", "2", "--batch", "2",
                                   "--crop", "none", "--val-split", "none"])
    assert res.exit_code == 2 and "not both" in res.output and "Traceback" not in res.output
    torch.save({"wrong.weight": torch.zeros(1)}, tmp_path / "wrong.pth")
    res = CliRunner().invoke(cli, ["train", "--model", "prenet", "--data", str(root), "--subset", "rain",
                                   "--out", str(tmp_path / "w"), "--init-weights", str(tmp_path / "wrong.pth")])
    assert res.exit_code == 2 and "does not fit model 'prenet'" in res.output and "missing" in res.output


def test_bench_weights_auto_detects_an_architecture_with_spandrel(spandrel, tmp_path):
    """A SwinIR-free check of the detection path: spandrel names a NAFNet file we do not register as such;
    the bench summary names the detected architecture."""
    from spandrel.architectures.NAFNet import NAFNet

    from uhr4k.models.zoo import detect

    torch.save({"params": NAFNet(width=8, enc_blk_nums=[1, 1], middle_blk_num=1, dec_blk_nums=[1, 1]).state_dict()},
               tmp_path / "other.pth")
    label, model = detect(tmp_path / "other.pth")
    assert label == "NAFNet[other.pth]" and model.architecture == "NAFNet"
    with torch.no_grad():
        assert model(_image(4, 30, 45)).shape == (1, 3, 30, 45)       # padded to its multiple, cropped back
    data = _tiny_root(tmp_path / "data")
    res = CliRunner().invoke(cli, ["bench", "--weights", str(tmp_path / "other.pth"), "--data",
                                   str(data / "UHR4K-Rain" / "val"), "--out", str(tmp_path / "out"),
                                   "--profile-size", "none", "--no-images"])
    assert res.exit_code == 0, res.output
    assert "NAFNet[other.pth]" in res.output and "untrained" not in res.output
    torch.save({"nothing.known": torch.zeros(3)}, tmp_path / "unknown.pth")
    res = CliRunner().invoke(cli, ["bench", "--model", "auto", "--weights", str(tmp_path / "unknown.pth"),
                                   "--data", str(data / "UHR4K-Rain" / "val"), "--out", str(tmp_path / "o2")])
    assert res.exit_code == 2 and "spandrel knows no architecture" in res.output
    res = CliRunner().invoke(cli, ["bench", "--model", "prenet", "--model", "restormer", "--weights", "x.pth",
                                   "--data", str(data / "UHR4K-Rain" / "val"), "--out", str(tmp_path / "o3")])
    assert res.exit_code == 2 and "--weights: 1 files for 2 --model names" in res.output
    # identity (no parameters) beside a weighted model needs no file of its own.
    res = CliRunner().invoke(cli, ["bench", "--model", "identity", "--model", "auto", "--weights",
                                   str(tmp_path / "other.pth"), "--data", str(data / "UHR4K-Rain" / "val"),
                                   "--out", str(tmp_path / "o4"), "--profile-size", "none", "--no-images"])
    assert res.exit_code == 0, res.output
    assert "identity" in res.output and "NAFNet[other.pth]" in res.output
