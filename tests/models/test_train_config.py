"""TrainConfig: the shipped recipes, recipe files, `uhr4k train --config` and its flags, `uhr4k.train(config=...)`,
refusals naming the file and the key, plain-dict round trips, checkpoints of the earlier layout."""
import json
import subprocess
import sys

import pytest
import torch
import yaml
from click.testing import CliRunner
from test_train import make_root

import uhr4k
import uhr4k.commands.train
from uhr4k.benchmark.metrics import PROTOCOLS
from uhr4k.cli import cli
from uhr4k.commands.train import FIELDS, PARSERS, command, parse_phases
from uhr4k.core.errors import InputError
from uhr4k.core.speed import PRECISIONS
from uhr4k.models import list_models
from uhr4k.models.train.config import ConfigError, Phase, TrainConfig, shipped_recipes
from uhr4k.models.train.loop import train
from uhr4k.models.train.schedules import OPTIMIZERS, SCHEDULES, UNITS, OptimizerSpec, Schedule
from uhr4k.models.weights.checkpoint import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

# the trainable models registered when the recipes were written (new models bring their own recipe)
WITH_RECIPES = ("glsgn", "glsgn-global-only", "glsgn-global-local", "glsgn-pn", "glsgn-pac", "glsgn-ssim", "glsgn-h0",
                "glsgn-h0h1", "restormer",
                "mprnet-derain", "mprnet-deblur", "nafnet-w32", "nafnet-w64", "prenet", "rescan", "rescan-gru",
                "vrgnet", "ffanet", "msbdn", "rmnet", "errnet", "dmgn", "zheng2021")
TINY = {"width": 2, "mask_width": 2}
L1_ONLY = {"perceptual_weight": 0.0, "adversarial_weight": 0.0}


def _parsed(monkeypatch, *args) -> TrainConfig:
    """The TrainConfig `uhr4k train ARGS` would run with (training itself replaced)."""
    seen = {}

    def capture(config, echo):
        seen["config"] = config
        raise SystemExit(0)

    monkeypatch.setattr(uhr4k.commands.train, "train", capture)
    result = CliRunner().invoke(cli, ["train", "--data", "somewhere", "--out", "run", *args])
    assert result.exit_code == 0, result.output
    return seen["config"]


# ------------------------------------------------------------------------------------- shipped recipes


def test_every_model_has_a_recipe_and_every_recipe_loads(monkeypatch):
    recipes = shipped_recipes()
    assert set(WITH_RECIPES) <= set(recipes) and set(recipes) <= set(list_models())
    for name, path in recipes.items():
        text = path.read_text()
        assert text.startswith("# "), name                         # a comment naming the source first
        assert all("-" not in key for key in yaml.safe_load(text)), name   # the config's field names
        config = TrainConfig.from_yaml(name)
        assert config.model == name and config.data is None
        assert TrainConfig.from_yaml(path) == TrainConfig.from_yaml(f"recipes/{name}.yml") == config
        assert _parsed(monkeypatch, "--config", name) == config.override(data="somewhere", out="run")


def test_glsgn_recipe_is_the_papers(monkeypatch):
    o = _parsed(monkeypatch, "--config", "glsgn")
    assert (o.lr, o.epochs, o.batch, o.crop) == (2e-4, 500, 1, (960, 540))
    assert o.optimizer == OptimizerSpec("adam", (0.9, 0.999), 0.0)
    assert o.schedule.name == "constant"
    assert o.loss_kwargs == {"perceptual_weight": 0.01, "adversarial_weight": 0.01}


def test_restormer_recipe_has_its_cycles_and_phases(monkeypatch):
    o = _parsed(monkeypatch, "--config", "restormer")
    assert o.schedule.periods == (92000, 208000) and o.schedule.eta_min == (3e-4, 1e-6)
    assert [p.batch for p in o.progressive] == [8, 5, 4, 2, 1]
    assert o.progressive[0] == Phase(until=92000, crop=(128, 128), batch=8)
    assert (o.iterations, o.grad_clip, o.optimizer.name) == (300000, 0.01, "adamw")


