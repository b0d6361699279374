"""``uhr4k cache``: decode a dataset once into memory-mappable arrays for fast random crops
(library call: :func:`uhr4k.app.pipelines.build_cache`)."""
from __future__ import annotations

import click


@click.command(name="cache")
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Decoding processes.")
def command(root, workers):
    """Prepare ROOT/.uhr4k-cache: every training image as a raw array, so a crop reads only its rows.

    Rerunning redoes only images changed since; a changed image is never read from a stale cache.
    Uses about W x H x 3 bytes per image (25 MB at 4K).
    """
    from uhr4k.app.pipelines import build_cache  # numpy and OpenCV: loaded when the command runs, not for --help
    summary = build_cache(root, workers=workers)
    for line in summary.lines():
        click.echo(line)
    if not summary.ok:
        raise SystemExit(1)
