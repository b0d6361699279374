"""``uhr4k models``: every registered model with its task(s), default loss, recipe, whether its authors'
weights convert, its parameters and, on request, MACs; one line per model (the rest of what the registry
declares, the papers, releases and published sizes, is on docs/models.md, which ``--docs`` below writes).

Parameters are counted on models built on the ``meta`` device (no weights are allocated or initialised,
so listing every model takes a fraction of a second); MACs are counted only with ``--macs`` (or
``--size``). Both, and what the registry declares, are kept in a cache keyed by version and source
(:mod:`uhr4k.commands.model_facts`), so that asking again builds nothing and imports no torch.

``python -m uhr4k.commands.models`` writes the facts the package ships; ``--docs docs/models.md`` writes
that page from the registry and those facts.
"""
from __future__ import annotations

import argparse
import fnmatch
from pathlib import Path

import click

from uhr4k.commands.model_facts import SHIPPED, SHIPPED_MACS_SIZE, CountedModel, ModelFacts
from uhr4k.commands.models_page import write_page
from uhr4k.commands.options import parse_size
from uhr4k.core.errors import InputError

DEFAULT_SIZE = (3840, 2160)

# (header, row key, width, align): one entry per column, so a new column is one line here
COLUMNS = [("model", "model", 19, "<"), ("task(s)", "tasks", 33, "<"), ("loss", "loss", 16, "<"),
           ("recipe", "recipe", 18, "<"), ("converter", "converter", 9, "<"), ("parameters", "params", 12, ">")]


def model_rows(names, size: tuple[int, int] | None, facts=None) -> list[dict]:
    """Per model: name, tasks, default loss, recipe, converter, parameters and (``size`` (width, height)
    given) MACs of one forward pass.

    Counts come from ``facts`` (a :class:`ModelFacts` cache, the user's by default) or are counted and
    stored there; a model is built (on the meta device) only when something about it is not cached yet.
    """

    facts = facts if facts is not None else ModelFacts()
    registry = registry_facts(facts)
    rows = []
    for name in names:
        counted = CountedModel(name, facts)
        info = registry[name]
        row = {"model": name, "tasks": ", ".join(info["tasks"]) or "-", "loss": info["default_loss"] or "-",
               "recipe": info["recipe"] or "-", "params": f"{counted.params() / 1e6:.3f} M",
               # a converter: the authors' released weights load with `--weights` / pretrained=
               "converter": "yes" if info["converter"] else "-"}
        if size is not None:
            macs = counted.macs(size)
            row["macs"] = f"{macs / 1e12:.3f} T" if isinstance(macs, int) else f"n/a ({macs})"
        rows.append(row)
    facts.save()
    return rows


def declared_facts(name: str) -> dict:
    """What the registry declares of ``name`` that the listing shows, as JSON values."""
    from uhr4k.models.registry import model_info

    info = model_info(name)
    return {"tasks": list(info.tasks), "converter": info.converter is not None, "default_loss": info.default_loss,
            "recipe": info.recipe}


def registry_facts(facts) -> dict[str, dict]:
    """``{name: declared_facts(name)}`` of every registered model, from the cache when this source tree was
    listed before (then neither torch nor any model module is imported)."""
    def collect():
        from uhr4k.models.registry import list_models

        return {n: declared_facts(n) for n in list_models()}
    return facts.get("registry", collect)


def format_table(rows: list[dict], columns) -> list[str]:
    """Fixed-width text lines: a header, then one line per row (cells wider than their column push on)."""
    def line(cells):
        pairs = zip(cells, columns, strict=True)
        return " ".join(f"{cell:{align}{width}s}" for cell, (_, _, width, align) in pairs).rstrip()
    return [line([c[0] for c in columns])] + [line([str(r[c[1]]) for c in columns]) for r in rows]


@click.command(name="models")
@click.argument("names", nargs=-1)
@click.option("--macs", "want_macs", is_flag=True,
              help="Also count MACs of one forward pass (at --size; cached per uhr4k version).")
@click.option("--size", default=None, help="WIDTHxHEIGHT at which MACs are counted (implies --macs) "
                                            "[default: 3840x2160].")
def command(names, want_macs, size):
    """List registered models (or only NAMES, shell patterns allowed) with task(s), default loss, recipe
    (`uhr4k train --config NAME`), converter (the authors' weights load) and parameters.

    MACs are multiply-accumulates of one forward pass, counted by torch's FlopCounterMode (which counts 2
    FLOPs per MAC) divided by 2 on the meta device: the "FLOPs" of thop/ptflops and of most papers.
    """

    width_height = parse_size(size, "--size") if size is not None else (DEFAULT_SIZE if want_macs else None)
    facts = ModelFacts()
    known = sorted(registry_facts(facts))
    selected = []
    for pattern in names:
        matched = [n for n in known if fnmatch.fnmatchcase(n, pattern)]
        if not matched:
            raise InputError(f"unknown model {pattern!r}; registered: {', '.join(known)}")
        selected += [m for m in matched if m not in selected]
    rows = model_rows(selected or known, width_height, facts)
    columns = list(COLUMNS)
    if width_height is not None:
        columns.append((f"MACs @ {width_height[0]}x{width_height[1]}", "macs", 20, ">"))
    for text in format_table(rows, columns):
        click.echo(text)
    if width_height is not None:
        click.echo("MACs: FlopCounterMode total / 2 (multiply-accumulates, the 'FLOPs' of thop/ptflops), "
                   "meta device.")
    else:
        click.echo("MACs: uhr4k models --macs [--size WxH]")


def write_shipped(path: Path = SHIPPED) -> Path:
    """Count everything ``uhr4k models --macs`` shows and docs/models.md reads for every registered model
    and write it to ``path`` (the package's own facts, see the module docstring)."""
    facts = ModelFacts(path=path, shipped=False)
    facts.entries = {}
    for name in sorted(registry_facts(facts)):
        counted = CountedModel(name, facts)
        counted.params(), counted.trainable(), counted.macs(SHIPPED_MACS_SIZE)
    facts.save(path)
    return path


def main(argv: list[str] | None = None) -> Path:
    """``python -m uhr4k.commands.models``: the shipped facts anew; ``--docs docs/models.md``: that page."""
    parser = argparse.ArgumentParser(prog="python -m uhr4k.commands.models", description=main.__doc__)
    parser.add_argument("--docs", type=Path, metavar="PATH", help="write the page of the registered models "
                        "(docs/models.md) instead of the shipped facts")
    args = parser.parse_args(argv)
    return write_page(args.docs) if args.docs is not None else write_shipped()


if __name__ == "__main__":
    print(main())
