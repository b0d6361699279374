"""``uhr4k experiment``: every experiment's smoke run, the table beside the paper's numbers, resuming,
rows from the registry and missing models, refusals."""
import csv
import hashlib
import json
import math
import sys

import pytest
from click.testing import CliRunner

from uhr4k.cli import cli
from uhr4k.experiments import ExperimentOptions, experiment_names, load_experiment, run_experiment
from uhr4k.experiments.run import _recipe, resolve_rows, torchrun_command
from uhr4k.experiments.spec import parse_experiment
from uhr4k.experiments.train_worker import config_from_json, config_to_json
from uhr4k.models.train.config import TrainConfig
from uhr4k.models.train.schedules import Schedule

pytestmark = pytest.mark.usefixtures("one_thread")

# The cheapest row of each experiment: the smoke tests run that row (the full row set is a GPU job);
# resolve_rows is tested on the full sets below.
SMOKE_ROWS = {"table1": "glsgn", "table3": "glsgn-global-only", "table4": "glsgn", "table5": "glsgn-ssim",
              "table7": "glsgn", "table8": "prenet", "table9": "dcp", "fig9": "N = 1"}
PAPER_EXPERIMENTS = ["fig9", "table1", "table3", "table4", "table5", "table7", "table8", "table9"]


def read_table(out):
    with open(out / "table.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_every_experiment_of_the_paper_is_listed():
    assert experiment_names() == PAPER_EXPERIMENTS
    result = CliRunner().invoke(cli, ["experiment", "--list"])
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()] == PAPER_EXPERIMENTS
    assert "Table VII: reflection removal" in result.output


def test_files_hold_the_papers_numbers():
    t7 = load_experiment("table7")
    glsgn = next(r for r in t7.rows if r.model == "glsgn")
    assert glsgn.paper["uhr4k-syn"] == [25.96, 0.911] and glsgn.paper["real20"] == [22.20, 0.790]
    assert [d.preset for d in t7.datasets] == ["real20", "nature", "sir2", "uhr4k-syn", "uhr4k-real"]
    assert next(d for d in t7.datasets if d.preset == "sir2").train == "real20"
    assert load_experiment("table1").rows[-1].paper == {"tmacs": 0.625, "params_m": 15.69, "runtime_s": 0.082}
    assert [r.kwargs for r in load_experiment("fig9").rows] == [{"num_local_pathways": n} for n in range(1, 6)]
    assert all(not r.paper for r in load_experiment("fig9").rows)    # a figure: no printed numbers
    assert [r.model for r in load_experiment("table5").rows] == ["glsgn-ssim", "glsgn-h0", "glsgn-h0h1", "glsgn"]
    t8 = load_experiment("table8")
    assert t8.recipe == "glsgn" and t8.overrides == {"batch": 4, "loss_kwargs": {}}
    recipe = _recipe(t8, ExperimentOptions())
    assert (recipe.epochs, recipe.batch, recipe.lr, recipe.crop) == (500, 4, 2e-4, (960, 540))


def test_competitors_come_from_the_registry_by_task():
    rows = resolve_rows(load_experiment("table8"))
    by_model = {r.model: r for r in rows}
    assert by_model["rescan"].label == "RESCAN [50]" and not by_model["rescan"].from_registry
    assert by_model["rescan-gru"].from_registry          # registered for deraining, not a paper row
    assert not any(r.from_registry and r.model.startswith("glsgn") for r in rows)
    table3 = load_experiment("table3")
    assert [r.model for r in resolve_rows(table3)] == [r.model for r in table3.rows]       # no competitors
    assert [r.model for r in resolve_rows(load_experiment("table8"), only="pre*")] == ["prenet"]


