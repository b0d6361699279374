"""`uhr4k train --config FILE`: option files, the shipped recipes, CLI overrides, refusals."""
import pytest
import yaml
from click.testing import CliRunner
from test_train import make_root

import uhr4k.app.training
from uhr4k.cli import cli
from uhr4k.commands.recipes import shipped_recipes
from uhr4k.models import list_models
from uhr4k.models.train.loop import TrainConfig, _recipe_parts
from uhr4k.models.weights.checkpoint import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

# the trainable models registered when the recipes were written (new models bring their own recipe)
WITH_RECIPES = ("glsgn", "glsgn-global-only", "glsgn-global-local", "glsgn-pn", "glsgn-pac", "glsgn-ssim", "glsgn-h0",
                "glsgn-h0h1", "restormer",
                "mprnet-derain", "mprnet-deblur", "nafnet-w32", "nafnet-w64", "prenet", "rescan", "rescan-gru",
                "vrgnet", "ffanet", "msbdn", "rmnet", "errnet", "dmgn", "zheng2021")


def _parsed(monkeypatch, *args):
    """The TrainConfig keywords `uhr4k train ARGS` would run with (training itself replaced)."""
    seen = {}

    def capture(model, data, out, subset, **options):
        options.pop("echo")
        seen.update(model=model, data=data, out=out, subset=subset, **options)
        raise SystemExit(0)

    monkeypatch.setattr(uhr4k.app.training, "train", capture)
    result = CliRunner().invoke(cli, ["train", "--data", "somewhere", "--out", "run", *args])
    assert result.exit_code == 0, result.output
    return seen


def test_every_model_has_a_valid_recipe(monkeypatch):
    recipes = shipped_recipes()
    assert set(WITH_RECIPES) <= set(recipes) and set(recipes) <= set(list_models())
    for name, path in recipes.items():
        assert path.read_text().startswith("# "), name            # a comment naming the source first
        options = _parsed(monkeypatch, "--config", f"recipes/{name}.yml")
        assert options["model"] == name
        _recipe_parts(TrainConfig(**options))                    # optimizer, schedule, phases all valid


def test_glsgn_recipe_is_the_papers(monkeypatch):
    o = _parsed(monkeypatch, "--config", "glsgn")
    assert (o["lr"], o["epochs"], o["batch"], o["crop"]) == (2e-4, 500, 1, (960, 540))
    assert o["optimizer"] == {"name": "adam", "betas": [0.9, 0.999], "weight_decay": 0.0}
    assert o["schedule"]["name"] == "constant"
    assert o["loss_kwargs"] == {"perceptual_weight": 0.01, "adversarial_weight": 0.01}


def test_restormer_recipe_has_its_cycles_and_phases(monkeypatch):
    o = _parsed(monkeypatch, "--config", "restormer")
    assert o["schedule"]["periods"] == [92000, 208000] and o["schedule"]["eta_min"] == [3e-4, 1e-6]
    assert [p["batch"] for p in o["progressive"]] == [8, 5, 4, 2, 1]
    assert o["progressive"][0] == {"until": 92000, "crop": (128, 128), "batch": 8}
    assert (o["iterations"], o["grad_clip"], o["optimizer"]["name"]) == (300000, 0.01, "adamw")


def test_command_line_overrides_the_file(monkeypatch, tmp_path):
    path = tmp_path / "mine.yml"
    path.write_text(yaml.safe_dump({"model": "glsgn", "lr": 1e-3, "ema": 0.999, "model_args": {"width": 8},
                                    "betas": [0.9, 0.99], "channels-last": True, "precision": "bf16"}))
    o = _parsed(monkeypatch, "--config", str(path), "--lr", "5e-4", "--precision", "fp32")
    assert (o["lr"], o["ema"], o["precision"], o["channels_last"]) == (5e-4, 0.999, "fp32", True)
    assert o["model_kwargs"] == {"width": 8} and o["optimizer"]["betas"] == [0.9, 0.99]


@pytest.mark.parametrize("content, message", [
    ({"learning_rate": 1e-3}, "unknown option 'learning_rate'"),
    ("- a list", "holds a mapping of options"),
    ("lr: [1, 2", "not a readable YAML"),
    ({"epochs": "abc"}, "epochs: Invalid value for '--epochs'"),
    ({"progressive": "3:32x32:x"}, "--progressive must be UNTIL:WxH:BATCH"),
])
def test_bad_option_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.yml"
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    result = CliRunner().invoke(cli, ["train", "--config", str(path), "--data", "x"])
    assert result.exit_code == 2 and message in result.output and str(path) in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    missing = CliRunner().invoke(cli, ["train", "--config", "recipes/nosuchmodel.yml", "--data", "x"])
    assert missing.exit_code == 2 and "shipped recipes: " in missing.output


def test_a_recipe_file_trains_and_a_changed_recipe_cannot_resume(tmp_path):
    root = make_root(tmp_path / "data")
    recipe = {"model": "glsgn", "model_args": {"width": 2, "mask_width": 2}, "perc-weight": 0, "adv-weight": 0,
              "data": str(root), "subset": "syn", "epochs": 1, "batch": 2, "crop": [64, 64], "optimizer": "adamw",
              "weight-decay": 1e-4, "schedule": "multistep", "milestones": [1], "gamma": 0.5, "ema": 0.99}
    path = tmp_path / "tiny.yml"
    path.write_text(yaml.safe_dump(recipe))
    out = str(tmp_path / "run")
    first = CliRunner().invoke(cli, ["train", "--config", str(path), "--out", out])
    assert first.exit_code == 0, first.output
    checkpoint = load_checkpoint(tmp_path / "run" / "last.pt")
    assert checkpoint["config"]["run"]["optimizer"]["name"] == "adamw" and "params_ema" in checkpoint
    more = CliRunner().invoke(cli, ["train", "--config", str(path), "--out", out, "--epochs", "2", "--resume"])
    assert more.exit_code == 0, more.output
    path.write_text(yaml.safe_dump({**recipe, "gamma": 0.1}))
    changed = CliRunner().invoke(cli, ["train", "--config", str(path), "--out", out, "--epochs", "3", "--resume"])
    assert changed.exit_code == 2 and "trained with schedule=" in changed.output
    assert "Traceback" not in changed.output
