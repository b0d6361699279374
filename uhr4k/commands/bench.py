"""``uhr4k bench``: evaluate models on datasets (library call: :func:`uhr4k.app.bench.bench`)."""
from __future__ import annotations

import click

from uhr4k.commands.options import device_callback, parse_size
from uhr4k.core.errors import InputError


@click.command(name="bench")
@click.option("--model", "model_names", multiple=True, metavar="NAME",
              help="Registered model to evaluate (repeatable); see `uhr4k models`. `identity` scores the input. "
                   "Uses runs/NAME/best.pt when `uhr4k train` left one, else random weights (said).")
@click.option("--checkpoint", "checkpoints", multiple=True, metavar="NAME=PATH",
              help="Trained model: registered NAME and its checkpoint file (repeatable).")
@click.option("--weights", "weights", multiple=True, metavar="PATH",
              help="Weights for the --model of the same position (identity and dcp take none), as released "
                   "(BasicSR params, state_dict, safetensors, export folder ...); without --model (or --model "
                   "auto) the architecture is detected (pip install uhr4k[zoo]).")
@click.option("--data", "data", multiple=True, metavar="ROOT_OR_PRESET",
              help="Dataset folder, preset (rain100h, uhr4k-syn, ...; under $UHR4K_DATA) or PRESET=PATH (repeatable). "
                   "Default: every UHR4K subset of $UHR4K_DATA/UHR4K and every public preset found there.")
@click.option("--subset", default=None, help="UHR4K subset (syn, rain, real) for a UHR4K root.")
@click.option("--split", default="test", show_default=True, help="Split to evaluate.")
@click.option("--protocol", default="auto", show_default=True,
              type=click.Choice(["auto", "y", "rgb", "bandwise"]), help="Metric protocol (auto: the dataset's).")
@click.option("--device", default="cpu", show_default=True, callback=device_callback,
              help="cpu, cuda or cuda:N.")
@click.option("--tile", type=click.IntRange(min=1), default=None,
              help="Run models on tiles of this side (bounded memory).")
@click.option("--overlap", type=click.IntRange(min=0), default=32, show_default=True, help="Tile overlap in pixels.")
@click.option("--out", "out", default="bench-out", show_default=True, type=click.Path(file_okay=False),
              help="Output folder for tables, images and plots.")
@click.option("--profile-size", default="3840x2160", show_default=True,
              help="WIDTHxHEIGHT of the complexity table's MACs and runtime; `none` skips the runtime.")
@click.option("--repeats", type=click.IntRange(min=1), default=5, show_default=True,
              help="Timed runs of the complexity profile.")
@click.option("--no-images", is_flag=True, help="Do not write restored images and comparison grids.")
@click.option("--max-grids", type=click.IntRange(min=0), default=None,
              help="At most this many comparison grids per dataset.")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32", show_default=True,
              help="Autocast precision of the forward passes; bf16/fp16 scores are labelled as such in every table.")
@click.option("--channels-last", is_flag=True, help="Weights and inputs in channels-last (NHWC) memory order.")
@click.option("--compile", "compile_models", is_flag=True,
              help="torch.compile every model (the first image of each size compiles; see complexity.csv).")
def command(model_names, checkpoints, weights, data, subset, split, protocol, device, tile, overlap, out, profile_size,
            repeats, no_images, max_grids, precision, channels_last, compile_models):
    """Evaluate models on datasets: PSNR/SSIM per protocol, runtime, memory, tables, grids and plots."""
    from uhr4k.app.bench import bench

    if tile is not None and overlap >= tile:
        raise InputError(f"--overlap {overlap} must be smaller than --tile {tile}")
    if not model_names and not checkpoints and not weights:
        model_names = ("identity",)
    result = bench(model_names, list(data), out, checkpoints=checkpoints, weights=weights, subset=subset,
                   split=split, protocol=protocol, echo=lambda line: click.echo(line, err=True), device=device,
                   tile=tile, overlap=overlap, save_images=not no_images, max_grids=max_grids,
                   profile_size=parse_size(profile_size, "--profile-size", allow_none=True), repeats=repeats,
                   precision=precision, channels_last=channels_last, compile=compile_models)
    for line in result.lines():
        click.echo(line)
