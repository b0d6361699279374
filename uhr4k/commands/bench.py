"""``uhr4k bench``: evaluate models on datasets (library call: :func:`uhr4k.benchmark.runner.run_benchmark`)."""
from __future__ import annotations

import click

from uhr4k.commands.options import parse_size
from uhr4k.errors import InputError


def build_models(names: tuple[str, ...], checkpoints: tuple[str, ...], weights: tuple[str, ...] = ()) -> dict:
    """``--model NAME`` through the registry (the i-th ``--weights PATH`` loaded into the i-th model;
    ``auto`` or no ``--model`` detects the architecture of each file), ``--checkpoint NAME=PATH`` through
    ``load_model``."""
    from uhr4k.models import create_model

    models = {}
    if weights:
        from uhr4k.models.zoo import build_with_weights
        models.update(build_with_weights(names, weights))
        names = ()
    for name in names:
        models[name] = create_model(name)
    for spec in checkpoints:
        if "=" not in spec:
            raise InputError(f"--checkpoint must be NAME=PATH, got {spec!r}")
        name, path = spec.split("=", 1)
        try:
            from uhr4k.models.checkpoint import load_model
        except ModuleNotFoundError:
            raise InputError("checkpoints cannot be loaded by this version (uhr4k.models.checkpoint missing)",
                             path) from None
        model, _ = load_model(path, expected_name=name)
        label = name if name not in models else f"{name}@{path}"
        models[label] = model
    return models


def untrained_models(models: dict, model_names) -> list[str]:
    """Models built by ``--model NAME`` that have parameters: the registry initialises them at random
    (``identity`` and ``dcp`` have nothing to learn; ``--checkpoint`` models are trained)."""
    from uhr4k.benchmark.profiling import count_parameters

    return [n for n in model_names if n in models and count_parameters(models[n])[1] > 0]


@click.command(name="bench")
@click.option("--model", "model_names", multiple=True, metavar="NAME",
              help="Registered model to evaluate (repeatable); see `uhr4k models`. `identity` scores the input.")
@click.option("--checkpoint", "checkpoints", multiple=True, metavar="NAME=PATH",
              help="Trained model: registered NAME and its checkpoint file (repeatable).")
@click.option("--weights", "weights", multiple=True, metavar="PATH",
              help="Weights for the --model of the same position, as released (BasicSR params, state_dict, "
                   "safetensors, export folder ...); without --model (or --model auto) the architecture is "
                   "detected (pip install uhr4k[zoo]).")
@click.option("--data", "data", multiple=True, required=True, metavar="ROOT_OR_PRESET",
              help="Dataset folder, preset (rain100h, uhr4k-syn, ...; under $UHR4K_DATA) or PRESET=PATH (repeatable).")
@click.option("--subset", default=None, help="UHR4K subset (syn, rain, real) for a UHR4K root.")
@click.option("--split", default="test", show_default=True, help="Split to evaluate.")
@click.option("--protocol", default="auto", show_default=True,
              type=click.Choice(["auto", "y", "rgb", "bandwise"]), help="Metric protocol (auto: the dataset's).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@click.option("--tile", type=int, default=None, help="Run models on tiles of this side (bounded memory).")
@click.option("--overlap", type=int, default=32, show_default=True, help="Tile overlap in pixels.")
@click.option("--out", "out", default="bench-out", show_default=True, type=click.Path(file_okay=False),
              help="Output folder for tables, images and plots.")
@click.option("--profile-size", default="3840x2160", show_default=True,
              help="WIDTHxHEIGHT of the complexity table's MACs and runtime; `none` skips the runtime.")
@click.option("--repeats", type=int, default=5, show_default=True, help="Timed runs of the complexity profile.")
@click.option("--no-images", is_flag=True, help="Do not write restored images and comparison grids.")
@click.option("--max-grids", type=int, default=None, help="At most this many comparison grids per dataset.")
def command(model_names, checkpoints, weights, data, subset, split, protocol, device, tile, overlap, out, profile_size,
            repeats, no_images, max_grids):
    """Evaluate models on datasets: PSNR/SSIM per protocol, runtime, memory, tables, grids and plots."""
    from uhr4k.benchmark.runner import load_dataset, run_benchmark

    if not model_names and not checkpoints and not weights:
        model_names = ("identity",)
    datasets = [load_dataset(d, subset=subset, split=split, protocol=protocol) for d in data]
    models = build_models(model_names, checkpoints, weights)
    untrained = untrained_models(models, () if weights else model_names)  # --weights models are trained
    if untrained:
        from uhr4k.benchmark.runner import untrained_warning
        click.echo(untrained_warning(untrained), err=True)
    result = run_benchmark(models, datasets, out, device=device, tile=tile, overlap=overlap,
                           save_images=not no_images, max_grids=max_grids,
                           profile_size=parse_size(profile_size, "--profile-size", allow_none=True),
                           repeats=repeats, untrained=untrained)
    for line in result.lines():
        click.echo(line)
