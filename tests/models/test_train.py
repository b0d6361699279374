"""Training: exact resume, checkpoints, refusals, DDP with gloo, and the CLI commands."""
import csv
import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from click.testing import CliRunner

from uhr4k.cli import cli
from uhr4k.core.errors import InputError
from uhr4k.core.images import read_image, write_image
from uhr4k.models.factory import load_model
from uhr4k.models.train.config import TrainConfig
from uhr4k.models.train.loop import build_run, train
from uhr4k.models.weights.checkpoint import load_checkpoint, save_checkpoint

TINY = {"width": 2, "mask_width": 2}
NO_VGG_NO_GAN = {"perceptual_weight": 0.0, "adversarial_weight": 0.0}

pytestmark = pytest.mark.usefixtures("one_thread")


def make_root(root, n_train=2, n_val=1, size=64, seed=0):
    """A hand-made UHR4K-Syn root: smooth targets, inputs = 0.7 * target + 0.3 * a blurred other image."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        for i in range(n):
            coarse = rng.random((size // 8, size // 8, 3))
            target = np.kron(coarse, np.ones((8, 8, 1)))
            layer = rng.random((size, size, 3)) * 0.5
            blended = np.clip(0.7 * target + 0.3 * layer, 0, 1)
            write_image(root / "UHR4K-Syn" / split / "input" / f"s{i}.png", (blended * 255).round().astype(np.uint8))
            write_image(root / "UHR4K-Syn" / split / "target" / f"s{i}.png", (target * 255).round().astype(np.uint8))
    return root


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_root(tmp_path_factory.mktemp("data"))


def config(root, out, **kw):
    base = dict(model="glsgn", data=str(root), subset="syn", out=str(out), model_kwargs=dict(TINY),
                loss_kwargs={"perceptual_weight": 0.0, "discriminator_width": 8}, epochs=2, batch=2, crop=(64, 64),
                progress=False)
    base.update(kw)
    return TrainConfig(**base)


def test_resume_continues_exactly(root, tmp_path):
    whole = train(config(root, tmp_path / "whole"), echo=lambda s: None)
    train(config(root, tmp_path / "split", epochs=1), echo=lambda s: None)
    resumed = train(config(root, tmp_path / "split", resume=True), echo=lambda s: None)
    assert [r["train_total"] for r in whole.rows] == [r["train_total"] for r in resumed.rows]
    assert [r["train_discriminator"] for r in whole.rows] == [r["train_discriminator"] for r in resumed.rows]
    for (k, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)
    with open(tmp_path / "split" / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert all(float(r["val_psnr"]) > 0 and 0 < float(r["val_ssim"]) <= 1 for r in rows)
    assert rows[0]["protocol"] == "bandwise"
    preview = read_image(tmp_path / "split" / "val_preview.png")
    gap = 6  # report.comparison_grid's spacing
    assert preview.shape[1] == 3 * 64 + 4 * gap and preview.shape[0] > 64 + 2 * gap  # 3 panels, captions below
    panel = preview[gap:gap + 64, 2 * gap + 64:2 * gap + 128]   # the output, unscaled
    assert panel.std() > 0


def test_checkpoint_round_trip_and_refusals(root, tmp_path):
    summary = train(config(root, tmp_path / "run", epochs=1), echo=lambda s: None)
    ckpt = load_checkpoint(summary.last_checkpoint)
    assert {"params", "optimizer", "epoch", "config", "discriminator"} <= set(ckpt) and ckpt["epoch"] == 1
    model, _ = load_model(summary.last_checkpoint, expected_name="glsgn")
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x)[0], summary.model.eval()(x)[0])
    with pytest.raises(InputError, match="holds model 'glsgn', not 'restormer'") as err:
        load_model(summary.last_checkpoint, expected_name="restormer")
    assert str(summary.last_checkpoint) in str(err.value)
    with pytest.raises(InputError, match="another configuration"):
        load_model(summary.last_checkpoint, expected_kwargs={"width": 16})
    # parameters that do not fit the configuration they claim
    save_checkpoint(tmp_path / "lie.pt", model, None, 1, {"model": "glsgn", "kwargs": {"width": 3, "mask_width": 2}})
    with pytest.raises(InputError, match=r"lie\.pt: does not fit model 'glsgn': .* of another shape"):
        load_model(tmp_path / "lie.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="junk.pt"):
        load_model(tmp_path / "junk.pt")
    # an existing run is not overwritten; a resume with another configuration is refused
    with pytest.raises(InputError, match="--resume"):
        train(config(root, tmp_path / "run"), echo=lambda s: None)
    with pytest.raises(InputError, match="width"):
        train(config(root, tmp_path / "run", resume=True, model_kwargs={"width": 3, "mask_width": 2}),
              echo=lambda s: None)
    assert not list((tmp_path / "run").glob(".*part"))  # no half-written files left behind


def test_untrainable_model_is_refused(root, tmp_path):
    with pytest.raises(InputError, match="no trainable parameters"):
        train(config(root, tmp_path / "id", model="identity", model_kwargs={}, loss_kwargs={}), echo=print)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world, port, root, out, result):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    summary = train(config(root, out, batch=1, epochs=1, device="cpu", loss_kwargs=NO_VGG_NO_GAN,
                           val_split="test"), echo=lambda s: None)
    torch.save(summary.model.state_dict(), f"{result}.{rank}")
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_ddp_two_processes_match_single_process(root, tmp_path):
    """2 gloo processes with batch 1 == 1 process with batch 2 on the same samples; replicas identical.

    The multi-stage loss gives every parameter a real gradient: Adam turns a gradient that is zero up to
    rounding (a bias that a high-pass band cancels, under a final-output-only loss) into a full step of
    either sign, which no two reduction orders would agree on."""
    result = str(tmp_path / "params")
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(root), str(tmp_path / "ddp"), result), nprocs=2)
    rank0, rank1 = torch.load(f"{result}.0"), torch.load(f"{result}.1")
    single = train(config(root, tmp_path / "single", batch=2, epochs=1, loss_kwargs=NO_VGG_NO_GAN,
                          val_split="test"), echo=lambda s: None).model.state_dict()
    for k in rank0:
        torch.testing.assert_close(rank0[k], rank1[k], rtol=0, atol=0, msg=k)
        torch.testing.assert_close(rank0[k], single[k], rtol=1e-4, atol=1e-6, msg=k)
    initial = build_run(config(root, tmp_path / "zero"), echo=lambda s: None).model.state_dict()  # before a step
    changed = sum(not torch.equal(initial[k], single[k]) for k in single)
    assert changed > len(single) // 2  # training really moved the weights


def test_cli_train_and_resume(root, tmp_path):
    runner = CliRunner()
    args = ["train", "--data", str(root), "--subset", "syn", "--out", str(tmp_path / "cli"), "--epochs", "1",
            "--batch", "2", "--crop", "64x64", "--width", "2", "--model-arg", "mask_width=2", "--perc-weight", "0",
            "--adv-weight", "0"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "trained glsgn for 1 epochs" in result.output
    again = runner.invoke(cli, args)
    assert again.exit_code == 2 and "use --resume" in again.output and "Traceback" not in again.output
    more = runner.invoke(cli, args[:8] + ["2"] + args[9:] + ["--resume"])
    assert more.exit_code == 0, more.output
    assert load_checkpoint(tmp_path / "cli" / "last.pt")["epoch"] == 2


def test_cli_train_needs_vgg_weights_for_the_paper_loss(root, tmp_path, monkeypatch):
    monkeypatch.delenv("UHR4K_VGG19_WEIGHTS", raising=False)
    result = CliRunner().invoke(cli, ["train", "--data", str(root), "--subset", "syn", "--out", str(tmp_path / "v"),
                                      "--width", "2"])
    assert result.exit_code == 2 and "UHR4K_VGG19_WEIGHTS" in result.output
    assert not (tmp_path / "v").exists()


def test_cli_models_lists_sizes():
    quick = CliRunner().invoke(cli, ["models", "glsgn"])
    assert quick.exit_code == 0, quick.output
    line = next(row for row in quick.output.splitlines() if row.startswith("glsgn "))
    assert "15.688 M" in line and "reflection, deraining, dehazing" in line and " T" not in line  # MACs on request
    result = CliRunner().invoke(cli, ["models", "glsgn", "identity", "--macs"])
    assert result.exit_code == 0, result.output
    line = next(row for row in result.output.splitlines() if row.startswith("glsgn "))
    assert "15.688 M" in line and "0.628 T" in line
    assert "FlopCounterMode total / 2" in result.output
    bad = CliRunner().invoke(cli, ["models", "nope"])
    assert bad.exit_code == 2 and "unknown model 'nope'" in bad.output


KILL_BETWEEN_CHECKPOINT_AND_LOG = """
import os, signal, sys
from uhr4k.models.train import loop as training
real = training.write_log
def dying(path, rows):
    if len(rows) == 2:  # epoch 2: last.pt is written, the log is not yet: the process is killed here
        os.kill(os.getpid(), signal.SIGKILL)
    real(path, rows)
