"""``uhr4k merge``: merge build-syn shard roots into one dataset root."""
from __future__ import annotations

from pathlib import Path

import click

from uhr4k.commands.card_options import command_line, declared


@click.command(name="merge", help="""Merge the roots of `uhr4k build-syn --shard i/n` runs into one root,
byte-identical to a single run. Files are hard-linked when possible and checked against their manifests.

Example: uhr4k merge shard1/ shard2/ --out UHR4K""")
@click.argument("shards", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Merged dataset root (may be one of the shards).")
@click.pass_context
def command(ctx, shards, out):
    from uhr4k import layout
    from uhr4k.layout.card import write_card
    from uhr4k.synth.merge import merge_shards

    # the shards' cards (build-syn wrote one each) before a shard that is also --out is overwritten
    cards = [declared(shard, None, []) for shard in shards]
    summary = merge_shards(list(shards), out)
    card = next((c for c in cards if c["license"] or c["sources"]), cards[0])
    card["history"] = list(dict.fromkeys(cmd for c in cards for cmd in c["history"]))
    write_card(summary.out, layout.read_manifest(summary.out), command=command_line(ctx), **card)
    click.echo(f"{summary.out}: merged {summary.shards} shard(s), {summary.rows} pairs, {summary.linked} files "
               f"placed, {summary.failures} failure(s) carried over")
