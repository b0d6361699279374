"""Merge dataset roots built as shards (``build-syn --shard i/n``) into one root.

Every shard computes the same plan, so the merged root is byte-identical to a single run: the files
are hard-linked (or copied atomically across file systems) after their SHA-256 is checked against the
shard's manifest, the manifest and failures are the union, and datasheet.md, preview.jpg and the
dataset card are made again from the merged rows. The per-sample records are carried over so that the
merged root resumes like any other.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from uhr4k import layout
from uhr4k.core.atomic import atomic_path, remove_stale_temporaries, sha256_file, write_text_atomic
from uhr4k.core.errors import InputError
from uhr4k.core.locks import STATE_DIR, lock_root
from uhr4k.core.paths import HASHED_COLUMNS, inside
from uhr4k.core.records import read_failures, safe_id
from uhr4k.layout.card import merged_declarations, write_card
from uhr4k.synth.pipeline import finish, sample_records


@dataclass
class MergeSummary:
    out: Path
    shards: int
    rows: int
    linked: int
    failures: int


def _read_json(path: Path, what: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"not a build-syn output (no {STATE_DIR}/{path.name}: {what})", path.parent.parent) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable ({type(exc).__name__}): rerun its build-syn command", path) from None
    if not isinstance(data, dict):
        raise InputError("unreadable (not a JSON object): rerun its build-syn command", path)
    return data


def _shard_state(root: Path) -> dict:
    if not root.is_dir():
        raise InputError("no such folder", root)
    path = root / STATE_DIR / "shard.json"
    state_ = _read_json(path, "the shard's state")
    try:
        i, n = (int(v) for v in state_["shard"])
        ids = [safe_id(str(v)) for v in state_["ids"]]
        plan, complete = str(state_["plan"]), bool(state_.get("complete"))
    except (KeyError, TypeError, ValueError, InputError):
        raise InputError("damaged shard state (shard, plan, ids): rerun its build-syn command", path) from None
    if not complete:
        raise InputError(f"shard {i}/{n} is incomplete: rerun its build-syn command", root)
    return {"shard": [i, n], "ids": ids, "plan": plan, "complete": True}


def _check_set(roots: list[Path], states: list[dict]) -> None:
    """One plan, one set of n shards, each exactly once."""
    if len({s["plan"] for s in states}) != 1:
        raise InputError("shards come from different build-syn commands (their plans differ)", roots[0])
    n = states[0]["shard"][1]
    seen = {}
    for root, st in zip(roots, states, strict=True):
        i = st["shard"][0]
        if st["shard"][1] != n:
            raise InputError(f"shard {i}/{st['shard'][1]} does not belong to a set of {n}", root)
        if i in seen:
            raise InputError(f"shard {i}/{n} given twice (also {seen[i]})", root)
        seen[i] = root
    missing = sorted(set(range(1, n + 1)) - set(seen))
    if missing:
        raise InputError(f"missing shard(s) {', '.join(f'{i}/{n}' for i in missing)}")


def _shard_files(root: Path, rows: list[dict]) -> list[tuple[Path, str, str]]:
    """(source path, relative path, SHA-256) of every file of ``rows``, each checked before anything is
    placed: inside the shard, present, with its manifest checksum (a bad file leaves ``out`` untouched)."""
    files = []
    for r in rows:
        for col, sha in HASHED_COLUMNS:
            if not r[col]:
                continue
            src = inside(root, r[col], str(root / layout.MANIFEST_NAME))
            if not src.is_file():
                raise InputError(f"listed in {layout.MANIFEST_NAME} but missing", src)
            if sha256_file(src) != r[sha]:
                raise InputError("checksum differs from the shard's manifest (file changed or damaged)", src)
            files.append((src, r[col], r[sha]))
    return files


def _place(src: Path, dst: Path, sha: str) -> bool:
    """Put ``src`` at ``dst`` (hard link, else atomic copy) unless an identical file is there."""
    if dst.exists():
        if os.path.samefile(src, dst) or sha256_file(dst) == sha:
            return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dst) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:  # another file system, or links not allowed
            shutil.copyfile(src, tmp)
    return True


def merge_shards(shards: list[str | Path], out: str | Path, card: dict | None = None) -> MergeSummary:
    """Merge complete shard roots into ``out`` (which may be one of them).

    Every shard, its manifest and every file's checksum are checked before anything is written, so a
    refused merge leaves ``out`` as it was. Holds ``out``'s lock while it writes. The dataset card is
    written last: ``card``'s ``command`` (default :func:`uhr4k.layout.card.default_command`) after every
    shard's commands, with the licence and sources the shards declared unless ``card`` names its own.

    Raises:
        InputError: a root that is not a finished shard, shards of different plans, a missing or
        repeated shard, a path leading outside its shard, a file whose checksum does not match, or a
        README.md in ``out`` that uhr4k did not write.
    """
    roots = [Path(s) for s in shards]
    if not roots:
        raise InputError("give at least one shard root to merge")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("--out is a file, not a folder", out)
    states = [_shard_state(r) for r in roots]
    _check_set(roots, states)
    info = _read_json(roots[0] / STATE_DIR / "build.json", "the build's options")
    try:
        subsets = [layout.subset(k).key for k in info["subsets"]]
    except (KeyError, TypeError):
        raise InputError("damaged build state (no subsets): rerun its build-syn command",
                         roots[0] / STATE_DIR / "build.json") from None
    names = {layout.subset(k).name for k in subsets}
    shard_rows = [[r for r in layout.read_manifest(root) if r["subset"] in names] for root in roots]
    files = [_shard_files(root, rows) for root, rows in zip(roots, shard_rows, strict=True)]
    declarations = merged_declarations(roots, **(card or {}))   # before a shard that is also ``out`` changes
    out.mkdir(parents=True, exist_ok=True)
    with lock_root(out, "merge"):
        remove_stale_temporaries(out)
        summary = _merge(roots, states, shard_rows, files, out, info, subsets)
        write_card(out, layout.read_manifest(out), **declarations)
        return summary


def _merge(roots, states, shard_rows, files, out: Path, info: dict, subsets) -> MergeSummary:
    from tqdm import tqdm

    rows, failures, linked = [], [], 0
    for root, st, rows_of, files_of in tqdm(list(zip(roots, states, shard_rows, files, strict=True)), desc="merge",
                                            unit="shard"):
        for src, rel, sha in files_of:
            linked += _place(src, inside(out, rel), sha)
        if root.resolve() != out.resolve():
            records, merged = sample_records(root), sample_records(out)
            for sid in st["ids"]:
                records.copy_to(sid, merged)
        rows += rows_of
        failures += read_failures(root)
    finish(out, rows, failures, info, subsets)
    all_ids = sorted(sid for s in states for sid in s["ids"])
    n = states[0]["shard"][1]
    write_text_atomic(out / STATE_DIR / "build.json", json.dumps(info, indent=1, sort_keys=True))
    write_text_atomic(out / STATE_DIR / "shard.json", json.dumps(
        {"shard": [1, 1], "plan": states[0]["plan"], "ids": all_ids, "complete": True}, indent=1))
    return MergeSummary(out, n, len(rows), linked, len(set(failures)))