training.write_log = dying
sys.exit(training.train(training.TrainConfig(**eval(sys.argv[1])), echo=lambda s: None) and 0)
"""


@pytest.mark.slow
def test_a_kill_between_checkpoint_and_log_loses_no_log_row(root, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "run"
    fields = ("model", "data", "subset", "out", "model_kwargs", "loss_kwargs", "epochs", "batch", "crop", "progress")
    kwargs = {k: getattr(config(root, out, epochs=3), k) for k in fields}
    proc = subprocess.run([sys.executable, "-c", KILL_BETWEEN_CHECKPOINT_AND_LOG, repr(kwargs)], timeout=300)
    assert proc.returncode == -9
    assert load_checkpoint(out / "last.pt")["epoch"] == 2
    with open(out / "log.csv") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1]
    (out / ".log.999999999-0badf00d.csv.part").write_text("left by a killed writer")
    train(config(root, out, epochs=3, resume=True), echo=lambda s: None)
    with open(out / "log.csv") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2, 3]
    assert not list(out.glob(".*.part"))


def test_the_training_loader_sends_uint8_and_the_step_sees_the_same_floats(root, tmp_path, monkeypatch):
    """uhr4k train's loader carries 8-bit crops as uint8 (a quarter of the bytes through the workers);
    the step receives exactly the float32 crops of the dataset's default items."""
    import uhr4k.models.train.loop as training
    from uhr4k.data import PairedDataset

    run = training.build_run(config(root, tmp_path / "run"), echo=lambda s: None)
    batch = next(iter(run.loader))
    assert batch["input"].dtype == torch.uint8 and batch["target"].dtype == torch.uint8
    seen = []
    monkeypatch.setattr(training, "train_step", lambda run, x, y: seen.append((x, y)) or {"total": 0.0})
    training.train_one_epoch(run, 0)
    plain = PairedDataset(run.train_set.pairs, crop=run.train_set.crop, augment=run.train_set.augment,
                          seed=run.train_set.seed)
    plain.set_epoch(0)
    x, y = seen[0]
    assert x.dtype == torch.float32
    ids = list(run.sampler)[:len(x)]
    assert torch.equal(x, torch.stack([plain[i]["input"] for i in ids]))
    assert torch.equal(y, torch.stack([plain[i]["target"] for i in ids]))
