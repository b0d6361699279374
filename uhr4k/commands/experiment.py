"""``uhr4k experiment NAME``: one experiment of the paper end to end
(library call: :func:`uhr4k.experiments.run_experiment`)."""
from __future__ import annotations

from pathlib import Path

import click

from uhr4k.core.errors import InputError


@click.command(name="experiment")
@click.argument("name", required=False)
@click.option("--list", "list_", is_flag=True, help="List the experiments and exit.")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Data home holding the datasets' folders (UHR4K/, Real20/, Rain100L/, 4KID/, ...).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: experiments/NAME); a rerun there resumes.")
@click.option("--gpus", type=click.IntRange(min=1), default=1, show_default=True,
              help="Train with torchrun on this many GPUs (the paper: 4).")
@click.option("--smoke", is_flag=True,
              help="Tiny widths, a few steps, a generated dataset when --data is omitted: seconds per row on a CPU.")
@click.option("--weights", "weights", multiple=True, metavar="NAME=PATH",
              help="Score released weights for model NAME instead of training it (repeatable).")
@click.option("--only", default=None, metavar="PATTERN", help="Only the rows whose model or label matches.")
@click.option("--vgg-weights", type=click.Path(dir_okay=False), default=None,
              help="torchvision VGG-19 state dict for the perceptual losses (or $UHR4K_VGG19_WEIGHTS).")
@click.option("--device", default=None, help="cpu, cuda, cuda:N (default: a GPU if any).")
def command(name, list_, data, out, gpus, smoke, weights, only, vgg_weights, device):
    """Run experiment NAME of the paper (uhr4k experiment --list): train every model it needs, benchmark
    each on its datasets, and write OUT/table.md and OUT/table.csv in the paper's shape, our figure beside
    the paper's (ours | paper | difference). Exit status 1 when a row could not be trained or scored."""
    from uhr4k.experiments import ExperimentOptions, experiment_names, load_experiment, run_experiment
    from uhr4k.experiments.run import parse_weights

    if list_:
        for each in experiment_names():
            click.echo(load_experiment(each).summary())
        return
    if not name:
        raise InputError("name an experiment (uhr4k experiment --list)", "NAME")
    options = ExperimentOptions(data=data, out=out or Path("experiments") / name, gpus=gpus, smoke=smoke,
                                weights=parse_weights(weights), only=only, vgg_weights=vgg_weights, device=device)
    result = run_experiment(name, options, echo=lambda line: click.echo(line, err=True))
    click.echo(Path(result.files[0]).read_text(encoding="utf-8"))
    click.echo(f"wrote {', '.join(str(p) for p in result.files)}")
    if result.failed:
        raise SystemExit(1)
