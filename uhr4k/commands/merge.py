"""``uhr4k merge``: merge build-syn shard roots into one dataset root."""
from __future__ import annotations

from pathlib import Path

import click

from uhr4k.app.reports import merge_lines
from uhr4k.commands.card_options import card_arguments
from uhr4k.commands.echo import echo_lines


@click.command(name="merge", help="""Merge the roots of `uhr4k build-syn --shard i/n` runs into one root,
byte-identical to a single run. Files are hard-linked when possible and checked against their manifests.

Example: uhr4k merge shard1/ shard2/ --out UHR4K""")
@click.argument("shards", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Merged dataset root (may be one of the shards).")
@click.pass_context
def command(ctx, shards, out):
    from uhr4k.app.pipelines import merge_shards  # numpy and OpenCV: loaded when the command runs, not for --help
    echo_lines(merge_lines(merge_shards(shards, out, **card_arguments(ctx))))
