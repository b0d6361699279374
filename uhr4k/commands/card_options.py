"""``--license`` / ``--source-license``: what build-syn, align and pack declare in the dataset card."""
from __future__ import annotations

import click


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
    import shlex

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


def declared(root, license_, sources) -> dict:
    """Card arguments for data derived from ``root``: what this run declares, else what ``root``'s card
    declared (a rerun, or pack, need not repeat --license), and the commands that made ``root``."""
    from uhr4k.layout.card import read_card_meta

    previous = read_card_meta(root)
    kept = previous.get("uhr4k", {}) if isinstance(previous.get("uhr4k"), dict) else {}
    old_license = previous.get("license") if previous.get("license") != "unknown" else None
    return {"license": license_ or old_license, "sources": sources or kept.get("sources", []),
            "history": kept.get("commands", [])}


def write_root_card(root, license_, sources, command: str) -> None:
    """The card of a dataset root from its manifest; declarations not repeated on this run are kept."""
    from uhr4k import layout
    from uhr4k.layout.card import write_card

    write_card(root, layout.read_manifest(root), command=command, **declared(root, license_, sources))
