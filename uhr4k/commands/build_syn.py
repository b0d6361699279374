"""``uhr4k build-syn``: build UHR4K-Syn and UHR4K-Rain from videos (and reflection photos)."""
from __future__ import annotations

from pathlib import Path

import click

from uhr4k.app.reports import build_syn_lines
from uhr4k.commands.card_options import card_arguments, card_options
from uhr4k.commands.echo import echo_lines
from uhr4k.commands.options import parse_shard, parse_size
from uhr4k.core.errors import InputError


@click.command(name="build-syn", help="""Build UHR4K-Syn (reflections) and UHR4K-Rain (rain streaks)
from a folder of videos and images, reproducible to the byte and resumable.

Writes into $UHR4K_DATA/UHR4K (default ./data/UHR4K) unless --out says otherwise, and takes its
reflection photos from $UHR4K_DATA/DIV2K_train_HR (or DIV2K) when that folder exists.

Example: uhr4k build-syn --frames videos/ --reflections DIV2K_train_HR/ --workers 2""")
@click.option("--frames", type=click.Path(path_type=Path), required=True,
              help="Folder of videos (mp4, mov, mkv, avi, webm) and images: the backgrounds. One video is one scene.")
@click.option("--reflections", type=click.Path(path_type=Path), default=None,
              help="Folder of reflection photos (DIV2K in the paper). Default: $UHR4K_DATA/DIV2K_train_HR when it "
                   "exists, else frames of other scenes.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Dataset root to create or resume (default: $UHR4K_DATA/UHR4K).")
@click.option("--count", type=int, default=2167, show_default=True, help="Number of backgrounds (pairs per subset).")
@click.option("--size", default="3840x2160", show_default=True, help="Output WIDTHxHEIGHT.")
@click.option("--test", type=int, default=50, show_default=True, help="Test pairs (whole scenes; the paper's 50).")
@click.option("--val", type=int, default=20, show_default=True,
              help="Validation pairs (whole scenes), carved from the paper's 2,117 training pairs.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes (never changes the output).")
@click.option("--shard", default="1/1", show_default=True,
              help="Build only shard i of n (1-based); merge the shard roots with `uhr4k merge`. `auto`: from "
                   "the scheduler (SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, or RANK/WORLD_SIZE).")
@click.option("--subsets", default="syn,rain", show_default=True, help="Comma-separated: syn, rain.")
@click.option("--reflection-model", type=click.Choice(["zhang", "fan", "screen"]), default="zhang", show_default=True)
@click.option("--allow-upscale", is_flag=True, help="Upscale sources smaller than --size instead of failing them.")
@card_options
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
def command(ctx, frames, reflections, out, count, size, test, val, seed, workers, shard, subsets,
            reflection_model, allow_upscale, license_, source_licenses, quiet):
    from uhr4k.app.pipelines import build_syn  # numpy and OpenCV: loaded when the command runs, not for --help
    card = card_arguments(ctx)
    keys = tuple(k.strip() for k in subsets.split(",") if k.strip())
    if not keys:
        raise InputError("--subsets is empty")
    summary = build_syn(frames, out, reflections=reflections, progress=not quiet, count=count,
                        size=parse_size(size, "--size"), test=test, val=val, seed=seed, workers=workers,
                        shard=parse_shard(shard), subsets=keys, reflection_model=reflection_model,
                        allow_upscale=allow_upscale, **card)
    echo_lines(build_syn_lines(summary, out))
    if summary.card_error is not None:
        raise summary.card_error
    if not summary.ok:
        ctx.exit(1)
