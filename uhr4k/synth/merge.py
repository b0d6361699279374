"""Merge dataset roots built as shards (``build-syn --shard i/n``) into one root.

Every shard computes the same plan, so the merged root is byte-identical to a single run: the files
are hard-linked (or copied atomically across file systems) after their SHA-256 is checked against the
shard's manifest, the manifest and failures are the union, and datasheet.md and preview.jpg are made
again from the merged rows. The per-sample records are carried over so that the merged root resumes
like any other.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from uhr4k import layout
from uhr4k.errors import InputError
from uhr4k.files import atomic_path, sha256_file, write_text_atomic
from uhr4k.synth.pipeline import STATE_DIR, finish, read_failures


@dataclass
class MergeSummary:
    out: Path
    shards: int
    rows: int
    linked: int
    failures: int


def _shard_state(root: Path) -> dict:
    path = root / STATE_DIR / "shard.json"
    if not path.is_file():
        raise InputError("not a build-syn output (no .uhr4k/shard.json)", root)
    state = json.loads(path.read_text())
    if not state.get("complete"):
        i, n = state["shard"]
        raise InputError(f"shard {i}/{n} is incomplete: rerun its build-syn command", root)
    return state


def _place(src: Path, dst: Path, sha: str) -> bool:
    """Put ``src`` at ``dst`` (hard link, else atomic copy) unless an identical file is there."""
    if sha256_file(src) != sha:
        raise InputError("checksum differs from the shard's manifest (file changed or damaged)", src)
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


def merge_shards(shards: list[str | Path], out: str | Path) -> MergeSummary:
    """Merge complete shard roots into ``out`` (which may be one of them).

    Raises:
        InputError: a root that is not a finished shard, shards of different plans, a missing or
        repeated shard, or a file whose checksum does not match its shard's manifest.
    """
    from tqdm import tqdm

    roots = [Path(s) for s in shards]
    if not roots:
        raise InputError("give at least one shard root to merge")
    states = [_shard_state(r) for r in roots]
    plans = {s["plan"] for s in states}
    if len(plans) != 1:
        raise InputError("shards come from different build-syn commands (their plans differ)", roots[0])
    n = states[0]["shard"][1]
    seen = {}
    for root, state in zip(roots, states, strict=True):
        i = state["shard"][0]
        if state["shard"][1] != n:
            raise InputError(f"shard {i}/{state['shard'][1]} does not belong to a set of {n}", root)
        if i in seen:
            raise InputError(f"shard {i}/{n} given twice (also {seen[i]})", root)
        seen[i] = root
    missing = sorted(set(range(1, n + 1)) - set(seen))
    if missing:
        raise InputError(f"missing shard(s) {', '.join(f'{i}/{n}' for i in missing)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    info = json.loads((roots[0] / STATE_DIR / "build.json").read_text())
    subsets = info["subsets"]
    names = {layout.subset(k).name for k in subsets}
    rows, failures, linked = [], [], 0
    for root, state in tqdm(list(zip(roots, states, strict=True)), desc="merge", unit="shard"):
        shard_rows = [r for r in layout.read_manifest(root) if r["subset"] in names]
        for r in shard_rows:
            for col, sha in (("input", "sha256_input"), ("target", "sha256_target"), ("layer", "sha256_layer")):
                linked += _place(root / r[col], out / r[col], r[sha])
        for sid in state["ids"]:
            record = root / STATE_DIR / "rows" / f"{sid}.json"
            if record.is_file() and root.resolve() != out.resolve():
                write_text_atomic(out / STATE_DIR / "rows" / record.name, record.read_text())
        rows += shard_rows
        failures += read_failures(root)
    finish(out, rows, failures, info, subsets)
    all_ids = sorted(sid for s in states for sid in s["ids"])
    write_text_atomic(out / STATE_DIR / "build.json", json.dumps(info, indent=1, sort_keys=True))
    write_text_atomic(out / STATE_DIR / "shard.json", json.dumps(
        {"shard": [1, 1], "plan": states[0]["plan"], "ids": all_ids, "complete": True}, indent=1))
    return MergeSummary(out, n, len(rows), linked, len({(f.stage, f.id, f.file, f.reason) for f in failures}))
