"""``uhr4k experiment NAME``: train what an experiment needs, benchmark it, and write the paper's table.

A run is a list of steps, each finished step a JSON record under ``OUT/steps/`` that a rerun reuses:

* ``train/<row>@<preset>.json``: one model trained on one preset's ``train`` split by
  :func:`uhr4k.models.train.loop.train` (``OUT/runs/<row>@<preset>/``, resumed from its ``last.pt`` when
  a run was interrupted); with ``--gpus K > 1`` in ``torchrun --nproc_per_node K`` processes
  (:mod:`uhr4k.experiments.train_worker` runs the same call in each);
* ``bench/<row>@<dataset>.json``: its score on the dataset's test split by the benchmark runner
  (``OUT/bench/<row>@<dataset>/``: per-image scores, images, grids); reused while the weights it was
  computed with are unchanged;
* ``profile/<row>.json`` (Tables I and IV): parameters, MACs, runtime and peak memory at the profile size.

Rows come from the experiment's file (the paper's rows in its order) plus, for the comparison tables,
every model the registry has for the task (so a newly registered baseline appears by itself). A paper
row whose model the package lacks is listed as missing, never filled in. ``--weights NAME=PATH`` scores
released weights instead of training that model. The table (``OUT/table.md``, ``OUT/table.csv``) puts
our figure beside the paper's and their difference.
"""
from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from uhr4k.core.atomic import write_text_atomic
from uhr4k.core.errors import InputError
from uhr4k.core.name_value import parse_name_value
from uhr4k.core.records import RecordStore, digest, fingerprint
from uhr4k.core.runs import BEST_CHECKPOINT, LAST_CHECKPOINT, RUNS_DIR
from uhr4k.data.presets import PRESETS, Preset, preset_roots, resolve_root, split_folder
from uhr4k.experiments.published import paper_figures
from uhr4k.experiments.smoke_data import PUBLIC_FOLDERS, write_smoke_home
from uhr4k.experiments.spec import DatasetSpec, Experiment, Row, load_experiment
from uhr4k.experiments.table import write_table

# Constructor arguments that set a model's channel width, tried in this order by --smoke.
WIDTH_ARGUMENTS = ("width", "dim", "ngf", "n_feat", "nf", "channels", "base_channels")


@dataclass
class ExperimentOptions:
    """What ``uhr4k experiment`` was asked for (see the command's help)."""

    data: Path | None = None          # the data home holding the presets' folders
    out: Path = Path("experiments")
    gpus: int = 1
    smoke: bool = False
    weights: dict = field(default_factory=dict)   # model name -> released weights to score instead of training
    only: str | None = None           # shell pattern on row model or label
    vgg_weights: str | None = None    # torchvision VGG-19 state dict for perceptual losses
    device: str | None = None
    progress: bool = True


@dataclass
class RowResult:
    row: Row
    status: str = "ok"                # ok, missing, not trained, failed, ...
    note: str = ""
    scores: dict = field(default_factory=dict)    # dataset preset -> {"psnr", "ssim", ...}; or metric -> value


@dataclass
class ExperimentResult:
    experiment: Experiment
    out: Path
    rows: list[RowResult]
    device: str = ""
    reused: int = 0
    done: int = 0
    files: list[Path] = field(default_factory=list)

    @property
    def failed(self) -> list[RowResult]:
        return [r for r in self.rows if r.status not in ("ok", "missing")]


# ------------------------------------------------------------------------------------------- rows


def resolve_rows(experiment: Experiment, only: str | None = None) -> list[Row]:
    """The experiment's rows, then (``competitors = true``) every registered model of its task that is
    not a row already (GLSGN variants excluded: they are the paper's own), filtered by ``only``."""
    from uhr4k.models.registry import list_models, model_info

    rows = list(experiment.rows)
    if experiment.competitors and experiment.task:
        present = {r.model for r in rows}
        for name in list_models():
            if name in present or name.startswith("glsgn") or experiment.task not in model_info(name).tasks:
                continue
            rows.append(Row(label=name, model=name, from_registry=True))
    if only:
        rows = [r for r in rows if fnmatch.fnmatchcase(r.model, only) or fnmatch.fnmatchcase(r.label, only)]
        if not rows:
            raise InputError(f"no row of {experiment.name} matches {only!r}", "--only")
    return rows


def _registered(name: str) -> bool:
    from uhr4k.models.registry import list_models

    return name in list_models()


# ------------------------------------------------------------------------------------------- data


