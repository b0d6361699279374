"""``uhr4k pack``: a UHR4K root as WebDataset shards or a Hugging Face dataset folder (library call:
:func:`uhr4k.app.pipelines.pack`)."""
from __future__ import annotations

import click

from uhr4k.commands.card_options import card_arguments, card_options
from uhr4k.core.errors import InputError

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9}


def parse_bytes(text: str, option: str = "--shard-size") -> int:
    """``"1GB"``, ``"500MB"``, ``"64k"``, ``"1000000"`` -> bytes (decimal units).

    Raises:
        InputError: ``--shard-size: expected a size such as 1GB or 500MB, got '...'``.
    """
    low = text.strip().lower()
    number = low.rstrip("bkmg")
    unit = low[len(number):]
    try:
        value = float(number) * _UNITS[unit]
    except (ValueError, KeyError):
        raise InputError(f"{option}: expected a size such as 1GB or 500MB, got {text!r}") from None
    if value <= 0:
        raise InputError(f"{option}: must be positive, got {text!r}")
    return int(value)


@click.command(name="pack")
@click.argument("root", type=click.Path(file_okay=False, path_type=str))
@click.option("--format", "fmt", type=click.Choice(["webdataset", "hf"]), default="webdataset", show_default=True,
              help="webdataset: tar shards to stream; hf: a folder datasets.load_dataset('imagefolder') reads.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=str),
              help="New (or empty) output folder, outside ROOT.")
@click.option("--shard-size", default="1GB", show_default=True, help="Close a WebDataset shard past this size.")
@click.option("--subset", "subsets", multiple=True, help="Only this subset (syn, rain, real; repeatable).")
@click.option("--split", "splits", multiple=True, type=click.Choice(["train", "val", "test"]),
              help="Only this split (repeatable).")
@card_options
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def command(ctx, root, fmt, out, shard_size, subsets, splits, license_, source_licenses, quiet):
    """Pack the UHR4K dataset at ROOT for sharing: WebDataset shards or a Hugging Face folder, with a card.

    Every file's SHA-256 is checked against the manifest on the way.
    """
    from uhr4k.app.pipelines import pack  # numpy and OpenCV: loaded when the command runs, not for --help
    result = pack(root, out, fmt, subsets=subsets, splits=splits, shard_bytes=parse_bytes(shard_size),
                  progress=not quiet, **card_arguments(ctx))
    for line in result.lines():
        click.echo(line)
