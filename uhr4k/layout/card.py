"""The dataset card: ``README.md`` at a dataset root (or a packed copy), Hugging Face style.

YAML front matter (what the Hub and people's tools read), then a short Markdown body::

    ---
    license: "cc-by-4.0"                       # as the user declares it (--license); "unknown" otherwise
    task_categories: ["image-to-image"]
    tags: ["image-restoration", "reflection-removal", ...]
    size_categories: ["n<1K"]
    pretty_name: "..."
    uhr4k:
      version: "0.1.0"
      command: "uhr4k align ..."                 # the last command; commands: every one, in order
      commands: ["uhr4k build-syn ...", "uhr4k align ..."]
      sources: [{"name": "videos", "license": "CC-BY-4.0"}, ...]      # --source-license NAME=LICENSE
      splits: {"UHR4K-Syn": {"train": 40, "val": 5, "test": 5}, ...}
      image_sizes: {"3840x2160": 150}
      parameters: {"UHR4K-Syn": {"blend.alpha": [0.1, 0.4], ...}}  # [min, max] of every drawn value
    ---

Every value is written as JSON, which is valid YAML, so no YAML library is needed to write it and any
YAML reader parses it. The card depends only on the manifest rows and the declared facts (never on time),
so the same dataset gets the same bytes. The pipelines write it at the end of their run: build-syn and align
with :func:`write_root_card`, merge from its shards' cards (:func:`merged_declarations`), pack with
:func:`write_card` (rows of what it packed, declarations of the root it read: :func:`declared`).
"""
from __future__ import annotations

import json
import os
import shlex
import sys
from collections import Counter
from pathlib import Path

from uhr4k import __version__
from uhr4k.core.atomic import write_text_atomic
from uhr4k.core.errors import InputError
from uhr4k.core.tables import markdown_table
from uhr4k.layout import SPLITS, SUBSETS, read_manifest

CARD_NAME = "README.md"
TASKS = {"UHR4K-Syn": "reflection-removal", "UHR4K-Real": "reflection-removal", "UHR4K-Rain": "deraining"}