def expected_layout(preset: Preset, home: Path) -> str:
    """Where and how a preset's files must lie under the data home (for the refusal message)."""
    if preset.subset:
        return (f"{split_folder(home / preset.folders[0], preset)}/{{train,val,test}}/{{input,target}}/<id>.png "
                f"(uhr4k build-syn / uhr4k align write it)")
    inp, tgt = PUBLIC_FOLDERS.get(preset.name, ("input", "target"))
    also = f" (the folder may also be named {', '.join(preset.folders[1:])})" if len(preset.folders) > 1 else ""
    return f"{home / preset.folders[0]}/{{train,test}}/{{{inp},{tgt}}}/<id>.png{also}"


def locate(home: Path, preset_name: str, split: str) -> str:
    """The ``preset=FOLDER`` spec of a preset under ``home`` whose ``split`` exists.

    Raises:
        InputError: the preset's folder (or that split of it) is missing, with the layout expected.
    """
    preset = PRESETS[preset_name]
    roots = preset_roots(preset, home, split)
    if not roots:
        raise InputError(f"{preset.name}: no {split} split under the data home; expected "
                         f"{expected_layout(preset, home)}", home)
    return f"{preset.name}={roots[0]}"


def _has_split(spec: str, split: str) -> bool:
    root, preset = resolve_root(spec)
    return split_folder(root, preset, split).is_dir()


def _data_home(experiment: Experiment, options: ExperimentOptions) -> Path:
    if options.data is not None:
        return Path(options.data)
    if not options.smoke:
        raise InputError("a real run needs --data ROOT (the folder holding the datasets); --smoke makes its own",
                         "--data")

    needed = sorted({d.preset for d in experiment.datasets} | {d.train for d in experiment.datasets})
    return write_smoke_home(options.out / "smoke-data", needed, experiment.smoke.pairs, experiment.smoke.size)


# ------------------------------------------------------------------------------------------- steps


class Steps:
    """Finished steps: a :class:`uhr4k.core.records.RecordStore` per kind of step (``OUT/steps/<kind>/<name>.json``,
    indented for people; steps written flat by an older uhr4k are read too), and how many were reused or run."""

    def __init__(self, out: Path):
        self.root = out / "steps"
        self.stores: dict[str, RecordStore] = {}
        self.reused = self.done = 0

    def _store(self, kind: str) -> RecordStore:
        return self.stores.setdefault(kind, RecordStore(self.root / kind, indent=1, flat=True))

    def get(self, kind: str, name: str, key: dict) -> dict | None:
        """The data of step ``kind/name`` while ``key`` is the one it ran with, else None."""
        data = self._store(kind).get(name, key)
        self.reused += data is not None
        return data

    def put(self, kind: str, name: str, key: dict, data: dict) -> dict:
        self._store(kind).put(name, key, data)
        self.done += 1
        return data


def _stamp(path: Path) -> list:
    """``[resolved path, size, modification time in ns]``: which weights a score was computed with."""
    return [str(Path(path).resolve()), *fingerprint(path)]


def _smoke_kwargs(name: str, kwargs: dict, width: int) -> dict:
    """``kwargs`` plus the first width argument the model accepts and runs with (smoke runs), else ``kwargs``."""
    import torch

    from uhr4k.models.factory import create_model

    for arg in WIDTH_ARGUMENTS:
        try:
            model = create_model(name, **{**kwargs, arg: width}).eval()
            with torch.no_grad():
                model(torch.rand(1, 3, 32, 32))
        except Exception:          # noqa: BLE001 - an argument it lacks, or a width it cannot run with
            continue
        return {**kwargs, arg: width}
    return dict(kwargs)


def _recipe(experiment: Experiment, options: ExperimentOptions):
    """The experiment's :class:`~uhr4k.models.train.config.TrainConfig` (its smoke twin with ``--smoke``):
    the shipped recipe it names with its overrides; InputError naming the experiment's file."""
    from uhr4k.models.train.config import ConfigError, TrainConfig, shipped_recipes

    try:
        if experiment.recipe is None:
            config = TrainConfig()
        elif experiment.recipe in shipped_recipes():
            config = TrainConfig.from_yaml(shipped_recipes()[experiment.recipe])
        else:
            raise ConfigError("recipe", f"no shipped recipe {experiment.recipe!r} ({', '.join(shipped_recipes())})")
        config = config.override(**experiment.overrides)
        return config.override(**experiment.smoke.overrides) if options.smoke else config
    except ConfigError as exc:
        raise ConfigError(exc.key, exc.problem, experiment.source or None) from None