@pytest.mark.slow
@pytest.mark.parametrize("name", PAPER_EXPERIMENTS)
def test_smoke_run_writes_the_table_beside_the_paper(name, tmp_path):
    out = tmp_path / name
    result = CliRunner().invoke(cli, ["experiment", name, "--smoke", "--out", str(out), "--only", SMOKE_ROWS[name]])
    assert result.exit_code == 0, result.output
    experiment = load_experiment(name)
    row = next(r for r in experiment.rows if SMOKE_ROWS[name] in (r.model, r.label))
    cells = read_table(out)
    assert cells and {c["method"] for c in cells} == {row.label}
    for c in cells:
        ours = float(c["ours"])
        assert math.isfinite(ours), c
        if experiment.kind == "restoration":
            preset = next(d.preset for d in experiment.datasets if d.label == c["dataset"])
            paper = row.paper.get(preset, [None, None])[("psnr", "ssim").index(c["metric"])]
        elif c["metric"] == "runtime_s" and experiment.kind == "runtime":
            paper = row.paper["runtime_s"]["CPU"]                     # measured on this CPU
        else:
            paper = row.paper.get(c["metric"])
        if paper is None:
            assert c["paper"] == "" and c["difference"] == ""
        else:
            assert float(c["paper"]) == pytest.approx(paper)
            assert float(c["difference"]) == pytest.approx(ours - paper, abs=0.002)
    assert (out / "figure.png").is_file() == (name == "fig9")             # the figure the paper shows
    table = (out / "table.md").read_text()
    assert experiment.title in table and "Smoke run" in table and row.label in table
    assert f"# {experiment.title}" in result.output


