"""``uhr4k demo``: the whole mission end to end on built-in material, with report.html."""
from __future__ import annotations

import click

from uhr4k.commands.options import parse_size
from uhr4k.core.errors import InputError


def _demo_size(value: str) -> tuple[int, int]:
    w, h = parse_size(value, "--size")
    if w < 128 or h < 72 or w % 2 or h % 2:
        raise InputError(f"--size: {w}x{h} must be even and at least 128x72")
    return w, h


@click.command(name="demo")
@click.option("--out", default="demo-out", show_default=True, type=click.Path(file_okay=False),
              help="Folder for everything the demo makes; report.html at its top.")
@click.option("--size", default="960x540", show_default=True, metavar="WxH",
              help="Image size of the demo's dataset (the real thing is 3840x2160).")
@click.option("--train-minutes", default=5.0, show_default=True, type=click.FloatRange(min=0.05),
              help="Training length of the small GLSGN, as the minutes it takes on a quiet 2-core machine "
                   "(a fixed number of steps, so results do not depend on the machine).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1), help="Worker processes.")
@click.option("--seed", default=0, show_default=True, type=int)
def command(out, size, train_minutes, workers, seed):
    """Build, align, train and benchmark on photographs bundled with scikit-image; write report.html.

    No download and no data of yours: five photos become pan-and-zoom videos (one scene each) for
    build-syn, simulated through-glass captures with known homographies go through align, a small GLSGN
    trains for a few minutes, and bench compares it with identity (and dcp on a hazy set with real depth).
    A rerun after an interruption reuses the finished steps.
    """
    from uhr4k.app.demo import demo  # the pipelines (numpy, OpenCV): loaded when the demo runs
    report = demo(out, size=_demo_size(size), seed=seed, workers=workers, train_minutes=train_minutes,
                  echo=lambda line: click.echo(line, err=True))
    click.echo(f"report: {report}")
