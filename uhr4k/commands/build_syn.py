"""``uhr4k build-syn``: build UHR4K-Syn and UHR4K-Rain from videos (and reflection photos)."""
from __future__ import annotations

from pathlib import Path

import click

from uhr4k.errors import InputError


def _size(ctx, param, value):
    from uhr4k.synth.resize import parse_size

    try:
        return parse_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command(name="build-syn", help="""Build UHR4K-Syn (reflections) and UHR4K-Rain (rain streaks)
from a folder of videos and images, reproducible to the byte and resumable.

Example: uhr4k build-syn --frames videos/ --reflections DIV2K_train_HR/ --out UHR4K --workers 2""")
@click.option("--frames", type=click.Path(path_type=Path), required=True,
              help="Folder of videos (mp4, mov, mkv, avi, webm) and images: the backgrounds. One video is one scene.")
@click.option("--reflections", type=click.Path(path_type=Path), default=None,
              help="Folder of reflection photos (DIV2K in the paper). Without it: frames of other scenes.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Dataset root to create or resume.")
@click.option("--count", type=int, default=2167, show_default=True, help="Number of backgrounds (pairs per subset).")
@click.option("--size", default="3840x2160", show_default=True, callback=_size, help="Output WIDTHxHEIGHT.")
@click.option("--test", type=int, default=50, show_default=True, help="Test pairs (whole scenes).")
@click.option("--val", type=int, default=20, show_default=True,
              help="Validation pairs (whole scenes, taken from training).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes (never changes the output).")
@click.option("--shard", default="1/1", show_default=True,
              help="Build only shard i of n (1-based); merge the shard roots with `uhr4k merge`.")
@click.option("--subsets", default="syn,rain", show_default=True, help="Comma-separated: syn, rain.")
@click.option("--reflection-model", type=click.Choice(["zhang", "fan", "screen"]), default="zhang", show_default=True)
@click.option("--allow-upscale", is_flag=True, help="Upscale sources smaller than --size instead of failing them.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
def command(ctx, frames, reflections, out, count, size, test, val, seed, workers, shard, subsets,
            reflection_model, allow_upscale, quiet):
    from uhr4k.synth.pipeline import BuildOptions, build_syn, parse_shard

    keys = tuple(k.strip() for k in subsets.split(",") if k.strip())
    if not keys:
        raise InputError("--subsets is empty")
    if reflections is not None and not reflections.is_dir():
        raise InputError("not a folder", reflections)
    opts = BuildOptions(frames=frames, reflections=reflections, out=out, count=count, size=size, test=test,
                        val=val, seed=seed, workers=workers, shard=parse_shard(shard), subsets=keys,
                        reflection_model=reflection_model, allow_upscale=allow_upscale)
    summary = build_syn(opts, progress=not quiet)
    for message in summary.messages:
        click.echo(f"warning: {message}", err=True)
    for failure in summary.failures:
        click.echo(f"failed: {failure.line()}", err=True)
    splits = ", ".join(f"{sub} {split} {n}" for (sub, split), n in sorted(summary.split_pairs.items()))
    click.echo(f"{out}: {summary.planned} backgrounds planned, {summary.made} made, {summary.reused} verified "
               f"and kept, {summary.rows} pairs ({splits or 'none'}), {len(summary.failures)} failure(s)"
               f"{' (see failures.csv)' if summary.failures else ''}")
    if summary.failed:
        ctx.exit(1)