def test_a_missing_recipe_lists_the_shipped_ones():
    for spec in ("recipes/nosuchmodel.yml", "nosuchmodel"):
        with pytest.raises(InputError, match="no such recipe file \\(shipped recipes: dmgn, errnet"):
            TrainConfig.from_yaml(spec)
    missing = CliRunner().invoke(cli, ["train", "--config", "recipes/nosuchmodel.yml", "--data", "x"])
    assert missing.exit_code == 2 and "shipped recipes: " in missing.output


# ------------------------------------------------------------------------------------------- flags


def test_command_line_overrides_the_file(monkeypatch, tmp_path):
    path = tmp_path / "mine.yml"
    path.write_text(yaml.safe_dump({"model": "glsgn", "lr": 1e-3, "ema": 0.999, "model_kwargs": {"width": 8},
                                    "optimizer": {"betas": [0.9, 0.99]}, "channels_last": True,
                                    "precision": "bf16"}))
    o = _parsed(monkeypatch, "--config", str(path), "--lr", "5e-4", "--precision", "fp32")
    assert (o.lr, o.ema, o.precision, o.channels_last) == (5e-4, 0.999, "fp32", True)
    assert o.model_kwargs == {"width": 8} and o.optimizer.betas == (0.9, 0.99)


def test_a_flag_sets_its_field_and_keeps_the_recipes_others(monkeypatch):
    o = _parsed(monkeypatch, "--config", "nafnet-w32", "--weight-decay", "0", "--schedule-unit", "epoch",
                "--model-arg", "width=16", "--perc-weight", "0", "--progressive", "2:64x64:4", "--crop", "none")
    recipe = TrainConfig.from_yaml("nafnet-w32")
    assert o.optimizer == OptimizerSpec("adamw", (0.9, 0.9), 0.0)
    assert o.schedule == Schedule("cosine", "epoch", eta_min=1e-7)
    assert o.model_kwargs == {"width": 16} and o.loss_kwargs == {"perceptual_weight": 0.0}
    assert o.progressive == (Phase(2, (64, 64), 4),) and o.crop is None
    assert (o.lr, o.iterations, o.epochs) == (recipe.lr, recipe.iterations, recipe.epochs)
    assert _parsed(monkeypatch, "--config", "glsgn", "--adv-weight", "0").loss_kwargs == {
        "perceptual_weight": 0.01, "adversarial_weight": 0.0}


def test_without_a_recipe_the_flags_default_to_the_configs(monkeypatch):
    assert _parsed(monkeypatch) == TrainConfig(data="somewhere", out="run")
    probe = "import sys; from click.testing import CliRunner; from uhr4k.cli import cli; " \
            "r = CliRunner().invoke(cli, ['train', '--help']); assert r.exit_code == 0; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"       # `uhr4k --help` loads every command
    defaults = TrainConfig()
    shown = [p for p in command.params if isinstance(p.show_default, str)]     # the help's "[default: ...]"
    assert len(shown) > 15
    for param in shown:
        part, _, key = FIELDS[param.name].partition(".")
        value = getattr(getattr(defaults, part), key) if key else getattr(defaults, part)
        text = param.type.convert(param.show_default, param, None)
        assert PARSERS.get(param.name, lambda v: v)(text) == value, param.name
    choices = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES, "schedule_unit": UNITS, "precision": tuple(PRECISIONS),
               "protocol": PROTOCOLS}
    for p in command.params:
        if p.name in choices:
            assert p.metavar == f"[{'|'.join(choices[p.name])}]", p.name


