"""The Python entry points a notebook needs; the command line is a thin layer over them.

Each function does one job of the package, fills in the defaults that make the jobs chain (one dataset
home, ``$UHR4K_DATA``, default ``./data``: build-syn and align write into ``$UHR4K_DATA/UHR4K``, train
reads the subset its model's task implies and writes ``runs/NAME``, bench finds every dataset there and
the weights of ``runs/NAME/best.pt``) and returns data (summaries, DataFrames, modules); none prints.

    import uhr4k
    uhr4k.build_syn("videos/", count=8, size=(960, 540))
    uhr4k.align_pairs("raw_pairs/")
    result = uhr4k.bench(["identity", "glsgn"])
    result.per_image_frame().plot.bar(x="id", y="psnr")

(``uhr4k.align`` is the alignment subpackage, so its entry point is called ``align_pairs``.)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from uhr4k.core.errors import InputError
from uhr4k.data import presets

RUNS_DIR = "runs"            # where train writes and bench looks for trained weights by default
BEST_CHECKPOINT = "best.pt"


def build_syn(frames: str | os.PathLike, out: str | os.PathLike | None = None, *,
              reflections: str | os.PathLike | None = None, progress: bool = False, **options):
    """Build UHR4K-Syn and UHR4K-Rain from the videos and images of ``frames``.

    Args:
        out: dataset root (default :func:`uhr4k.data.presets.default_root`).
        reflections: folder of reflection photos; default ``$UHR4K_DATA/DIV2K_train_HR`` (or ``DIV2K``)
            when it exists, else frames of other scenes (the summary says so).
        options: the other fields of :class:`uhr4k.synth.pipeline.BuildOptions` (count, size, test, val,
            seed, workers, shard, subsets, reflection_model, allow_upscale).
    Returns:
        :class:`uhr4k.synth.pipeline.BuildSummary`; ``summary.root`` is where it wrote.
    """
    from uhr4k.synth.pipeline import BuildOptions
    from uhr4k.synth.pipeline import build_syn as run_build

    if reflections is None:
        reflections = presets.default_reflections()
    elif not Path(reflections).is_dir():
        raise InputError("not a folder", reflections)
    out = Path(out) if out is not None else presets.default_root()
    opts = BuildOptions(frames=Path(frames), out=out, reflections=None if reflections is None else Path(reflections),
                        **options)
    return run_build(opts, progress=progress)


def align_pairs(raw_dir: str | os.PathLike, out: str | os.PathLike | None = None, **options):
    """Register the glass / no-glass photo pairs of ``raw_dir`` into ``OUT/UHR4K-Real``.

    Args:
        out: dataset root (default :func:`uhr4k.data.presets.default_root`, beside build-syn's subsets).
        options: keyword arguments of :func:`uhr4k.align.pipeline.align_dataset` (test, val, seed,
            workers, settings).
    Returns:
        :class:`uhr4k.align.pipeline.AlignSummary`.
    """
    from uhr4k.align.pipeline import align_dataset

    out = Path(out) if out is not None else presets.default_root()
    return align_dataset(raw_dir, out, **options)


def default_train_data(model: str, subset: str | None) -> tuple[str, str]:
    """(data, subset) that ``train`` uses without ``data``: the default UHR4K root and the subset the
    model's first task implies (reflection: syn, deraining: rain), unless ``subset`` says otherwise.

    Raises:
        InputError: no UHR4K root yet, or no subset for the model's tasks (naming what to pass).
    """
    from uhr4k.models.registry import model_info

    root = presets.default_root()
    if not root.is_dir():
        raise InputError(f"no dataset to train on: looked for {root} (${presets.DATA_ENV}); build one with "
                         "`uhr4k build-syn --frames VIDEOS/` or pass --data")
    if subset is None:
        tasks = model_info(model).tasks
        subset = next((presets.TASK_SUBSETS[t] for t in tasks if t in presets.TASK_SUBSETS), None)
        if subset is None:
            raise InputError(f"model {model!r} (tasks: {', '.join(tasks) or 'none registered'}) has no default "
                             "UHR4K subset: pass --subset syn|rain|real or --data")
    return str(root), subset


def train(model: str = "glsgn", data: str | None = None, out: str | os.PathLike | None = None,
          subset: str | None = None, **options):
    """Train a registered model; returns :class:`uhr4k.models.train.loop.TrainSummary`.

    Args:
        data: dataset root, preset or ``PRESET=PATH``; default: see :func:`default_train_data`.
        out: run folder (default ``runs/MODEL``, where :func:`bench` finds ``best.pt``).
        options: the other fields of :class:`uhr4k.models.train.loop.TrainConfig` (epochs, batch, lr, crop,
            model_kwargs, loss, loss_kwargs, ...), and ``echo`` (a function taking each progress line).
    """
    from uhr4k.models.train.loop import TrainConfig
    from uhr4k.models.train.loop import train as run_train

    echo = options.pop("echo", lambda line: None)
    if data is None:
        data, subset = default_train_data(model, subset)
    out = str(out) if out is not None else str(Path(RUNS_DIR) / model)
    return run_train(TrainConfig(model=model, data=data, out=out, subset=subset, **options), echo=echo)


def trained_checkpoint(model: str) -> Path | None:
    """``runs/MODEL/best.pt`` when ``uhr4k train --model MODEL`` left one in this folder, else None."""
    path = Path(RUNS_DIR) / model / BEST_CHECKPOINT
    return path if path.is_file() else None


def default_bench_data() -> list[tuple[str, str | None]]:
    """(dataset spec, subset) of every dataset found under the data home: each UHR4K subset of the default
    root, then each public preset whose folder exists.

    Raises:
        InputError: nothing found (saying where it looked and how to make a dataset).
    """
    found = [(name, None) for name in presets.available_presets()]
    if not found:
        raise InputError(f"no dataset found under ${presets.DATA_ENV}={presets.data_home()} (looked for "
                         f"{presets.UHR4K_FOLDER}/ and the public presets: {', '.join(presets.PRESETS)}); build one "
                         "with `uhr4k build-syn --frames VIDEOS/` or pass --data", presets.data_home())
    return found


@dataclass
class BenchModels:
    """The modules to evaluate by label, one note per trained model on where its weights came from, and
    the labels of the models that hold random weights."""

    modules: dict
    notes: list[str]
    untrained: list[str]


def bench_models(names=(), checkpoints=(), weights=()) -> BenchModels:
    """``names`` through the registry (with ``runs/NAME/best.pt`` when it exists), or with ``weights`` the
    i-th released file loaded into the i-th name (architecture detected for ``auto`` or no name, see
    :func:`uhr4k.models.zoo.build_with_weights`); ``checkpoints`` as ``NAME=PATH`` through
    :func:`uhr4k.models.factory.load_model`."""
    from uhr4k.benchmark.profiling import count_parameters
    from uhr4k.models import create_model
    from uhr4k.models.factory import load_model

    modules, notes, untrained = {}, [], []
    if weights:
        from uhr4k.models.zoo import build_with_weights

        modules.update(build_with_weights(tuple(names), tuple(weights)))
        notes += [f"{label}: weights of {path}" for label, path in zip(modules, weights, strict=False)]
        names = ()
    for name in names:
        trained = trained_checkpoint(name)
        if trained is not None:
            modules[name], _ = load_model(trained, expected_name=name)
            notes.append(f"{name}: weights of {trained}")
        else:
            modules[name] = create_model(name)
            if count_parameters(modules[name])[1] > 0:   # identity and dcp have nothing to learn
                untrained.append(name)
    for spec in checkpoints:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise InputError(f"--checkpoint must be NAME=PATH, got {spec!r}")
        label = name if name not in modules else f"{name}@{path}"
        modules[label], _ = load_model(path, expected_name=name)
        notes.append(f"{label}: weights of {path}")
    return BenchModels(modules, notes, untrained)


def bench(models=None, data=None, out: str | os.PathLike = "bench-out", *, checkpoints=(), weights=(),
          subset: str | None = None, split: str = "test", protocol: str = "auto", echo=None, **options):
    """Evaluate models on datasets and write the tables, images and plots into ``out``.

    Args:
        models: registered names (each with ``runs/NAME/best.pt`` when it exists, else untrained); default
            ``identity`` (the input scored as it is), or with ``weights`` the detected architectures.
        data: dataset specs (folders, presets, ``PRESET=PATH``); default: every dataset under the data home
            (:func:`default_bench_data`).
        checkpoints: ``NAME=PATH`` trained checkpoints.
        weights: released weight files, one per name of ``models`` (see :func:`bench_models`).
        echo: called with each line to say before the run starts (untrained models); None: silent.
        options: keyword arguments of :func:`uhr4k.benchmark.runner.run_benchmark` (device, tile, ...).
    Returns:
        :class:`uhr4k.benchmark.runner.BenchResult`; its ``notes`` say which weights each model used and
        ``untrained`` names the models scored with random weights.
    """
    from uhr4k.benchmark.runner import load_dataset, run_benchmark, untrained_warning

    if models is None:
        models = () if weights else ("identity",)
    elif isinstance(models, str):
        models = (models,)
    specs = [(d, subset) for d in ([data] if isinstance(data, (str, os.PathLike)) else data)] if data else \
        default_bench_data()
    datasets = [load_dataset(str(spec), subset=sub, split=split, protocol=protocol) for spec, sub in specs]
    chosen = bench_models(models, checkpoints, weights)
    if chosen.untrained and echo is not None:
        echo(untrained_warning(chosen.untrained))
    return run_benchmark(chosen.modules, datasets, out, untrained=chosen.untrained, notes=chosen.notes, **options)
