"""The on-disk dataset contract shared by build-syn, align, bench and train (DESIGN.md).

::

    <root>/
      manifest.csv                                   one row per pair, every subset
      UHR4K-Syn/{train,val,test}/{input,target,reflection}/<id>.png
      UHR4K-Rain/{train,val,test}/{input,target,streaks}/<id>.png
      UHR4K-Real/{train,val,test}/{input,target,mask}/<id>.png   + qa/

Paths in the manifest are relative to ``<root>``, POSIX style. The manifest is always rewritten whole
and atomically, rows sorted by (subset, id), so its bytes depend only on its content.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from uhr4k.errors import InputError
from uhr4k.files import write_text_atomic

MANIFEST_NAME = "manifest.csv"
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Subset:
    """One subset of UHR4K: its folder name, its short name and the name of its third layer."""

    name: str    # folder name, e.g. "UHR4K-Syn"
    key: str     # short name used on the command line, e.g. "syn"
    layer: str   # third folder beside input/target: what was added, or the validity mask


SUBSETS = {
    "syn": Subset("UHR4K-Syn", "syn", "reflection"),
    "rain": Subset("UHR4K-Rain", "rain", "streaks"),
    "real": Subset("UHR4K-Real", "real", "mask"),
}

MANIFEST_COLUMNS = (
    "id", "subset", "split", "scene", "source", "input", "target", "layer",
    "width", "height", "seed", "params", "sha256_input", "sha256_target", "sha256_layer",
)


def subset(key_or_name: str) -> Subset:
    """Look a subset up by short key (``syn``) or folder name (``UHR4K-Syn``)."""
    for s in SUBSETS.values():
        if key_or_name in (s.key, s.name):
            return s
    raise InputError(f"unknown subset {key_or_name!r}; expected one of {', '.join(SUBSETS)}")


def pair_paths(sub: Subset | str, split: str, sample_id: str) -> dict[str, str]:
    """Relative POSIX paths of one pair's files: keys ``input``, ``target``, ``layer``."""
    sub = subset(sub) if isinstance(sub, str) else sub
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    base = f"{sub.name}/{split}"
    return {
        "input": f"{base}/input/{sample_id}.png",
        "target": f"{base}/target/{sample_id}.png",
        "layer": f"{base}/{sub.layer}/{sample_id}.png",
    }


def make_row(**fields) -> dict[str, str]:
    """A manifest row with every column present, values as strings; ``params`` may be a dict.

    Raises:
        ValueError: an unknown column, or a required column (id, subset, split, input, target) missing.
    """
    unknown = set(fields) - set(MANIFEST_COLUMNS)
    if unknown:
        raise ValueError(f"unknown manifest columns: {sorted(unknown)}")
    for required in ("id", "subset", "split", "input", "target"):
        if not fields.get(required):
            raise ValueError(f"manifest row lacks {required!r}")
    if isinstance(fields.get("params"), dict):
        fields["params"] = json.dumps(fields["params"], sort_keys=True, separators=(",", ":"))
    return {c: "" if fields.get(c) is None else str(fields[c]) for c in MANIFEST_COLUMNS}


def format_manifest(rows: Iterable[dict]) -> str:
    """CSV text of ``rows`` sorted by (subset, id); duplicate (subset, id) pairs are an error."""
    rows = [make_row(**r) if set(r) != set(MANIFEST_COLUMNS) else r for r in rows]
    rows.sort(key=lambda r: (r["subset"], r["id"]))
    seen = set()
    for r in rows:
        key = (r["subset"], r["id"])
        if key in seen:
            raise ValueError(f"duplicate manifest row for {key}")
        seen.add(key)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_manifest(root: str | os.PathLike, rows: Iterable[dict]) -> Path:
    """Write ``<root>/manifest.csv`` atomically from all of its rows (every subset)."""
    path = Path(root) / MANIFEST_NAME
    write_text_atomic(path, format_manifest(rows))
    return path


def read_manifest(root: str | os.PathLike) -> list[dict[str, str]]:
    """Rows of ``<root>/manifest.csv`` (an empty list when there is none yet).

    Raises:
        InputError: the file exists but its header is not the manifest's.
    """
    path = Path(root) / MANIFEST_NAME
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ("id", "subset", "split", "input", "target") if c not in (reader.fieldnames or ())]
        if missing:
            raise InputError(f"not a uhr4k manifest (missing columns {', '.join(missing)})", path)
        return [{c: row.get(c) or "" for c in MANIFEST_COLUMNS} for row in reader]


def update_manifest(root: str | os.PathLike, rows: Iterable[dict], *, subset_key: str | None = None) -> Path:
    """Replace the rows of one subset (or add rows) and rewrite the manifest atomically.

    With ``subset_key`` every existing row of that subset is replaced by ``rows``; rows of other
    subsets are kept. Without it, ``rows`` replace existing rows with the same (subset, id).
    """
    new = [make_row(**r) if set(r) != set(MANIFEST_COLUMNS) else r for r in rows]
    if subset_key is not None:
        name = subset(subset_key).name
        kept = [r for r in read_manifest(root) if r["subset"] != name]
    else:
        keys = {(r["subset"], r["id"]) for r in new}
        kept = [r for r in read_manifest(root) if (r["subset"], r["id"]) not in keys]
    return write_manifest(root, kept + new)


def assign_scene_splits(scene_sizes: dict[str, int], test: int, val: int, seed: int
                        ) -> tuple[dict[str, str], list[str]]:
    """Map each scene to ``"train"``, ``"val"`` or ``"test"``, whole scenes only.

    The one split policy of every subset (build-syn, align, ``uhr4k split``): scenes are visited in an
    order shuffled by ``(seed, scene name)`` (independent of dict order and of the other scenes), and
    go to test until it holds at least ``test`` pairs, then to validation likewise; the rest train.
    With few scenes each held-out split takes at most a third of them (one of two; none of one), so
    training always keeps a scene; a message says when that makes a split smaller than asked.

    Args:
        scene_sizes: pairs per scene.
        test, val: wanted numbers of pairs (0 disables the split).
        seed: the draw's seed.
    Returns:
        (scene -> split, messages explaining every split smaller than asked).
    """
    if test < 0 or val < 0:
        raise InputError(f"--test and --val must be >= 0, got {test} and {val}")
    order = sorted(scene_sizes, key=lambda s: hashlib.sha256(f"{seed}/split/{s}".encode()).hexdigest())
    n = len(order)
    cap = n // 3 if n >= 3 else (1 if n == 2 else 0)  # scenes per held-out split, leaving >= 1 to train
    splits = {s: "train" for s in order}
    messages = []
    pos = 0
    for name, wanted, limit in (("test", test, cap), ("val", val, cap if n >= 3 else 0)):
        got = taken = 0
        while wanted and got < wanted and taken < limit and pos < n:
            splits[order[pos]] = name
            got += scene_sizes[order[pos]]
            taken += 1
            pos += 1
        if wanted and got < wanted:
            messages.append(f"{name} split: {got} pairs from {taken} scene(s) instead of {wanted} "
                            f"(only {n} scene(s); held-out splits take at most {limit} each)")
    return splits, messages