@pytest.mark.parametrize("args, message", [
    (["--epochs", "0"], "error: --epochs: must be a whole number >= 1, got 0"),
    (["--ema", "1.5"], "error: --ema: must be a number in (0, 1), got 1.5"),
    (["--optimizer", "sgd"], "error: --optimizer: must be one of adam, adamw, got 'sgd'"),
    (["--schedule-unit", "iteration"], "error: --schedule-unit: must be one of epoch, step, got 'iteration'"),
    (["--betas", "0.9,1.5"], "error: --betas: must be a list of 2 numbers in [0, 1), got [0.9, 1.5]"),
    (["--periods", "10,0"], "error: --periods: must be a list of numbers > 0, got [10.0, 0.0]"),
    (["--progressive", "3:8x8:0"], "error: --progressive: must be a whole number >= 1, got 0"),
    (["--precision", "fp8"], "error: --precision: must be one of fp32, bf16, fp16, got 'fp8'"),
    (["--progressive", "3:8x8"], "error: --progressive must be UNTIL:WxH:BATCH, got '3:8x8'"),
])
def test_bad_flag_values_name_the_flag(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["train", "--data", "x", "--out", str(tmp_path / "run"), *args])
    assert result.exit_code == 2 and result.output.startswith(message), result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_parse_phases():
    assert parse_phases(("92000:128x128:8", "5::2", "7:16x8:")) == [
        {"until": 92000, "crop": (128, 128), "batch": 8}, {"until": 5, "batch": 2}, {"until": 7, "crop": (16, 8)}]
    with pytest.raises(InputError, match="--progressive must be UNTIL:WxH:BATCH with whole numbers"):
        parse_phases(("x:8x8:2",))


# ------------------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize("content, key, problem", [
    ({"epochs": 1.5}, "epochs", "must be a whole number, got 1.5"),
    ({"batch": True}, "batch", "must be a whole number, got True"),
    ({"epochs": "abc"}, "epochs", "must be a whole number, got 'abc'"),
    ({"lr": -1.0}, "lr", "must be a number > 0, got -1.0"),
    ({"crop": "960x540"}, "crop", "must be a list of 2 whole numbers or null, got '960x540'"),
    ({"augment": "yes"}, "augment", "must be true or false, got 'yes'"),
    ({"learning_rate": 1e-3}, "learning_rate", "unknown key (the keys: model, data, out, "),
    ({"weight-decay": 1e-3}, "weight-decay", "unknown key (did you mean optimizer.weight_decay?)"),
    ({"optimizer": {"name": "sgd"}}, "optimizer.name", "must be one of adam, adamw, got 'sgd'"),
    ({"schedule": {"milestones": [5, 3]}}, "schedule", "multistep milestones must increase, got [5.0, 3.0]"),
    ({"schedule": {"gamma": [0.5]}}, "schedule.gamma", "must be a number, got [0.5]"),
    ({"schedule": {"T_max": 3}}, "schedule.T_max", "unknown schedule option (known: name, unit, "),
    ({"progressive": [{"until": 3, "crop": [32, 32], "batch": "x"}]}, "progressive[1].batch",
     "must be a whole number or null, got 'x'"),
    ({"model_kwargs": [1, 2]}, "model_kwargs", "must be a mapping, got [1, 2]"),
])
def test_a_bad_value_names_the_file_and_the_key(tmp_path, content, key, problem):
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump(content))
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_yaml(path)
    assert str(caught.value).startswith(f"{path}: {key}: {problem}") and caught.value.key == key
    result = CliRunner().invoke(cli, ["train", "--config", str(path), "--data", "x"])
    assert result.exit_code == 2 and result.output.startswith(f"error: {path}: {key}: {problem}"), result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("content, message", [
    ("- a list", "a recipe holds a mapping of TrainConfig fields, got list"),
    ("lr: [1, 2", "not a readable YAML recipe"),
])
def test_a_file_that_is_no_recipe_is_one_line(tmp_path, content, message):
    path = tmp_path / "bad.yml"
    path.write_text(content)
    result = CliRunner().invoke(cli, ["train", "--config", str(path), "--data", "x"])
    assert result.exit_code == 2 and message in result.output and str(path) in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_yaml_floats_without_a_dot_are_numbers(tmp_path):
    path = tmp_path / "r.yml"
    path.write_text("lr: 1e-4\nschedule: {name: cosine, eta_min: 1e-6}\n")    # YAML 1.1 reads both as text
    config = TrainConfig.from_yaml(path)
    assert (config.lr, config.schedule.eta_min) == (1e-4, 1e-6)


# ------------------------------------------------------------------------------------ plain dicts


