"""Training recipes: schedules, optimizers, EMA, clipping, reduced precision, progressive crops, TensorBoard."""
import math
import os

import pytest
import torch
from test_train import make_root
from torch import nn

from uhr4k.core.errors import InputError
from uhr4k.models.factory import load_model
from uhr4k.models.train.config import TrainConfig
from uhr4k.models.train.ema import ModelEMA
from uhr4k.models.train.loop import _backward_and_step, phase_of, train
from uhr4k.models.train.schedules import OptimizerSpec, Schedule
from uhr4k.models.weights.checkpoint import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"width": 2, "mask_width": 2}
L1_ONLY = {"perceptual_weight": 0.0, "adversarial_weight": 0.0}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_root(tmp_path_factory.mktemp("data"), n_train=4)


def config(root, out, **kw):
    base = dict(model="glsgn", data=str(root), subset="syn", out=str(out), model_kwargs=dict(TINY),
                loss_kwargs=dict(L1_ONLY), epochs=2, batch=2, crop=(64, 64), progress=False)
    base.update(kw)
    return TrainConfig(**base)


# ------------------------------------------------------------------------------------------- schedules


def test_cosine_with_warmup_is_mprnets_curve():
    """MPRNet: 3 warm-up epochs (lr/3, 2lr/3, lr), then cosine from lr to eta_min over the remaining epochs."""
    s = Schedule("cosine", warmup=3, eta_min=1e-6)
    lrs = [s.lr(2e-4, e, 250) for e in range(250)]
    assert lrs[:3] == pytest.approx([2e-4 / 3, 2 * 2e-4 / 3, 2e-4])
    assert lrs[3] == pytest.approx(2e-4)
    middle = 3 + (250 - 3) // 2
    expected = 1e-6 + (2e-4 - 1e-6) * 0.5 * (1 + math.cos(math.pi * (middle - 3) / 247))
    assert lrs[middle] == pytest.approx(expected)
    assert all(a >= b for a, b in zip(lrs[2:], lrs[3:], strict=False)) and lrs[-1] > 1e-6


def test_cosine_restarts_are_restormers_cycles():
    """Restormer: cycles of 92k and 208k iterations, floors 3e-4 and 1e-6, both restarting at lr."""
    s = Schedule("cosine", unit="step", periods=(92000, 208000), restart_weights=(1, 1), eta_min=(3e-4, 1e-6))
    assert s.lr(3e-4, 0, 300000) == pytest.approx(3e-4)
    assert s.lr(3e-4, 46000, 300000) == pytest.approx(3e-4)            # floor == peak in the first cycle
    assert s.lr(3e-4, 92000, 300000) == pytest.approx(3e-4)            # the restart
    assert s.lr(3e-4, 92000 + 104000, 300000) == pytest.approx(1e-6 + (3e-4 - 1e-6) * 0.5)
    assert s.lr(3e-4, 299999, 300000) == pytest.approx(1e-6, abs=1e-9)


def test_multistep_and_linear():
    prenet = Schedule("multistep", milestones=(30, 50, 80), gamma=0.2)
    assert [prenet.lr(1e-3, e, 100) for e in (0, 29, 30, 49, 50, 80, 99)] == pytest.approx(
        [1e-3, 1e-3, 2e-4, 2e-4, 4e-5, 8e-6, 8e-6])
    linear = Schedule("linear", start=50)
    assert [linear.lr(1e-4, e, 100) for e in (0, 49, 50, 75, 100)] == pytest.approx([1e-4, 1e-4, 1e-4, 5e-5, 0])


def test_bad_schedules_and_optimizers_are_refused():
    with pytest.raises(ValueError, match="^name: must be one of constant, cosine, multistep, linear, got 'expon"):
        Schedule("exponential")
    with pytest.raises(ValueError, match="^unit: must be one of epoch, step, got 'iteration'"):
        Schedule(unit="iteration")
    with pytest.raises(ValueError, match="^name: must be one of adam, adamw, got 'sgd'"):
        OptimizerSpec("sgd")
    with pytest.raises(ValueError, match="2 restart weights for 1 periods"):
        Schedule("cosine", periods=(10,), restart_weights=(1, 1))
    with pytest.raises(ValueError, match="unknown schedule option"):
        Schedule.from_dict({"name": "cosine", "T_max": 3})
    with pytest.raises(ValueError, match="betas"):
        OptimizerSpec("adam", betas=(0.9, 1.5))
    opt = OptimizerSpec.from_dict({"name": "adamw", "betas": [0.9, 0.9], "weight_decay": 1e-3}).build(
        [nn.Parameter(torch.zeros(1))], lr=1e-3)
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["betas"] == (0.9, 0.9)
    assert opt.defaults["weight_decay"] == 1e-3


# ------------------------------------------------------------------------------------ EMA, clipping


def test_ema_follows_the_formula():
    model = nn.Linear(2, 1)
    ema = ModelEMA(model, decay=0.9)
    start = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update(model)
    torch.testing.assert_close(ema.module.weight, 0.9 * start + 0.1 * (start + 1.0))
    assert not ema.module.weight.requires_grad


