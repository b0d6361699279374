"""``uhr4k merge``: merge build-syn shard roots into one dataset root."""
from __future__ import annotations

from pathlib import Path

import click


@click.command(name="merge", help="""Merge the roots of `uhr4k build-syn --shard i/n` runs into one root,
byte-identical to a single run. Files are hard-linked when possible and checked against their manifests.

Example: uhr4k merge shard1/ shard2/ --out UHR4K""")
@click.argument("shards", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Merged dataset root (may be one of the shards).")
def command(shards, out):
    from uhr4k.synth.merge import merge_shards

    summary = merge_shards(list(shards), out)
    click.echo(f"{summary.out}: merged {summary.shards} shard(s), {summary.rows} pairs, {summary.linked} files "
               f"placed, {summary.failures} failure(s) carried over")