def test_to_dict_and_from_dict_round_trip():
    config = TrainConfig.from_yaml("restormer", data="x", out="y", model_kwargs={"blocks": [1, 2]}, ema=0.999,
                                   loss_kwargs={"vgg_weights": "/v.pth"}, crop=None)
    plain = config.to_dict()
    assert json.loads(json.dumps(plain)) == plain                 # plain data all the way down
    assert plain["progressive"][0] == {"until": 92000, "crop": [128, 128], "batch": 8}
    assert TrainConfig.from_dict(plain) == config
    assert TrainConfig.from_dict(json.loads(json.dumps(plain))) == config
    assert TrainConfig.from_dict(TrainConfig().to_dict()) == TrainConfig() == TrainConfig.from_dict({})
    assert TrainConfig(model_kwargs={"blocks": (1, 2)}).to_dict()["model_kwargs"] == {"blocks": [1, 2]}   # as JSON


def test_override_changes_a_parts_fields_or_replaces_it():
    config = TrainConfig.from_yaml("nafnet-w32")
    assert config.override(schedule={"unit": "epoch"}).schedule == Schedule("cosine", "epoch", eta_min=1e-7)
    assert config.override(optimizer=OptimizerSpec()).optimizer == OptimizerSpec()
    assert config.override(model_kwargs={"width": 8}).model_kwargs == {"width": 8}
    with pytest.raises(ConfigError, match="^lr_max: unknown key"):
        config.override(lr_max=1.0)
    with pytest.raises(ConfigError, match=r"^schedule\.warmup: must be a number, got 'x'"):
        config.override(schedule={"warmup": "x"})


# ------------------------------------------------------------------------------------------ training


def test_python_and_the_command_line_train_the_same_run(tmp_path):
    root = make_root(tmp_path / "data")
    common = ["--epochs", "1", "--data", str(root), "--subset", "syn", "--batch", "2", "--crop", "64x64",
              "--width", "2", "--model-arg", "mask_width=2", "--perc-weight", "0", "--adv-weight", "0",
              "--val-split", "none"]
    result = CliRunner().invoke(cli, ["train", "--config", "glsgn", "--out", str(tmp_path / "cli"), *common])
    assert result.exit_code == 0, result.output
    summary = uhr4k.train(config="glsgn", epochs=1, data=str(root), subset="syn", out=tmp_path / "py", batch=2,
                          crop=(64, 64), model_kwargs=TINY, loss_kwargs={"perceptual_weight": 0.0,
                                                                         "adversarial_weight": 0.0},
                          val_split="none")
    assert summary.epochs == 1
    by_cli, by_python = load_checkpoint(tmp_path / "cli" / "last.pt"), load_checkpoint(tmp_path / "py" / "last.pt")
    assert by_cli["config"] == by_python["config"]
    assert by_cli["config"]["run"]["loss_kwargs"] == {"perceptual_weight": 0.0, "adversarial_weight": 0.0}
    for k, v in by_cli["params"].items():
        torch.testing.assert_close(v, by_python["params"][k], rtol=0, atol=0, msg=k)
    assert by_cli["log"] == [{**row, "seconds": by_cli["log"][0]["seconds"]} for row in by_python["log"]]


def test_a_recipe_file_trains_and_a_changed_recipe_cannot_resume(tmp_path):
    root = make_root(tmp_path / "data")
    recipe = {"model": "glsgn", "model_kwargs": TINY, "loss_kwargs": L1_ONLY, "data": str(root), "subset": "syn",
              "epochs": 1, "batch": 2, "crop": [64, 64], "optimizer": {"name": "adamw", "weight_decay": 1e-4},
              "schedule": {"name": "multistep", "milestones": [1], "gamma": 0.5}, "ema": 0.99}
    path = tmp_path / "tiny.yml"
    path.write_text(yaml.safe_dump(recipe))
    out = str(tmp_path / "run")
    first = CliRunner().invoke(cli, ["train", "--config", str(path), "--out", out])
    assert first.exit_code == 0, first.output
    checkpoint = load_checkpoint(tmp_path / "run" / "last.pt")
    assert checkpoint["config"]["run"]["optimizer"]["name"] == "adamw" and "params_ema" in checkpoint
    more = CliRunner().invoke(cli, ["train", "--config", str(path), "--out", out, "--epochs", "2", "--resume"])
    assert more.exit_code == 0, more.output
    path.write_text(yaml.safe_dump({**recipe, "schedule": {**recipe["schedule"], "gamma": 0.1}}))
    changed = CliRunner().invoke(cli, ["train", "--config", str(path), "--out", out, "--epochs", "3", "--resume"])
    assert changed.exit_code == 2 and "trained with schedule=" in changed.output
    assert "Traceback" not in changed.output


