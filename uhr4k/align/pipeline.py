"""``uhr4k align``: register the glass / no-glass pairs of RAW_DIR into ``ROOT/UHR4K-Real``.

Three passes, each a function of its own:

1. :func:`assess_pairs` (parallel over ``workers`` processes): homography, gates, photometric numbers,
   crop and QA image of every pair. The result is recorded per pair in ``ROOT/.uhr4k/align/<id>.json``
   (a :class:`uhr4k.core.records.RecordStore`) keyed by the two files' fingerprints and the settings (but
   ``size``), so a rerun skips pairs whose inputs and settings did not change; then ``--size`` narrows
   each crop.
2. :func:`split_pairs`: the ``ok`` pairs by scene (``test`` pairs, then ``val``, the rest train; whole
   scenes only).
3. :func:`write_pairs`: each ``ok`` pair's input / target / mask into its split (parallel), skipping
   pairs whose files are already there with the hashes recorded in the manifest.

Then ``alignment.csv`` (every pair, with its verdict) and the manifest rows of the ``real`` subset are
written atomically; files of ``real`` rows that the new manifest no longer lists are removed (only files
the manifest named, and only inside ROOT: nothing else is touched); last the dataset card README.md
(:mod:`uhr4k.layout.card`), when any pair entered the dataset. The run holds the root's lock.
"""
from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from uhr4k import layout
from uhr4k.align.pair import (
    ALIGNMENT_COLUMNS,
    AlignSettings,
    PairResult,
    apply_size,
    assess_pair,
    display_path,
    write_aligned_pair,
)
from uhr4k.align.raw_pairs import RawPair, find_raw_pairs
from uhr4k.core.atomic import remove_stale_temporaries
from uhr4k.core.errors import InputError
from uhr4k.core.jobs import run_jobs
from uhr4k.core.locks import STATE_DIR, lock_root
from uhr4k.core.paths import inside, verify
from uhr4k.core.records import Failure, RecordStore, fingerprint
from uhr4k.core.runs import ALIGNMENT_NAME
from uhr4k.core.tables import write_csv
from uhr4k.layout.card import root_card_refusal
from uhr4k.layout.scene_splits import assign_scene_splits

__all__ = ["align_dataset", "AlignSummary", "ALIGNMENT_NAME"]

_SUBSET = layout.SUBSETS["real"]
_RECORD_VERSION = 2
_RECORDS = "align"   # under ROOT/.uhr4k


@dataclass
class AlignSummary:
    """What ``align_dataset`` did: ``results`` per pair id (homography ``H``, ``status``, ``crop``, every
    number of alignment.csv), ``counts`` by status, ``splits`` counts of ok pairs by split."""

    root: Path
    convention: str
    results: dict[str, PairResult] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)
    reused: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)   # (id, reason)
    flagged: list[tuple[str, str]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)             # e.g. a split smaller than asked
    card_error: InputError | None = None      # the card refused (a foreign README.md): printed after the report

    @property
    def ok(self) -> bool:
        return not self.failures


# ------------------------------------------------------------------------------------------- passes