def numeric_leaves(params: dict, prefix: str = "") -> dict[str, list[float]]:
    """Numeric leaves of a params dict: ``{"layers": [{"opacity": .5}]}`` -> ``{"layers.opacity": [.5]}``
    (lists of dicts also give ``<name>.count``; booleans and seeds are not parameters)."""
    out: dict[str, list[float]] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool) or key == "noise_seed":
            continue
        if isinstance(value, (int, float)):
            out.setdefault(name, []).append(float(value))
        elif isinstance(value, dict):
            for k, v in numeric_leaves(value, f"{name}.").items():
                out.setdefault(k, []).extend(v)
        elif isinstance(value, list):
            if value and all(isinstance(v, dict) for v in value):
                out.setdefault(f"{name}.count", []).append(float(len(value)))
                for item in value:
                    for k, v in numeric_leaves(item, f"{name}.").items():
                        out.setdefault(k, []).extend(v)
            elif value and all(isinstance(v, (int, float)) for v in value):
                for j, v in enumerate(value):
                    out.setdefault(f"{name}[{j}]", []).append(float(v))
    return out


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` bucket of ``n`` samples."""
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "n>1M"


def card_facts(rows: list[dict]) -> dict:
    """What the manifest says: pairs per subset and split, image sizes, [min, max] of every parameter."""
    splits, ranges = {}, {}
    for sub in SUBSETS.values():
        mine = [r for r in rows if r["subset"] == sub.name]
        if not mine:
            continue
        splits[sub.name] = {s: sum(r["split"] == s for r in mine) for s in SPLITS}
        values: dict[str, list[float]] = {}
        for r in mine:
            if r.get("params"):
                for k, v in numeric_leaves(json.loads(r["params"])).items():
                    values.setdefault(k, []).extend(v)
        if values:
            ranges[sub.name] = {k: [round(min(v), 6), round(max(v), 6)] for k, v in sorted(values.items())}
    sizes = Counter(f"{r['width']}x{r['height']}" for r in rows if r.get("width"))
    return {"splits": splits, "image_sizes": dict(sorted(sizes.items())), "parameters": ranges}


def default_command() -> str:
    """This process's command line as ``uhr4k ...`` when it is the uhr4k CLI (quoted for a shell), else
    "called from Python" (a notebook's argv is its kernel's, not a command to repeat)."""
    prog = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if prog is not None and (prog.name == "uhr4k" or (prog.name == "__main__.py" and prog.parent.name == "uhr4k")):
        return shlex.join(["uhr4k", *sys.argv[1:]])
    return "called from Python"


def card_text(rows: list[dict], *, license: str | None = None, sources: list[dict] = (),  # noqa: A002
              command: str | None = None, history: list[str] = (), title: str = "UHR4K (built with uhr4k)",
              extra: dict | None = None, body: str = "") -> str:
    """The card's text (see the module docstring); ``extra`` adds top-level YAML keys (pack's ``configs``);
    ``history`` lists the commands that made the data before this one (build-syn, then align, ...)."""
    facts = card_facts(rows)
    command = command or default_command()
    commands = [c for c in history if c != command] + [command]
    subsets = [s for s in facts["splits"]]
    tags = ["image-restoration", "ultra-high-resolution", *sorted({TASKS[s] for s in subsets if s in TASKS})]
    meta = {"license": license or "unknown", "pretty_name": title, "task_categories": ["image-to-image"],
            "tags": tags, "size_categories": [size_category(len(rows))], **(extra or {}),
            "uhr4k": {"version": __version__, "command": command, "commands": commands, "sources": list(sources),
                      **facts}}
    lines = ["---"] + [f"{k}: {json.dumps(v, sort_keys=k == 'uhr4k')}" for k, v in meta.items()] + ["---", ""]
    lines += [f"# {title}", "", f"{len(rows)} input / target pairs (with their layer: reflection, rain streaks or "
              "validity mask) in the UHR4K layout; every drawn parameter of every pair is in `manifest.csv`, "
              "counts and parameter ranges in `datasheet.md` where the builder wrote one.", "",
              markdown_table(["subset", *SPLITS], [[s, *(c[k] for k in SPLITS)] for s, c in facts["splits"].items()])]
    lic_text = license or "not declared (pass --license)"
    lines += ["", f"**Licence**: {lic_text}. **Sources**: "
              + ("; ".join(f"{s['name']} ({s['license']})" for s in sources) if sources
                 else "not declared (pass --source-license NAME=LICENSE)") + ".",
              "", f"Made by uhr4k {__version__}: " + ", then ".join(f"`{c}`" for c in commands) + "."]
    if body:
        lines += ["", body]
    return "\n".join(lines) + "\n"


def write_card(root: str | os.PathLike, rows: list[dict], **kwargs) -> Path:
    """Write ``<root>/README.md`` atomically (arguments as :func:`card_text`); returns its path.

    Raises:
        InputError: a README.md that uhr4k did not write is there; it is left as it is.
    """
    path = Path(root) / CARD_NAME
    if path.exists() and "uhr4k" not in read_card_meta(root):
        raise InputError("not a dataset card uhr4k wrote: left as it is, no card written (move it away to get "
                         "one)", path)
    write_text_atomic(path, card_text(rows, **kwargs))
    return path


def read_card_meta(root: str | os.PathLike) -> dict:
    """The front matter of ``<root>/README.md`` as written by :func:`write_card` (one JSON value per key);
    ``{}`` when there is no card or it is not one of ours."""
    path = Path(root) / CARD_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    if not text.startswith("---\n") or "\n---\n" not in text[3:]:
        return {}
    meta = {}
    for line in text[4:text.index("\n---\n", 3)].splitlines():
        key, sep, value = line.partition(": ")
        try:
            meta[key] = json.loads(value) if sep else None
        except ValueError:
            return {}
    return meta


def declared(root: str | os.PathLike, *, license: str | None = None, sources=(), **card) -> dict:  # noqa: A002
    """Card arguments (of :func:`card_text`) for data derived from ``root``: the licence and sources this
    run declares, else those ``root``'s card declared (a rerun, or pack, need not repeat --license), and
    the commands that made ``root`` as ``history``; the other ``card`` arguments (``command``) pass through."""
    previous = read_card_meta(root)
    kept = previous.get("uhr4k", {}) if isinstance(previous.get("uhr4k"), dict) else {}
    old_license = previous.get("license") if previous.get("license") != "unknown" else None
    return {**card, "license": license or old_license, "sources": sources or kept.get("sources", []),
            "history": kept.get("commands", [])}


def merged_declarations(roots, *, license: str | None = None, sources=(), **card) -> dict:  # noqa: A002
    """Card arguments for the merge of ``roots`` (build-syn shards): the first shard card that declares a
    licence or sources (unless this run declares its own), and every shard's commands once, in order.
    Read them before a shard that is also the merge's output is overwritten."""
    cards = [declared(root) for root in roots]
    chosen = next((c for c in cards if c["license"] or c["sources"]), cards[0])
    return {**card, "license": license or chosen["license"], "sources": sources or chosen["sources"],
            "history": list(dict.fromkeys(cmd for c in cards for cmd in c["history"]))}


def write_root_card(root: str | os.PathLike, **card) -> Path:
    """The card of a dataset root from its manifest (``card``: ``license``, ``sources``, ``command``, as
    :func:`declared`: declarations not repeated on this run are kept); returns its path.

    Raises:
        InputError: as :func:`write_card`.
    """
    return write_card(root, read_manifest(root), **declared(root, **card))


def root_card_refusal(root: str | os.PathLike, **card) -> InputError | None:
    """:func:`write_root_card`, returning (not raising) its refusal of a README.md that uhr4k did not write,
    so that a pipeline whose dataset is complete still hands back its summary; None when the card is written."""
    try:
        write_root_card(root, **card)
    except InputError as exc:
        return exc
    return None
