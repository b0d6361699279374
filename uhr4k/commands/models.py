"""``uhr4k models``: every registered model with its task(s), parameters and, on request, MACs.

Parameters are counted on models built on the ``meta`` device (no weights are allocated or initialised,
so listing every model takes a fraction of a second); MACs are counted only with ``--macs`` (or
``--size``). Both, and the registry's names, tasks and converters, are kept in a cache keyed by version
and source (:mod:`uhr4k.commands.model_facts`), so that asking again builds nothing and imports no torch.
"""
from __future__ import annotations

import fnmatch
from pathlib import Path

import click

from uhr4k.commands.model_facts import SHIPPED, SHIPPED_MACS_SIZE, ModelFacts
from uhr4k.commands.options import parse_size
from uhr4k.core.errors import InputError

DEFAULT_SIZE = (3840, 2160)

# (header, row key, width, align): one entry per column, so a new column is one line here
COLUMNS = [("model", "model", 22, "<"), ("task(s)", "tasks", 33, "<"), ("converter", "converter", 9, "<"),
           ("parameters", "params", 12, ">")]


def build_on_meta(name: str):
    """The registered model ``name`` built on the ``meta`` device (shapes only, no memory, no init cost);
    a model whose constructor needs real values (an ``.item()`` in ``__init__``) is built on the CPU."""
    import torch

    from uhr4k.models import create_model

    try:
        with torch.device("meta"):
            return create_model(name)
    except (RuntimeError, NotImplementedError):
        return create_model(name)


def model_rows(names, size: tuple[int, int] | None, facts=None) -> list[dict]:
    """Per model: name, tasks, parameters and (``size`` (width, height) given) MACs of one forward pass.

    Counts come from ``facts`` (a :class:`ModelFacts` cache, the user's by default) or are counted and
    stored there; a model is built (on the meta device) only when something about it is not cached yet.
    """

    facts = facts if facts is not None else ModelFacts()
    registry = registry_facts(facts)
    rows = []
    for name in names:
        lazy = _LazyModel(name)
        params = facts.get(f"{name}|params", lambda lazy=lazy: _count_params(lazy.get()))
        info = registry[name]
        row = {"model": name, "tasks": ", ".join(info["tasks"]) or "-", "params": f"{params / 1e6:.3f} M",
               # a converter: the authors' released weights load with `--weights` / pretrained=
               "converter": "yes" if info["converter"] else "-"}
        if size is not None:
            macs = facts.get(f"{name}|macs|{size[0]}x{size[1]}", lambda lazy=lazy: _count_macs(lazy.get(), size))
            row["macs"] = f"{macs / 1e12:.3f} T" if isinstance(macs, int) else f"n/a ({macs})"
        rows.append(row)
    facts.save()
    return rows


def registry_facts(facts) -> dict[str, dict]:
    """``{name: {"tasks": [...], "converter": bool}}`` of every registered model, from the cache when this
    source tree was listed before (then neither torch nor any model module is imported)."""
    def collect():
        from uhr4k.models.registry import list_models, model_info

        return {n: {"tasks": list(model_info(n).tasks), "converter": model_info(n).converter is not None}
                for n in list_models()}
    return facts.get("registry", collect)


class _LazyModel:
    """Builds the model on first use only: a fully cached listing builds nothing."""

    def __init__(self, name: str):
        self.name, self.model = name, None

    def get(self):
        if self.model is None:
            self.model = build_on_meta(self.name)
        return self.model


def _count_params(model) -> int:
    from uhr4k.benchmark.profiling import count_parameters

    return count_parameters(model)[1]


def _count_macs(model, size) -> int | str:
    from uhr4k.benchmark.profiling import count_macs

    try:
        return int(count_macs(model, (1, 3, size[1], size[0])))
    except Exception as exc:   # noqa: BLE001 - a model the meta device cannot trace: say why, go on
        return type(exc).__name__


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
    """List registered models (or only NAMES, shell patterns allowed) with task(s) and parameters.

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
    """Count everything ``uhr4k models --macs`` shows for every registered model and write it to ``path``
    (the package's own facts, see the module docstring)."""
    facts = ModelFacts(path=path, shipped=False)
    facts.entries = {}
    model_rows(sorted(registry_facts(facts)), SHIPPED_MACS_SIZE, facts)   # counts into facts, saves to path
    facts.save(path)
    return path


if __name__ == "__main__":
    print(write_shipped())