def test_gradient_clipping_bounds_the_norm():
    layer = nn.Linear(4, 4)
    opt = torch.optim.SGD(layer.parameters(), lr=0.0)
    loss = (layer(torch.ones(1, 4)) * 1000).sum()
    _backward_and_step(loss, opt, None, layer.parameters(), clip=0.5)
    norm = torch.sqrt(sum(p.grad.square().sum() for p in layer.parameters()))
    assert norm == pytest.approx(0.5, rel=1e-4)


def test_progressive_phases():
    cfg = TrainConfig(model="glsgn", data="x", out="y", crop=(384, 384), batch=1,
                      progressive=[{"until": 2, "crop": (128, 128), "batch": 8}, {"until": 5, "crop": [160, 160],
                                                                                    "batch": 5}])
    assert [phase_of(cfg, e) for e in (0, 1, 2, 4, 5, 9)] == [((128, 128), 8), ((128, 128), 8), ((160, 160), 5),
                                                             ((160, 160), 5), ((384, 384), 1), ((384, 384), 1)]


# ------------------------------------------------------------------------------------------ training


@pytest.mark.slow
def test_bf16_training_learns_like_fp32(root, tmp_path):
    """A tiny run in fp32 and under bf16 autocast (CPU): the loss falls in both, and by about as much."""
    runs = {}
    for precision in ("fp32", "bf16"):
        runs[precision] = train(config(root, tmp_path / precision, precision=precision, epochs=4, lr=2e-3,
                                       val_split="none", channels_last=precision == "bf16"),
                                echo=lambda s: None).rows
    losses = {p: [float(r["train_total"]) for r in rows] for p, rows in runs.items()}
    for p, curve in losses.items():
        assert curve[-1] < 0.8 * curve[0], (p, curve)
    assert losses["bf16"] != losses["fp32"]                         # it really ran in another precision
    drop = {p: curve[0] - curve[-1] for p, curve in losses.items()}
    assert drop["bf16"] == pytest.approx(drop["fp32"], rel=0.25), losses


@pytest.mark.slow
def test_recipe_run_resumes_exactly_and_keeps_params_ema(root, tmp_path):
    """AdamW, a step-unit cosine schedule with warm-up, EMA, clipping and fp16 with its scaler: a run
    stopped and resumed ends where the uninterrupted one does, EMA and learning rates included."""
    recipe = dict(optimizer={"name": "adamw", "betas": [0.9, 0.99], "weight_decay": 1e-4},
                  schedule={"name": "cosine", "unit": "step", "warmup": 1, "eta_min": 1e-5},
                  ema=0.9, grad_clip=1.0, precision="fp16", lr=1e-3, epochs=2)
    whole = train(config(root, tmp_path / "whole", **recipe), echo=lambda s: None)
    first = train(config(root, tmp_path / "split", **recipe, time_limit_s=0.0), echo=lambda s: None)
    assert first.epochs == 1                       # the time limit stops it after one epoch
    resumed = train(config(root, tmp_path / "split", resume=True, **recipe), echo=lambda s: None)
    assert [r["train_total"] for r in whole.rows] == [r["train_total"] for r in resumed.rows]
    assert [r["lr"] for r in whole.rows] == [r["lr"] for r in resumed.rows]
    assert float(whole.rows[0]["lr"]) > float(whole.rows[1]["lr"]) > 1e-5      # the cosine decays
    a, b = load_checkpoint(whole.last_checkpoint), load_checkpoint(resumed.last_checkpoint)
    for k in a["params_ema"]:
        torch.testing.assert_close(a["params_ema"][k], b["params_ema"][k], rtol=0, atol=0, msg=k)
    assert any(not torch.equal(a["params_ema"][k], a["params"][k]) for k in a["params"])
    assert "scaler" in a and {"val_psnr_ema", "val_ssim_ema"} <= set(whole.rows[-1])
    benched, _ = load_model(whole.best_checkpoint)        # what bench --checkpoint runs: the EMA weights
    best = load_checkpoint(whole.best_checkpoint)
    for k, v in benched.state_dict().items():
        torch.testing.assert_close(v, best["params_ema"][k], rtol=0, atol=0, msg=k)


def test_resume_with_another_recipe_is_refused(root, tmp_path):
    train(config(root, tmp_path / "run", epochs=1, val_split="none"), echo=lambda s: None)
    changes = {"schedule": {"name": "multistep", "milestones": [1]}, "ema": 0.999, "precision": "bf16",
               "optimizer": {"name": "adamw"}, "lr": 1e-3}
    for key, value in changes.items():
        with pytest.raises(InputError, match=f"trained with {key}="):
            train(config(root, tmp_path / "run", epochs=2, resume=True, val_split="none", **{key: value}),
                  echo=lambda s: None)


def test_bad_recipe_options_name_the_field(root, tmp_path):
    for kw, key in (({"precision": "fp8"}, "precision"), ({"schedule": {"name": "step"}}, r"schedule\.name"),
                    ({"optimizer": {"name": "sgd"}}, r"optimizer\.name"), ({"ema": 1.5}, "ema"),
                    ({"grad_clip": 0.0}, "grad_clip")):
        with pytest.raises(InputError, match=f"^{key}: "):
            train(config(root, tmp_path / "bad", **kw), echo=lambda s: None)
        assert not (tmp_path / "bad" / "last.pt").exists()


