"""``uhr4k.bench``: the models and datasets a benchmark run scores by default, and the run itself.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from uhr4k.app.training import trained_checkpoint
from uhr4k.core.errors import InputError
from uhr4k.core.name_value import parse_name_value
from uhr4k.data import presets
from uhr4k.experiments.published import paper_figures


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
        name, path = parse_name_value(spec, "--checkpoint", "NAME=PATH")
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
        options: keyword arguments of :func:`uhr4k.benchmark.runner.run_benchmark` (device, tile, ...);
            ``paper_figures`` defaults to the paper's, read from the experiment files.
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
    options.setdefault("paper_figures", paper_figures())
    return run_benchmark(chosen.modules, datasets, out, untrained=chosen.untrained, notes=chosen.notes, **options)