# TrainConfig fields that a training's step key holds apart (its "recipe", "loss", "loss_kwargs", the row's
# model and data), or that do not change what it learns; the others are its "settings"
NOT_SETTINGS = ("model", "data", "out", "subset", "model_kwargs", "loss", "loss_kwargs", "epochs", "batch", "lr",
                "crop", "seed", "steps_per_epoch", "device", "resume", "progress", "workers", "tensorboard",
                "val_split", "channels_last", "compile", "time_limit_s")


def _settings(config) -> dict:
    """The config's training settings that differ from TrainConfig's defaults, as plain data: a function of
    the values (a recipe spelling ``eta_min: 0`` or leaving it out makes the same key). The shipped
    experiments have none, so that their keys and run folders stay those of earlier versions."""
    from uhr4k.models.train.config import TrainConfig

    defaults, values = TrainConfig().to_dict(), config.to_dict()
    return {k: v for k, v in values.items() if k not in NOT_SETTINGS and v != defaults[k]}


def _model_kwargs(row: Row, experiment: Experiment, options: ExperimentOptions) -> dict:
    return _smoke_kwargs(row.model, row.kwargs, experiment.smoke.width) if options.smoke else dict(row.kwargs)


def _loss_kwargs(loss: str | None, experiment: Experiment, options: ExperimentOptions) -> dict:
    """The recipe's loss options (its ``loss_kwargs``); ``--vgg-weights`` for every loss that takes VGG-19
    weights; in a smoke run no perceptual term (no VGG-19 weights there) and a narrow discriminator."""
    from uhr4k.models.losses import all_losses

    kwargs = dict(_recipe(experiment, options).loss_kwargs)
    takes = _options_of(all_losses().get(loss or ""))
    if options.smoke:
        if "perceptual_weight" in takes:
            kwargs.setdefault("perceptual_weight", 0.0)
        if "discriminator_width" in takes:
            kwargs.setdefault("discriminator_width", 8)
    elif options.vgg_weights and "vgg_weights" in takes:
        kwargs.setdefault("vgg_weights", options.vgg_weights)
    return kwargs