@pytest.mark.slow
def test_rerun_reuses_every_step_and_released_weights_skip_training(tmp_path):
    out = tmp_path / "t3"
    args = ["experiment", "table3", "--smoke", "--out", str(out), "--only", "glsgn-global-only"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "4 step(s) run, 0 reused" in first.output        # trained on Real20 and UHR4K-Real, scored on both
    table = read_table(out)
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and "0 step(s) run, 4 reused" in again.output and read_table(out) == table
    weights = next((out / "runs").glob("glsgn-global-only@real20-*")) / "last.pt"
    released = CliRunner().invoke(cli, args[:4] + [str(tmp_path / "w"), "--only", "glsgn-global-only", "--weights",
                                                  f"glsgn-global-only={weights}"])
    assert released.exit_code == 0, released.output
    assert not (tmp_path / "w" / "runs").exists()                  # nothing trained
    assert "released weights" in (tmp_path / "w" / "table.md").read_text()


@pytest.mark.slow
def test_missing_models_are_listed_not_faked(tmp_path):
    experiment = parse_experiment("mini", {
        "title": "mini", "kind": "restoration", "datasets": [{"preset": "4kid"}],
        "rows": [{"label": "Nobody [0]", "model": "no-such-model", "paper": {"4kid": [20.0, 0.8]}},
                 {"label": "DCP", "model": "dcp", "paper": {"4kid": [13.48, 0.739]}}]})
    result = run_experiment(experiment, ExperimentOptions(out=tmp_path, smoke=True, progress=False),
                            echo=lambda line: None)
    cells = {(c["method"], c["metric"]): c for c in read_table(tmp_path)}
    missing = cells[("Nobody [0]", "psnr")]
    assert missing["ours"] == "" and missing["paper"] == "20.00" and missing["difference"] == ""
    assert missing["status"] == "missing: not in this package"
    assert cells[("DCP", "psnr")]["ours"] != "" and not result.failed


def test_refusals(tmp_path):
    runner = CliRunner()
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(cli, ["experiment", "table3", "--data", str(empty), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "real20: no train split under the data home; expected" in result.output
    assert "Real20/{train,test}/{blended,transmission_layer}/<id>.png" in result.output
    assert not (tmp_path / "o" / "runs").exists()
    result = runner.invoke(cli, ["experiment", "table3", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--data: a real run needs --data ROOT" in result.output
    result = runner.invoke(cli, ["experiment", "table99"])
    assert result.exit_code == 2 and "unknown experiment 'table99'" in result.output
    result = runner.invoke(cli, ["experiment", "table3", "--smoke", "--weights", "rmnet=/x", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "no row of table3 uses model(s) rmnet" in result.output
    result = runner.invoke(cli, ["experiment", "table3", "--smoke", "--weights", "glsgn", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "must be NAME=PATH" in result.output


def test_torchrun_processes_train_the_same_config(tmp_path):
    config = TrainConfig(model="glsgn", data="uhr4k-real=/d/UHR4K", out="/o/run", subset="real",
                         model_kwargs={"num_local_pathways": 2}, loss_kwargs={"vgg_weights": "/v.pth",
                                                                               "discriminator_width": 8},
                         epochs=500, batch=1, crop=(960, 540), val_split="val", resume=True)
    assert config_from_json(config_to_json(config)) == config          # every option reaches each process
    args = torchrun_command(tmp_path / "c.json", 4)
    assert args == [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4",
                    "-m", "uhr4k.experiments.train_worker", str(tmp_path / "c.json")]


def test_loss_options_follow_what_each_loss_takes():
    from uhr4k.experiments.run import _loss_kwargs

    t7 = load_experiment("table7")
    smoke, real = ExperimentOptions(smoke=True), ExperimentOptions(vgg_weights="/v.pth")
    assert _loss_kwargs("errnet", t7, smoke) == {"perceptual_weight": 0.0, "discriminator_width": 8}
    assert _loss_kwargs("glsgn_ssim", t7, smoke)["perceptual_weight"] == 0.0      # its base's options count
    assert _loss_kwargs("errnet", t7, real) == {"vgg_weights": "/v.pth"}
    assert _loss_kwargs("l1", t7, real) == {} and _loss_kwargs("l1", t7, smoke) == {}


@pytest.mark.slow
def test_an_unfinished_or_longer_training_continues_from_its_last_checkpoint(tmp_path):
    def mini(epochs, crop=32):
        return parse_experiment("mini", {
            "title": "mini", "kind": "restoration", "datasets": [{"preset": "4kid"}],
            "smoke": {"overrides": {"epochs": epochs, "crop": [crop, crop]}},
            "rows": [{"label": "Global-Only", "model": "glsgn-global-only"}]})

    options = ExperimentOptions(out=tmp_path, smoke=True, progress=False)
    run_experiment(mini(1), options, echo=lambda line: None)
    lines = []
    run_experiment(mini(2), options, echo=lines.append)
    assert any("resuming" in line for line in lines)                   # not a fresh run
    (run,) = (tmp_path / "runs").glob("glsgn-global-only@4kid-*")      # the same folder, resumed
    with open(run / "log.csv", newline="") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2]
    # another recipe is another training: a folder of its own, started fresh (it used to try to resume
    # the first one's checkpoint and fail)
    lines.clear()
    run_experiment(mini(1, crop=64), options, echo=lines.append)
    assert any(" (new, 1 epoch(s))" in line for line in lines)
    assert len(list((tmp_path / "runs").glob("glsgn-global-only@4kid-*"))) == 2


def test_steps_an_older_uhr4k_wrote_flat_are_reused(tmp_path):
    """Before its steps were RecordStore records, ``uhr4k experiment`` wrote ``OUT/steps/<kind>/<name>.json``
    as ``{"key": ..., <fields>}``: a run folder of then resumes without redoing them."""
    import json

    from uhr4k.experiments.run import Steps

    key = {"data": "real20=/d/Real20", "kwargs": {}, "model": "dcp", "smoke": True, "weights": None}
    scores = {"n": 2, "protocol": "bandwise", "psnr": 21.06, "report": "/o/bench/dcp@real20", "runtime_s": 0.14,
              "ssim": 0.73}
    (tmp_path / "steps" / "bench").mkdir(parents=True)
    (tmp_path / "steps" / "bench" / "dcp@real20.json").write_text(
        json.dumps({"key": key, **scores}, indent=1, sort_keys=True))
    steps = Steps(tmp_path)
    assert steps.get("bench", "dcp@real20", key) == scores and steps.get("bench", "dcp@real20", {}) is None
    assert steps.put("profile", "dcp", {"size": [64, 36]}, {"params_m": 0.0}) == {"params_m": 0.0}
    assert Steps(tmp_path).get("profile", "dcp", {"size": (64, 36)}) == {"params_m": 0.0}
    assert (steps.reused, steps.done) == (1, 1)


# ------------------------------------------------------------------------------------ training configs


def test_every_experiment_trains_with_a_shipped_recipe():
    """Each restoration table names uhr4k/recipes/glsgn.yml (the paper's V-A) and changes the batch to the
    paper's whole step and the loss options to each row's own; its smoke twin trains one 32 x 32 step."""

    for name in PAPER_EXPERIMENTS:
        experiment = load_experiment(name)
        if experiment.kind != "restoration":
            continue
        assert experiment.recipe == "glsgn", name
        real, smoke = _recipe(experiment, ExperimentOptions()), _recipe(experiment, ExperimentOptions(smoke=True))
        assert real == TrainConfig.from_yaml("glsgn", batch=4, loss_kwargs={}), name
        assert smoke == real.override(epochs=1, batch=1, crop=(32, 32), steps_per_epoch=1), name


def test_a_bad_override_names_the_experiments_file():
    from uhr4k.core.errors import InputError

    for table, message in (({"overrides": {"epochs": 1.5}}, "mini.toml: epochs: must be a whole number, got 1.5"),
                           ({"smoke": {"overrides": {"lr_max": 1}}}, "mini.toml: lr_max: unknown key"),
                           ({"recipe": "nosuch"}, "mini.toml: recipe: no shipped recipe 'nosuch' (dmgn, ")):
        experiment = parse_experiment("mini", {
            "title": "mini", "kind": "restoration", "datasets": [{"preset": "4kid"}],
            "rows": [{"label": "Global-Only", "model": "glsgn-global-only"}], **table}, "mini.toml")
        with pytest.raises(InputError) as caught:
            _recipe(experiment, ExperimentOptions(smoke=True))
        assert str(caught.value).startswith(message), caught.value


def _trained_key(tmp_path, monkeypatch, table: dict) -> tuple[dict, str]:
    """(step key, run folder name) of fig9's first row in a smoke run with ``table`` in its file (no training)."""
    import uhr4k.models.train.loop as loop
    from uhr4k.experiments.run import Steps, train_row
    from uhr4k.experiments.smoke_data import write_smoke_home

    monkeypatch.setattr(loop, "train", lambda config, echo=None: None)
    data = {"title": "fig9", "kind": "restoration", "datasets": [{"preset": "4kid"}], "recipe": "glsgn",
            "overrides": {"batch": 4, "loss_kwargs": {}}, "rows": [{"label": "N = 1", "model": "glsgn",
                                                                   "kwargs": {"num_local_pathways": 1}}]}
    for key, value in table.items():
        data[key] = {**data.get(key, {}), **value}
    experiment = parse_experiment("fig9", data)
    options = ExperimentOptions(out=tmp_path / "out", smoke=True, progress=False)
    home = write_smoke_home(tmp_path / "home", ["4kid"], experiment.smoke.pairs, experiment.smoke.size)

    class Recorded(Steps):
        def put(self, kind, name, key, data):
            self.key = key
            return super().put(kind, name, key, data)

    steps = Recorded(options.out)
    weights = train_row(experiment.rows[0], "4kid", home, experiment, options, steps, lambda line: None)
    return steps.key, weights.parent.name


def test_the_run_folder_of_a_training_is_a_function_of_its_settings(tmp_path, monkeypatch):
    """The step key and run folder that earlier versions computed from the same settings (the key of
    uhr4k 0.1.0's [recipe] table), whatever the spelling; another schedule is another training."""
    key, folder = _trained_key(tmp_path / "a", monkeypatch, {})
    earlier = {"model": "glsgn", "kwargs": {"num_local_pathways": 1, "width": 4}, "data": key["data"],
               "recipe": [1, 1, 2e-4, [32, 32], 0, 1], "gpus": 1, "loss": "glsgn",
               "loss_kwargs": {"perceptual_weight": 0.0, "discriminator_width": 8}}
    digest = hashlib.sha256(json.dumps({**earlier, "recipe": earlier["recipe"][1:]}, sort_keys=True,
                                       default=str).encode()).hexdigest()[:8]
    assert key == earlier and folder == f"glsgn_num_local_pathways1@4kid-{digest}"
    spelt_out = {"overrides": {"schedule": {"name": "constant", "eta_min": 0, "milestones": []}, "lr": 2.0e-4,
                               "optimizer": {"betas": [0.9, 0.999]}}}
    assert _trained_key(tmp_path / "a", monkeypatch, spelt_out) == (key, folder)
    cosine, elsewhere = _trained_key(tmp_path / "a", monkeypatch, {"overrides": {"schedule": {"name": "cosine"}}})
    assert cosine["settings"] == {"schedule": {**Schedule().to_dict(), "name": "cosine"}} and elsewhere != folder


def test_an_override_of_a_per_row_field_or_an_unknown_smoke_key_is_refused():
    """A file may not override what each row sets (it would be dropped without a word), nor keep a
    [smoke] key the schema has no use for (an old [smoke.recipe] table)."""
    import pytest

    from uhr4k.experiments.spec import parse_experiment

    base = {"title": "a table", "kind": "restoration", "task": "deraining", "recipe": "glsgn",
            "datasets": [{"preset": "rain100l", "train": "rain100l"}], "rows": [{"label": "GLSGN", "model": "glsgn"}]}
    assert parse_experiment("ok", {**base, "overrides": {"batch": 2}}).overrides == {"batch": 2}
    with pytest.raises(ValueError, match="model_kwargs are set by each row"):
        parse_experiment("bad", {**base, "overrides": {"model_kwargs": {"width": 8}}})
    with pytest.raises(ValueError, match=r"\[smoke\] has no key recipe"):
        parse_experiment("old", {**base, "smoke": {"recipe": {"epochs": 1}}})
