"""``uhr4k align``: register the glass / no-glass pairs of RAW_DIR into ``ROOT/UHR4K-Real``.

Three passes:

1. **assess** every pair (parallel over ``workers`` processes): homography, gates, photometric numbers,
   crop and QA image. The result is cached per pair in ``UHR4K-Real/.align/<id>.json`` together with a
   key made of the two files' sizes and modification times and the settings (but ``size``), so a rerun
   skips pairs whose inputs and settings did not change; then ``--size`` narrows each crop.
2. **split** the ``ok`` pairs by scene (``test`` pairs, then ``val``, the rest train; whole scenes only).
3. **write** each ``ok`` pair's input / target / mask into its split (parallel), skipping pairs whose
   files are already there with the hashes recorded in the manifest.

Then ``alignment.csv`` (every pair, with its verdict) and the manifest rows of the ``real`` subset are
written atomically; files of ``real`` rows that the new manifest no longer lists are removed (only
files the manifest named: nothing else under ROOT is touched).
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from tqdm import tqdm

from uhr4k import layout
from uhr4k.align.conventions import RawPair, find_raw_pairs
from uhr4k.align.pair import ALIGNMENT_COLUMNS, AlignSettings, PairResult, apply_size, assess_pair, write_aligned_pair
from uhr4k.errors import InputError
from uhr4k.files import sha256_file, write_text_atomic

__all__ = ["align_dataset", "AlignSummary", "ALIGNMENT_NAME"]

ALIGNMENT_NAME = "alignment.csv"
_SUBSET = layout.SUBSETS["real"]
_CACHE_VERSION = 1


@dataclass
class AlignSummary:
    """What ``align_dataset`` did; ``counts`` by status, ``splits`` counts of ok pairs by split."""

    root: Path
    convention: str
    counts: dict[str, int] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)
    reused: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)   # (id, reason)
    flagged: list[tuple[str, str]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)             # e.g. a split smaller than asked

    @property
    def ok(self) -> bool:
        return not self.failed


# ------------------------------------------------------------------------------------------- passes


def _cache_key(pair: RawPair, settings: AlignSettings) -> dict:
    def stat(path):
        if path is None or not path.is_file():
            return None
        st = path.stat()
        return [str(path), st.st_size, st.st_mtime_ns]
    return {"version": _CACHE_VERSION, "glass": stat(pair.glass), "noglass": stat(pair.noglass),
            "problem": pair.problem,
            # --size only narrows the crop afterwards: changing it must not cost a new estimate
            "settings": json.loads(json.dumps(dataclasses.replace(settings, size=None).as_dict()))}


def _assess_job(args) -> tuple[str, dict]:
    pair, raw_dir, settings, qa_path = args
    return pair.id, asdict(assess_pair(pair, raw_dir, settings, qa_path))


def _write_job(args) -> tuple[str, dict | str]:
    pair, result, paths = args
    try:
        return pair.id, write_aligned_pair(pair, result, paths)
    except InputError as exc:
        return pair.id, str(exc)


def _run(jobs: list, fn: Callable, workers: int, desc: str) -> Iterable:
    """Results of ``fn`` over ``jobs`` in job order, with a progress bar on stderr."""
    if not jobs:
        return []
    if workers <= 1:
        return [fn(j) for j in tqdm(jobs, desc=desc, unit="pair")]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(tqdm(pool.map(fn, jobs), total=len(jobs), desc=desc, unit="pair"))


def align_dataset(raw_dir: str | os.PathLike, out: str | os.PathLike, *, test: int = 20, val: int = 20, seed: int = 0,
                  workers: int = 1, settings: AlignSettings | None = None) -> AlignSummary:
    """Align every pair of ``raw_dir`` into ``out`` (see the module docstring).

    Raises:
        InputError: ``raw_dir`` fits no input convention, or ``out`` lies inside ``raw_dir``'s files.
    """
    raw_dir, root = Path(raw_dir).resolve(), Path(out).resolve()
    if test < 0 or val < 0:
        raise InputError(f"--test and --val must be >= 0 (got {test}, {val})")
    if root == raw_dir or raw_dir in root.parents:
        # outputs inside RAW_DIR would be read back as raw captures by the next run
        raise InputError("--out must not be inside RAW_DIR", root)
    settings = settings or AlignSettings(seed=seed)
    pairs, convention = find_raw_pairs(raw_dir)
    real_dir = root / _SUBSET.name
    cache_dir, qa_dir = real_dir / ".align", real_dir / "qa"
    summary = AlignSummary(root=root, convention=convention)

    # pass 1: assess (cached)
    results: dict[str, PairResult] = {}
    todo, keys = [], {}
    for pair in pairs:
        # taken before the assessment: a file that changes meanwhile is assessed again next time
        key = keys[pair.id] = _cache_key(pair, settings)
        cached = _read_cache(cache_dir / f"{pair.id}.json", key)
        if cached is not None and (cached.H is None or (qa_dir / f"{pair.id}.jpg").exists()):
            results[pair.id] = cached
            summary.reused += 1
        else:
            todo.append((pair, raw_dir, settings, qa_dir / f"{pair.id}.jpg"))
    for pair_id, data in _run(todo, _assess_job, workers, "align: assess"):
        results[pair_id] = PairResult.from_dict(data)
        write_text_atomic(cache_dir / f"{pair_id}.json",
                          json.dumps({"key": keys[pair_id], "result": data}, sort_keys=True))

    results = {pair_id: apply_size(r, settings.size) for pair_id, r in results.items()}

    # pass 2: split ok pairs by scene
    ok_pairs = [p for p in pairs if results[p.id].status == "ok"]
    sizes: dict[str, int] = {}
    for p in ok_pairs:
        sizes[p.scene] = sizes.get(p.scene, 0) + 1
    from uhr4k.data.splits import assign_scene_splits  # here: workers need no torch import

    scene_split, split_messages = assign_scene_splits(sizes, test, val, seed)
    summary.messages += split_messages

    # pass 3: write ok pairs (skip those complete and verified)
    old_rows = {r["id"]: r for r in layout.read_manifest(root) if r["subset"] == _SUBSET.name}
    rows, jobs = [], []
    for p in ok_pairs:
        r = results[p.id]
        split = scene_split[p.scene]
        rel = layout.pair_paths(_SUBSET, split, p.id)
        row = _manifest_row(p, r, split, rel, seed)
        old = old_rows.get(p.id)
        if old is not None and _complete(root, old, row):
            rows.append(old)
            continue
        rows.append(row)
        jobs.append((p, r, {k: root / v for k, v in rel.items()}))
    written = dict(_run(jobs, _write_job, workers, "align: write"))
    final_rows = []
    for row in rows:
        outcome = written.get(row["id"])
        if isinstance(outcome, str):  # the photo changed or vanished between the passes
            results[row["id"]].status, results[row["id"]].reason = "failed", outcome
            continue
        if outcome is not None:
            row.update(sha256_input=outcome["input"], sha256_target=outcome["target"], sha256_layer=outcome["layer"])
        final_rows.append(row)
        summary.splits[row["split"]] = summary.splits.get(row["split"], 0) + 1

    _write_alignment_csv(root / ALIGNMENT_NAME, [results[p.id] for p in pairs])
    layout.update_manifest(root, final_rows, subset_key="real")
    _remove_stale(root, old_rows.values(), final_rows)
    _remove_orphans(cache_dir, qa_dir, {p.id for p in pairs})
    for p in pairs:
        r = results[p.id]
        summary.counts[r.status] = summary.counts.get(r.status, 0) + 1
        if r.status == "failed":
            summary.failed.append((p.id, r.reason))
        elif r.status == "flagged":
            summary.flagged.append((p.id, r.reason))
    return summary


def _read_cache(path: Path, key: dict) -> PairResult | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("key") != key:
        return None
    try:
        return PairResult.from_dict(data["result"])
    except (TypeError, KeyError):  # a record of an older layout: assess again
        return None


def _manifest_row(pair: RawPair, r: PairResult, split: str, rel: dict[str, str], seed: int) -> dict[str, str]:
    params = {"H": r.H, "crop": list(r.crop), "gains": list(r.gains), "matches": r.matches, "inliers": r.inliers,
              "rmse_px": r.rmse_px, "zncc_after": r.zncc_after, "glass": r.glass, "noglass": r.noglass}
    return layout.make_row(id=pair.id, subset=_SUBSET.name, split=split, scene=pair.scene, source=r.glass,
                           input=rel["input"], target=rel["target"], layer=rel["layer"], width=r.crop[2],
                           height=r.crop[3], seed=seed, params=params)


def _complete(root: Path, old: dict, new: dict) -> bool:
    """The old row describes the same files as the new one, and they exist with the recorded hashes."""
    same = all(old[c] == new[c] for c in ("split", "input", "target", "layer", "params", "width", "height"))
    if not same:
        return False
    for column, digest in (("input", "sha256_input"), ("target", "sha256_target"), ("layer", "sha256_layer")):
        path = root / old[column]
        if not path.is_file() or sha256_file(path) != old[digest]:
            return False
    return True


def _remove_stale(root: Path, old_rows: Iterable[dict], new_rows: list[dict]) -> None:
    keep = {row[c] for row in new_rows for c in ("input", "target", "layer")}
    for row in old_rows:
        for column in ("input", "target", "layer"):
            if row[column] and row[column] not in keep:
                (root / row[column]).unlink(missing_ok=True)


def _remove_orphans(cache_dir: Path, qa_dir: Path, ids: set[str]) -> None:
    """QA images and cache records of pairs that are no longer in RAW_DIR."""
    for folder, suffix in ((cache_dir, ".json"), (qa_dir, ".jpg")):
        if folder.is_dir():
            for path in folder.glob(f"*{suffix}"):
                if path.stem not in ids:
                    path.unlink(missing_ok=True)


def _write_alignment_csv(path: Path, results: list[PairResult]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=ALIGNMENT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(sorted((r.csv_row() for r in results), key=lambda row: row["id"]))
    write_text_atomic(path, buf.getvalue())
