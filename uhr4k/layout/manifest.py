"""The on-disk dataset contract shared by build-syn, align, bench and train (docs/dataset.md).

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
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from uhr4k.core.atomic import write_text_atomic
from uhr4k.core.errors import InputError
from uhr4k.core.tables import format_csv, open_csv

MANIFEST_NAME = "manifest.csv"
QA_FOLDER = "qa"          # UHR4K-Real/qa/: the alignment check of every pair (not a split)
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
    return format_csv(rows, MANIFEST_COLUMNS, strict=True)


def write_manifest(root: str | os.PathLike, rows: Iterable[dict]) -> Path:
    """Write ``<root>/manifest.csv`` atomically from all of its rows (every subset)."""
    path = Path(root) / MANIFEST_NAME
    write_text_atomic(path, format_manifest(rows))
    return path


def read_manifest(root: str | os.PathLike) -> list[dict[str, str]]:
    """Rows of ``<root>/manifest.csv`` (an empty list when there is none yet).

    Every row is checked as it is read: a known subset, a split, an id that can name a file, and paths
    that are relative and do not climb out of the root (a dataset from someone else must not make us
    read, write or delete elsewhere; symlinks are checked where the files are used).

    Raises:
        InputError: the file is not a manifest (header, encoding, CSV syntax), or a row is broken:
        ``"ROOT/manifest.csv: line 7, column input: ..."``.
    """
    path = Path(root) / MANIFEST_NAME
    if not path.exists():
        return []
    try:
        with open_csv(path) as reader:
            missing = [c for c in ("id", "subset", "split", "input", "target") if c not in (reader.fieldnames or ())]
            if missing:
                raise InputError(f"not a uhr4k manifest (missing columns {', '.join(missing)})", path)
            return [_checked_row({c: row.get(c) or "" for c in MANIFEST_COLUMNS}, path, reader.line_num)
                    for row in reader]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"not a uhr4k manifest ({type(exc).__name__}: {exc})", path) from None
    except IsADirectoryError:
        raise InputError("not a file", path) from None


def _checked_row(row: dict[str, str], path: Path, line: int) -> dict[str, str]:
    def bad(column: str, reason: str):
        return InputError(f"line {line}, column {column}: {reason}", path)

    if row["subset"] not in {s.name for s in SUBSETS.values()}:
        raise bad("subset", f"unknown subset {row['subset']!r} (expected "
                  f"{', '.join(s.name for s in SUBSETS.values())})")
    if row["split"] not in SPLITS:
        raise bad("split", f"unknown split {row['split']!r} (expected {', '.join(SPLITS)})")
    if not row["id"] or any(ch in row["id"] for ch in "/\\\x00") or row["id"] in (".", ".."):
        raise bad("id", f"{row['id']!r} cannot name a file")
    for column in ("input", "target", "layer"):
        value = row[column]
        if not value:
            if column != "layer":
                raise bad(column, "empty")
            continue
        parts = value.replace("\\", "/").split("/")
        if value.startswith("/") or os.path.isabs(value) or ".." in parts or (len(value) > 1 and value[1] == ":"):
            raise bad(column, f"path {value!r} leads outside the dataset root")
    problem = _value_problem(row)
    if problem:
        raise bad(*problem)
    return row


def _value_problem(row: dict[str, str]) -> tuple[str, str] | None:
    """(column, reason) of the first value the card, pack and tables could not read back, else None."""
    for column in ("width", "height", "seed"):
        if row[column] and not row[column].lstrip("-").isdigit():
            return column, f"{row[column]!r} is not a whole number"
    if row["params"]:
        try:
            params = json.loads(row["params"])
        except ValueError:
            params = None
        if not isinstance(params, dict):
            return "params", "not a JSON object"
    return None


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
