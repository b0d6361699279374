"""``--license`` / ``--source-license`` and the command line: what build-syn, align, merge and pack pass
down for the dataset card (the pipelines write it)."""
from __future__ import annotations

import shlex

import click

from uhr4k.core.name_value import parse_name_value


def card_options(fn):
    """Add ``--license`` and ``--source-license NAME=LICENSE`` (repeatable) to a command."""
    fn = click.option("--source-license", "source_licenses", multiple=True, metavar="NAME=LICENSE",
                      help="A source and its licence, for the dataset card (repeatable), e.g. "
                           "videos=CC-BY-4.0.")(fn)
    return click.option("--license", "license_", default=None, metavar="SPDX",
                        help="Licence of the dataset, for the dataset card (README.md), e.g. cc-by-4.0; "
                             "kept from an existing card when not given.")(fn)


def command_line(ctx: click.Context) -> str:
    """The command as run, rebuilt from its parsed options (defaults included, so the card says exactly
    what settings made the data, whichever of them the user typed)."""
    words = ctx.command_path.split()
    if ctx.command_path and not ctx.command_path.startswith("uhr4k"):
        words = ["uhr4k", *words[1:]]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if isinstance(param, click.Argument):
            words += [str(v) for v in (value if isinstance(value, (tuple, list)) else [value]) if v is not None]
            continue
        if value is None or value is False or value == ():
            continue
        flag = max(param.opts, key=len)
        if value is True and getattr(param, "is_flag", False):
            words.append(flag)
            continue
        for v in value if isinstance(value, (tuple, list)) and param.multiple else [value]:
            text = "x".join(map(str, v)) if isinstance(v, tuple) else str(v)
            words += [flag, text]
    return shlex.join(words)


def parse_source_licenses(specs) -> list[dict]:
    """``("videos=CC-BY-4.0", ...)`` -> ``[{"name": "videos", "license": "CC-BY-4.0"}, ...]``.

    Raises:
        InputError: ``--source-license must be NAME=LICENSE, got '...'``.
    """
    out = []
    for spec in specs:
        name, lic = parse_name_value(spec, "--source-license", "NAME=LICENSE",
                                     valid=lambda name, lic: bool(name.strip() and lic.strip()))
        out.append({"name": name.strip(), "license": lic.strip()})
    return out


def card_arguments(ctx: click.Context) -> dict:
    """What a command passes down for the dataset card: ``license`` and ``sources`` (parsed from
    ``--source-license NAME=LICENSE``) where the command has :func:`card_options`, and ``command``, its
    :func:`command_line`.

    Raises:
        InputError: ``--source-license must be NAME=LICENSE, got '...'``.
    """
    arguments = {"command": command_line(ctx)}
    if "license_" in ctx.params:
        arguments.update(license=ctx.params["license_"],
                         sources=parse_source_licenses(ctx.params["source_licenses"]))
    return arguments