def test_a_checkpoint_of_the_earlier_layout_resumes(tmp_path):
    """A last.pt written before TrainConfig was typed: its config, as that version recorded it (plain dicts,
    a phase without the keys it did not set, milestones as the caller gave them), resumes."""
    root = make_root(tmp_path / "data")
    settings = dict(model="glsgn", data=str(root), subset="syn", out=str(tmp_path / "run"), model_kwargs=TINY,
                    loss_kwargs=L1_ONLY, batch=2, crop=(64, 64), val_split="none", progress=False,
                    optimizer={"name": "adamw", "betas": [0.9, 0.99], "weight_decay": 1e-4},
                    schedule={"name": "multistep", "milestones": [1], "gamma": 0.5},
                    progressive=[{"until": 1, "crop": (32, 32)}])
    train(TrainConfig(**settings, epochs=1), echo=lambda s: None)
    last = tmp_path / "run" / "last.pt"
    checkpoint = load_checkpoint(last)
    checkpoint["config"] = {"model": "glsgn", "kwargs": {"width": 2, "mask_width": 2}, "run": {
        "loss": "glsgn", "batch": 2, "lr": 0.0002, "crop": [64, 64], "augment": True, "seed": 0, "subset": "syn",
        "data": str(root), "init_weights": None, "epochs": 1,
        "optimizer": {"name": "adamw", "betas": [0.9, 0.99], "weight_decay": 0.0001, "eps": 1e-08},
        "schedule": {"name": "multistep", "unit": "epoch", "warmup": 0.0, "periods": [], "restart_weights": [],
                     "eta_min": 0.0, "milestones": [1], "gamma": 0.5, "start": 0.0, "end_factor": 0.0},
        "ema": None, "grad_clip": None, "progressive": [{"until": 1, "crop": [32, 32]}], "precision": "fp32",
        "iterations": None, "loss_kwargs": {"perceptual_weight": 0.0, "adversarial_weight": 0.0}}}
    torch.save(checkpoint, last)
    resumed = train(TrainConfig(**settings, epochs=2, resume=True), echo=lambda s: None)
    assert resumed.epochs == 2 and [int(r["epoch"]) for r in resumed.rows] == [1, 2]
    with pytest.raises(InputError, match="trained with progressive="):   # the layout is compared, not ignored
        train(TrainConfig(**{**settings, "progressive": [{"until": 1, "crop": (32, 32), "batch": 2}]}, epochs=3,
                          resume=True), echo=lambda s: None)


def test_yaml_exponents_in_model_and_loss_options_are_numbers(tmp_path):
    """YAML 1.1 reads ``1e-2`` (no dot) as text; the flags typed such a weight as a number, so does the file."""
    from uhr4k.models.train.config import TrainConfig

    path = tmp_path / "weights.yml"
    path.write_text("model: glsgn\nloss_kwargs: {adversarial_weight: 1e-2, conditional: true}\n"
                    "model_kwargs: {lp_bands: 2}\n")
    config = TrainConfig.from_yaml(path)
    assert config.loss_kwargs == {"adversarial_weight": 0.01, "conditional": True}
    assert isinstance(config.loss_kwargs["adversarial_weight"], float) and config.model_kwargs == {"lp_bands": 2}


def test_a_config_without_its_run_folder_is_one_line():
    from uhr4k.core.errors import InputError
    from uhr4k.models.train.config import TrainConfig
    from uhr4k.models.train.loop import build_run

    with pytest.raises(InputError, match="needs its data and its run folder"):
        build_run(TrainConfig(model="identity", data="somewhere"))