def test_progressive_run_and_tensorboard(root, tmp_path):
    if os.environ.get("CI") == "true":
        import tensorboard  # noqa: F401  (in the test extra: CI must have it, not skip)
    else:
        pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    summary = train(config(root, tmp_path / "tb", epochs=2, crop=(64, 64), batch=2, tensorboard=True,
                           progressive=[{"until": 1, "crop": (32, 32), "batch": 4}]), echo=lambda s: None)
    assert [int(r["steps"]) for r in summary.rows] == [1, 2]      # 4 pairs: one batch of 4, then two of 2
    events = EventAccumulator(str(tmp_path / "tb" / "tensorboard"))
    events.Reload()
    tags = events.Tags()
    assert {"train/total", "val/psnr", "val/ssim", "lr"} <= set(tags["scalars"])
    assert [e.step for e in events.Scalars("val/psnr")] == [1, 2]
    assert events.Scalars("val/psnr")[-1].value == pytest.approx(float(summary.rows[-1]["val_psnr"]), abs=1e-3)
    assert "val/preview" in tags["images"]


@pytest.mark.slow
def test_compiled_training_takes_the_same_steps(root, tmp_path, monkeypatch):
    """--compile trains the torch.compile'd model (dynamo's eager backend here: inductor's C++ build takes
    minutes on this machine); the steps match the eager run's."""
    eager = train(config(root, tmp_path / "eager", epochs=1, val_split="none"), echo=lambda s: None)
    compiled_models = []
    real_compile = torch.compile

    def compile_eagerly(model, **kwargs):
        compiled_models.append(model)
        return real_compile(model, backend="eager")

    monkeypatch.setattr(torch, "compile", compile_eagerly)
    compiled = train(config(root, tmp_path / "compiled", epochs=1, val_split="none", compile=True),
                     echo=lambda s: None)
    torch._dynamo.reset()
    assert len(compiled_models) == 1
    assert float(compiled.rows[0]["train_total"]) == pytest.approx(float(eager.rows[0]["train_total"]), rel=1e-5)


def test_resuming_a_run_that_reached_its_iterations_adds_nothing(root, tmp_path):
    """An iteration-based recipe ends inside an epoch; --resume of the finished run trains, validates and
    logs nothing more, and leaves last.pt as it was."""
    first = train(config(root, tmp_path / "run", epochs=5, iterations=1), echo=lambda s: None)
    assert [r["epoch"] for r in first.rows] == [1]
    before = (tmp_path / "run" / "last.pt").read_bytes()
    again = train(config(root, tmp_path / "run", epochs=5, iterations=1, resume=True), echo=lambda s: None)
    assert [r["epoch"] for r in again.rows] == [1]
    assert (tmp_path / "run" / "last.pt").read_bytes() == before


@pytest.mark.parametrize("phases, message", [
    ([{"until": 5, "crop": "128x128"}], r"^progressive\[1\]\.crop: must be a list of 2 whole numbers or null"),
    ([{"until": "ten"}], r"^progressive\[1\]\.until: must be a whole number, got 'ten'"),
    ([{"until": 10, "batch": 0}], r"^progressive\[1\]\.batch: must be a whole number >= 1, got 0"),
    ([{"until": 10}, {"until": 5}], r"^progressive\[2\]\.until: must be beyond the previous phase's 10, got 5"),
    ([{"until": 10, "size": 3}], r"^progressive\[1\]\.size: unknown phase option \(known: until, crop, batch\)"),
    ([{"crop": [8, 8]}], r"^progressive\[1\]\.until: missing"),
    (["10:8x8:2"], r"^progressive\[1\]: must be a mapping of phase options"),
])
def test_bad_progressive_phases_are_refused_before_training(root, tmp_path, phases, message):
    with pytest.raises(InputError, match=message):
        train(config(root, tmp_path / "run", progressive=phases), echo=lambda s: None)
    assert not (tmp_path / "run" / "last.pt").exists()


def test_a_checkpoint_record_in_an_older_spelling_still_resumes(tmp_path):
    """A schedule saved with a one-element ``eta_min`` list is the schedule that now writes it as a number:
    the resume check compares settings, not spellings; another floor is still refused."""
    import copy

    import pytest

    from uhr4k.core.errors import InputError
    from uhr4k.models.train.loop import _check_resumable, config_record

    config = TrainConfig(model="identity", data="d", out=str(tmp_path), schedule={"name": "cosine", "eta_min": 1e-6})
    record = config_record(config)
    older = copy.deepcopy(record)
    older["run"]["schedule"]["eta_min"] = [1e-6]
    _check_resumable({"config": older, "world_size": 1}, config, tmp_path / "last.pt", 1)
    other = copy.deepcopy(record)
    other["run"]["schedule"]["eta_min"] = [1e-5]
    with pytest.raises(InputError, match="schedule"):
        _check_resumable({"config": other, "world_size": 1}, config, tmp_path / "last.pt", 1)