def _record_key(pair: RawPair, settings: AlignSettings) -> dict:
    def stamp(path):
        return fingerprint(path) if path is not None and path.is_file() else None
    return {"version": _RECORD_VERSION, "glass": [str(pair.glass), stamp(pair.glass)],
            "noglass": [str(pair.noglass), stamp(pair.noglass)], "problem": pair.problem,
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


def _cached_result(records: RecordStore, pair: RawPair, key: dict, qa_dir: Path) -> PairResult | None:
    data = records.get(pair.id, key)
    if data is None:
        return None
    try:
        result = PairResult.from_dict(data)
    except (TypeError, KeyError):  # a record of an older layout: assess again
        return None
    return result if result.H is None or (qa_dir / f"{pair.id}.jpg").exists() else None


def assess_pairs(pairs: list[RawPair], raw_dir: Path, root: Path, settings: AlignSettings, workers: int,
                 summary: AlignSummary) -> dict[str, PairResult]:
    """Pass 1: every pair's result, from its record when inputs and settings are unchanged."""
    records, qa_dir = RecordStore(root / STATE_DIR / _RECORDS), root / _SUBSET.name / layout.QA_FOLDER
    results: dict[str, PairResult] = {}
    todo, keys = [], {}
    for pair in pairs:
        # taken before the assessment: a file that changes meanwhile is assessed again next time
        keys[pair.id] = _record_key(pair, settings)
        cached = _cached_result(records, pair, keys[pair.id], qa_dir)
        if cached is not None:
            results[pair.id] = cached
            summary.reused += 1
        else:
            todo.append((pair, raw_dir, settings, qa_dir / f"{pair.id}.jpg"))
    ids = [job[0].id for job in todo]
    for index, outcome in run_jobs(_assess_job, todo, workers, desc="align: assess", unit="pair",
                                         stage="assess", ids=ids):
        pair = todo[index][0]
        if isinstance(outcome, Failure):  # the worker died: failed now, assessed again next run
            results[pair.id] = PairResult(pair.id, pair.scene, display_path(pair.glass, raw_dir),
                                          display_path(pair.noglass, raw_dir), reason=outcome.reason)
            continue
        _, data = outcome
        results[pair.id] = PairResult.from_dict(data)
        records.put(pair.id, keys[pair.id], data)
    records.keep_only(p.id for p in pairs)
    return {pair_id: apply_size(r, settings.size) for pair_id, r in results.items()}


def split_pairs(pairs: list[RawPair], results: dict[str, PairResult], test: int, val: int, seed: int,
                summary: AlignSummary) -> dict[str, str]:
    """Pass 2: scene -> split for the scenes of the ``ok`` pairs."""
    sizes: dict[str, int] = {}
    for p in pairs:
        if results[p.id].status == "ok":
            sizes[p.scene] = sizes.get(p.scene, 0) + 1

    scene_split, messages = assign_scene_splits(sizes, test, val, seed)
    summary.messages += messages
    return scene_split


def write_pairs(pairs: list[RawPair], results: dict[str, PairResult], scene_split: dict[str, str], root: Path,
                old_rows: dict[str, dict], seed: int, workers: int) -> list[dict]:
    """Pass 3: write the ``ok`` pairs not already complete and verified; return their manifest rows.

    A pair whose photo changed or vanished since pass 1 turns ``failed`` in ``results``."""
    rows, jobs = [], []
    for p in pairs:
        r = results[p.id]
        if r.status != "ok":
            continue
        split = scene_split[p.scene]
        rel = layout.pair_paths(_SUBSET, split, p.id)
        row = _manifest_row(p, r, split, rel, seed)
        old = old_rows.get(p.id)
        if old is not None and _complete(root, old, row):
            rows.append(old)
            continue
        rows.append(row)
        jobs.append((p, r, {k: root / v for k, v in rel.items()}))
    written: dict[str, dict | str] = {}
    for index, outcome in run_jobs(_write_job, jobs, workers, desc="align: write", unit="pair",
                                         stage="write", ids=[j[0].id for j in jobs]):
        pair_id = jobs[index][0].id
        written[pair_id] = outcome.reason if isinstance(outcome, Failure) else outcome[1]
    final_rows = []
    for row in rows:
        outcome = written.get(row["id"])
        if isinstance(outcome, str):
            results[row["id"]] = dataclasses.replace(results[row["id"]], status="failed", reason=outcome)
            continue
        if outcome is not None:
            row.update(sha256_input=outcome["input"], sha256_target=outcome["target"], sha256_layer=outcome["layer"])
        final_rows.append(row)
    return final_rows


def align_dataset(raw_dir: str | os.PathLike, out: str | os.PathLike, *, test: int = 20, val: int = 20, seed: int = 0,
                  workers: int = 1, settings: AlignSettings | None = None, card: dict | None = None) -> AlignSummary:
    """Align every pair of ``raw_dir`` into ``out`` (see the module docstring).

    Args:
        card: what the dataset card (``README.md``) declares: ``license``, ``sources``, ``command`` (default
            :func:`uhr4k.layout.card.default_command`); a licence or sources not given are kept from the
            root's card. The card is written last, when any pair entered the dataset.
    Returns:
        the summary, with every pair's :class:`PairResult` in ``summary.results``.
    Raises:
        InputError: ``raw_dir`` fits no input convention, ``out`` lies inside ``raw_dir`` or is a file,
        a manifest row leads outside ``out``, ``out`` is in use by another process, or a README.md in
        it that uhr4k did not write.
    """
    raw_dir, root = Path(raw_dir).resolve(), Path(out).resolve()
    if test < 0 or val < 0:
        raise InputError(f"--test and --val must be >= 0 (got {test}, {val})")
    if root == raw_dir or raw_dir in root.parents:
        # outputs inside RAW_DIR would be read back as raw captures by the next run
        raise InputError("--out must not be inside RAW_DIR", root)
    if root.exists() and not root.is_dir():
        raise InputError("--out is a file, not a folder", root)
    settings = settings or AlignSettings(seed=seed)
    pairs, convention = find_raw_pairs(raw_dir)
    root.mkdir(parents=True, exist_ok=True)
    with lock_root(root, "align"):
        remove_stale_temporaries(root)
        summary = _align(pairs, convention, raw_dir, root, test, val, seed, workers, settings)
        if summary.splits:
            summary.card_error = root_card_refusal(root, **(card or {}))
        return summary


def _align(pairs, convention, raw_dir, root, test, val, seed, workers, settings) -> AlignSummary:
    summary = AlignSummary(root=root, convention=convention)
    # every path an old manifest names must stay inside ROOT: checked before anything is written
    old_rows = {r["id"]: r for r in layout.read_manifest(root) if r["subset"] == _SUBSET.name}
    for row in old_rows.values():
        for column in ("input", "target", "layer"):
            if row[column]:
                inside(root, row[column], f"{root / layout.MANIFEST_NAME} row {row['id']!r}, {column}")
    results = assess_pairs(pairs, raw_dir, root, settings, workers, summary)
    scene_split = split_pairs(pairs, results, test, val, seed, summary)
    final_rows = write_pairs(pairs, results, scene_split, root, old_rows, seed, workers)
    for row in final_rows:
        summary.splits[row["split"]] = summary.splits.get(row["split"], 0) + 1
    _write_alignment_csv(root / ALIGNMENT_NAME, [results[p.id] for p in pairs])
    layout.update_manifest(root, final_rows, subset_key="real")
    _remove_stale(root, old_rows.values(), final_rows)
    _remove_orphan_qa(root / _SUBSET.name / layout.QA_FOLDER, {p.id for p in pairs})
    summary.results = {p.id: results[p.id] for p in pairs}
    for p in pairs:
        r = results[p.id]
        summary.counts[r.status] = summary.counts.get(r.status, 0) + 1
        if r.status == "failed":
            summary.failures.append((p.id, r.reason))
        elif r.status == "flagged":
            summary.flagged.append((p.id, r.reason))
    return summary


def _manifest_row(pair: RawPair, r: PairResult, split: str, rel: dict[str, str], seed: int) -> dict[str, str]:
    params = {"H": r.H, "crop": list(r.crop), "gains": list(r.gains), "matches": r.matches, "inliers": r.inliers,
              "rmse_px": r.rmse_px, "zncc_after": r.zncc_after, "glass": r.glass, "noglass": r.noglass}
    return layout.make_row(id=pair.id, subset=_SUBSET.name, split=split, scene=pair.scene, source=r.glass,
                           input=rel["input"], target=rel["target"], layer=rel["layer"], width=r.crop[2],
                           height=r.crop[3], seed=seed, params=params)


def _complete(root: Path, old: dict, new: dict) -> bool:
    """The old row describes the same files as the new one, and they exist with the recorded hashes."""
    same = all(old[c] == new[c] for c in ("split", "input", "target", "layer", "params", "width", "height"))
    return same and verify(root, old) is None


def _remove_stale(root: Path, old_rows: Iterable[dict], new_rows: list[dict]) -> None:
    """Files of old ``real`` rows that the new manifest no longer lists (paths checked to be inside ROOT)."""
    keep = {row[c] for row in new_rows for c in ("input", "target", "layer")}
    for row in old_rows:
        for column in ("input", "target", "layer"):
            if row[column] and row[column] not in keep:
                inside(root, row[column], f"{root / layout.MANIFEST_NAME} row {row['id']!r}").unlink(
                    missing_ok=True)


def _remove_orphan_qa(qa_dir: Path, ids: set[str]) -> None:
    """QA images of pairs that are no longer in RAW_DIR."""
    if qa_dir.is_dir():
        for path in qa_dir.glob("*.jpg"):
            if path.stem not in ids:
                path.unlink(missing_ok=True)


def _write_alignment_csv(path: Path, results: list[PairResult]) -> None:
    write_csv(path, sorted((r.csv_row() for r in results), key=lambda row: row["id"]), ALIGNMENT_COLUMNS,
              strict=True)