def _options_of(cls) -> set[str]:
    """Keyword options a loss class takes, its bases' included (a subclass passing ``**kwargs`` on)."""
    import inspect

    names: set[str] = set()
    for klass in getattr(cls, "__mro__", ()):
        init = vars(klass).get("__init__")
        if init is not None:
            names |= {p.name for p in inspect.signature(init).parameters.values()
                      if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    return names - {"self"}


def train_row(row: Row, train_preset: str, home: Path, experiment: Experiment, options: ExperimentOptions,
              steps: Steps, echo) -> Path | None:
    """Weights of ``row`` trained on ``train_preset`` (a finished step is reused); None: nothing to train."""
    from uhr4k.models.factory import create_model
    from uhr4k.models.train.loop import train

    kwargs = _model_kwargs(row, experiment, options)
    probe = create_model(row.model, **kwargs)
    loss = getattr(probe, "default_loss", None)
    if loss is None or not any(p.requires_grad for p in probe.parameters()):
        return None
    del probe
    recipe = _recipe(experiment, options)
    loss = recipe.loss or loss
    name = f"{row.slug}@{train_preset}"
    spec = locate(home, train_preset, "train")
    loss_kwargs = _loss_kwargs(loss, experiment, options)
    key = {"model": row.model, "kwargs": kwargs, "data": spec, "recipe": [recipe.epochs, recipe.batch, recipe.lr,
           list(recipe.crop) if recipe.crop else None, recipe.seed, recipe.steps_per_epoch], "gpus": options.gpus,
           "loss": loss, "loss_kwargs": {k: v for k, v in loss_kwargs.items() if k != "vgg_weights"}}
    settings = _settings(recipe)
    if settings:            # another optimizer, schedule, EMA, ...: another training
        key["settings"] = settings
    # One folder per training: only the same one resumes it, with more epochs (a smoke run, another recipe
    # or other loss options start their own instead of failing to resume a checkpoint of another model).
    same_training = {**key, "recipe": key["recipe"][1:]}
    out = options.out / RUNS_DIR / f"{name}-{digest(same_training, 8)}"
    record = steps.get("train", name, key)
    if record is not None and Path(record["weights"]).is_file():
        return Path(record["weights"])
    batch = max(1, recipe.batch // options.gpus)    # the paper's batch is the whole step's, over its GPUs
    config = recipe.override(model=row.model, data=spec, out=str(out), subset=PRESETS[train_preset].subset,
                             model_kwargs=kwargs, loss=loss, loss_kwargs=loss_kwargs, batch=batch,
                             val_split="val" if _has_split(spec, "val") else "none",
                             resume=(out / LAST_CHECKPOINT).is_file(), progress=options.progress,
                             **({"device": options.device} if options.device is not None else {}))
    echo(f"train {row.label} on {train_preset} ({'resuming' if config.resume else 'new'}, {recipe.epochs} "
         f"epoch(s)) -> {out}")
    if options.gpus > 1:
        _torchrun(config, options.gpus, echo)
    else:
        train(config, echo=lambda line: None if options.smoke else echo(f"  {line}"))
    weights = out / BEST_CHECKPOINT if (out / BEST_CHECKPOINT).is_file() else out / LAST_CHECKPOINT
    steps.put("train", name, key, {"weights": str(weights)})
    return weights


def torchrun_command(config_path: Path, gpus: int) -> list[str]:
    """The ``torchrun`` command line that trains the config saved at ``config_path`` on ``gpus`` processes."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={gpus}",
            "-m", "uhr4k.experiments.train_worker", str(config_path)]


def _torchrun(config, gpus: int, echo) -> None:
    from uhr4k.experiments.train_worker import config_to_json

    if shutil.which("nvidia-smi") is None:
        echo("note: no NVIDIA driver seen; the torchrun processes train on the CPU (gloo)")
    path = Path(config.out) / "experiment-train-config.json"
    write_text_atomic(path, config_to_json(replace(config, progress=False)))
    result = subprocess.run(torchrun_command(path, gpus), check=False)
    if result.returncode != 0:
        raise InputError(f"torchrun training exited with status {result.returncode}", config.out)


def bench_row(row: Row, dataset: DatasetSpec, weights: Path | None, home: Path, experiment: Experiment,
              options: ExperimentOptions, steps: Steps) -> dict:
    """The row's score on ``dataset``'s test split (a finished step is reused while its weights are the same)."""
    from uhr4k.benchmark.runner import load_dataset, run_benchmark
    from uhr4k.models.factory import create_model

    name = f"{row.slug}@{dataset.preset}"
    spec = locate(home, dataset.preset, "test")
    key = {"model": row.model, "kwargs": row.kwargs, "data": spec, "weights": _stamp(weights) if weights else None,
           "smoke": options.smoke}
    record = steps.get("bench", name, key)
    if record is not None:
        return record
    if weights is not None:
        model = create_model(row.model, pretrained=weights, **({} if str(weights).endswith(".pt") else row.kwargs))
    else:
        model = create_model(row.model, **_model_kwargs(row, experiment, options))
    data = load_dataset(spec, split="test")      # the preset of the spec names its UHR4K subset
    device = options.device or ("cuda" if _cuda() else "cpu")
    result = run_benchmark({row.label: model}, [data], options.out / "bench" / name, device=device,
                           profile_size=None, max_grids=4, html_report=not options.smoke,
                           paper_figures=paper_figures())
    summary = result.summary[0]
    return steps.put("bench", name, key, {"psnr": summary["psnr"], "ssim": summary["ssim"], "n": summary["n"],
                                          "protocol": summary["protocol"], "runtime_s": summary["runtime_s"],
                                          "report": str(result.out)})


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def profile_row(row: Row, experiment: Experiment, options: ExperimentOptions, steps: Steps) -> dict:
    """Parameters, MACs, runtime and peak memory of the row's model at the profile size (Tables I, IV)."""
    import torch

    from uhr4k.benchmark.profiling import count_macs, count_parameters, device_name, time_forward
    from uhr4k.models.factory import create_model

    width, height = experiment.smoke.profile if options.smoke else experiment.profile
    device = torch.device(options.device or ("cuda" if _cuda() else "cpu"))
    kwargs = _model_kwargs(row, experiment, options)
    key = {"model": row.model, "kwargs": kwargs, "size": [width, height], "device": str(device)}
    record = steps.get("profile", row.slug, key)
    if record is not None:
        return record
    model = create_model(row.model, **kwargs)
    _, total = count_parameters(model)
    shape = (1, 3, height, width)
    try:
        macs = count_macs(model, shape) / 1e12
    except Exception as exc:    # noqa: BLE001 - a model the meta device cannot trace: say so, keep the rest
        macs, note = float("nan"), f"MACs not counted ({type(exc).__name__})"
    else:
        note = ""
    timing = time_forward(model.to(device), torch.rand(shape, device=device), warmup=1,
                          repeats=1 if options.smoke else 5)
    return steps.put("profile", row.slug, key, {
        "params_m": total / 1e6, "tmacs": macs, "runtime_s": timing.median_s,
        "memory_gb": timing.peak_mem_gb, "device": device_name(device), "device_type": device.type,
        "note": "out of memory" if timing.oom else note})


# ------------------------------------------------------------------------------------------- run


def run_experiment(name: str | Experiment, options: ExperimentOptions, echo=print) -> ExperimentResult:
    """Run (or resume) the experiment ``name`` (or an :class:`Experiment` already read) and write its
    table; see the module docstring.

    Raises:
        InputError: unknown experiment, no --data for a real run, a dataset missing from the data home
        (with the layout it needs), --weights for a model that is not a row.
    """
    from tqdm import tqdm

    experiment = name if isinstance(name, Experiment) else load_experiment(name)
    name = experiment.name
    rows = _checked_rows(experiment, options)
    out = options.out = Path(options.out)
    home = None
    if experiment.kind == "restoration":
        home = _data_home(experiment, options)
        for d in experiment.datasets:    # every dataset is checked before anything trains
            locate(home, d.train, "train")
            locate(home, d.preset, "test")
        _recipe(experiment, options)     # and the training config
    steps = Steps(out)
    started = time.perf_counter()
    results = [_run_row(row, home, experiment, options, steps, echo)
               for row in tqdm(rows, desc=f"{name}: rows", unit="row", disable=not options.progress)]
    result = ExperimentResult(experiment, out, results, device=_device_text(results), reused=steps.reused,
                              done=steps.done)
    result.files = write_table(result, smoke=options.smoke)
    if experiment.figure:
        from uhr4k.experiments.figure import write_figure

        result.files += write_figure(result, smoke=options.smoke)
    echo(f"{name}: {steps.done} step(s) run, {steps.reused} reused, {time.perf_counter() - started:.0f} s")
    return result


def _checked_rows(experiment: Experiment, options: ExperimentOptions) -> list[Row]:
    """The rows to run, after checking --gpus and --weights against them."""
    if options.gpus < 1:
        raise InputError(f"--gpus must be >= 1, got {options.gpus}", "--gpus")
    rows = resolve_rows(experiment, options.only)
    unknown = sorted(set(options.weights) - {r.model for r in rows})
    if unknown:
        raise InputError(f"no row of {experiment.name} uses model(s) {', '.join(unknown)}", "--weights")
    for path in options.weights.values():
        if not Path(path).exists():
            raise InputError("no such file or folder", path)
    return rows


def _run_row(row: Row, home: Path | None, experiment: Experiment, options: ExperimentOptions, steps: Steps,
             echo) -> RowResult:
    """One row's steps; a model the package lacks is *missing*, one that fails is *failed* (with why)."""
    if not _registered(row.model):
        return RowResult(row, "missing", "not in this package")
    try:
        if experiment.kind == "restoration":
            return _restoration_row(row, home, experiment, options, steps, echo)
        return RowResult(row, scores=profile_row(row, experiment, options, steps))
    except InputError as exc:
        echo(f"{row.label}: {exc}")
        return RowResult(row, "failed", str(exc))
    except Exception as exc:      # noqa: BLE001 - one model's defect must not lose the other rows
        line = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        echo(f"{row.label}: failed: {line}")
        return RowResult(row, "failed", line)


def _device_text(results: list[RowResult]) -> str:
    return ", ".join(sorted({r.scores.get("device") for r in results if isinstance(r.scores.get("device"), str)}))


def _restoration_row(row: Row, home: Path, experiment: Experiment, options: ExperimentOptions, steps: Steps,
                     echo) -> RowResult:
    result = RowResult(row)
    trained: dict[str, Path | None] = {}
    released = options.weights.get(row.model)
    for dataset in experiment.datasets:
        if released is not None:
            weights = Path(released)
            result.note = f"released weights {released}"
        else:
            if dataset.train not in trained:
                trained[dataset.train] = train_row(row, dataset.train, home, experiment, options, steps, echo)
            weights = trained[dataset.train]
            if weights is None:
                result.note = "nothing to train"
        result.scores[dataset.preset] = bench_row(row, dataset, weights, home, experiment, options, steps)
    return result


def parse_weights(specs: tuple[str, ...]) -> dict[str, str]:
    """``NAME=PATH`` pairs of ``--weights``."""
    weights = {}
    for spec in specs:
        name, path = parse_name_value(spec, "--weights", "NAME=PATH")
        weights[name] = os.path.expanduser(path)
    return weights


__all__ = ["ExperimentOptions", "ExperimentResult", "RowResult", "expected_layout", "locate", "parse_weights",
           "resolve_rows", "run_experiment", "torchrun_command"]
