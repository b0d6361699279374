"""``uhr4k split``: the paper's split sizes applied to a root through the one scene-split policy
(:mod:`uhr4k.layout.scene_splits`, which build-syn and align call too), and leak reports.

The paper's counts: UHR4K-Real 336 pairs = 316 train + 20 test, UHR4K-Syn and UHR4K-Rain 2,167 pairs =
2,117 train + 50 test, and "20 images as held-out validation set to guide the model training".
**Our reading**: the validation images are carved from the training pairs (the paper's totals leave no
room for 20 more), 20 per subset. So the three splits are

=========================  =====  =====  ====  =====================================
subset                     train  val    test  paper
=========================  =====  =====  ====  =====================================
UHR4K-Syn, UHR4K-Rain      2,097  20     50    2,117 training (= train + val) + 50
UHR4K-Real                 296    20     20    316 training (= train + val) + 20
=========================  =====  =====  ====  =====================================

which is what ``uhr4k build-syn --count 2167`` (``--test 50 --val 20``), ``uhr4k align`` on 336 pairs
(``--test 20 --val 20``) and ``uhr4k split`` produce. A root of another size gets the same fractions
(``split``; build-syn and align take their ``--test``/``--val`` as given).

Splits are drawn by *scene* (a video, a capture scene): all pairs of a scene land in one split, so a
held-out split can only hit its count when the scenes allow it; :func:`assign_scene_splits` then takes
the closest count it can and says by how many pairs it differs. UHR4K-Syn and UHR4K-Rain are made from
the same background frames, so they share one scene draw: a background in Syn's test set is in Rain's
test set too.

A leak is a scene found in more than one split (within a scene group), or the same target image (by its
SHA-256 in the manifest) in more than one split.
"""
from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from uhr4k import layout
from uhr4k.core.atomic import remove_stale_temporaries
from uhr4k.core.errors import InputError
from uhr4k.core.locks import lock_root
from uhr4k.core.paths import inside
from uhr4k.data.protocol import resolve_root
from uhr4k.layout.scene_splits import assign_scene_splits

# train + val + test = the paper's pair count of the subset (train + val = the paper's training set).
PAPER_SIZES = {"syn": {"train": 2097, "val": 20, "test": 50},
               "rain": {"train": 2097, "val": 20, "test": 50},
               "real": {"train": 296, "val": 20, "test": 20}}
SCENE_GROUPS = (("syn", "rain"), ("real",))


def paper_training_pairs(subset_key: str) -> int:
    """The paper's training-set size of a subset (2,117 or 316): our train plus val."""
    sizes = PAPER_SIZES[subset_key]
    return sizes["train"] + sizes["val"]


def _group_of(subset_name: str) -> tuple[str, ...]:
    key = layout.subset(subset_name).key
    return next(g for g in SCENE_GROUPS if key in g)


def _scene(row: dict) -> str:
    return row["scene"] or row["id"]      # a row without a scene is its own scene


def find_leaks(rows: list[dict]) -> list[str]:
    """One line per leak: scenes in several splits of a scene group, targets shared across splits."""
    leaks = []
    scene_splits: dict[tuple, set] = defaultdict(set)
    hash_splits: dict[tuple, set] = defaultdict(set)
    for r in rows:
        group = _group_of(r["subset"])
        scene_splits[(group, _scene(r))].add(r["split"])
        if r.get("sha256_target"):
            hash_splits[(group, r["sha256_target"])].add((r["split"], r["subset"], r["id"]))
    for (group, scene), splits in sorted(scene_splits.items()):
        if len(splits) > 1:
            leaks.append(f"scene {scene!r} ({'/'.join(group)}) is in splits {', '.join(sorted(splits))}")
    for (_group, digest), where in sorted(hash_splits.items()):
        if len({s for s, _, _ in where}) > 1:
            ids = ", ".join(sorted(f"{sub}/{split}/{i}" for split, sub, i in where))
            leaks.append(f"identical target image (sha256 {digest[:12]}) in several splits: {ids}")
    return leaks


def split_targets(n: int, subset_key: str) -> dict[str, int]:
    """Pairs wanted in val and test for a subset of ``n`` pairs: the paper's fractions, at least 1 each."""
    paper = PAPER_SIZES[subset_key]
    total = sum(paper.values())
    return {s: max(1, round(n * paper[s] / total)) for s in ("test", "val")}


@dataclass
class SplitPlan:
    """New split per (subset, id), the resulting sizes, and notes (e.g. too few scenes)."""

    assignment: dict[tuple[str, str], str] = field(default_factory=dict)
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def plan_splits(rows: list[dict], seed: int = 0) -> SplitPlan:
    """Draw scene-disjoint splits for every subset in ``rows`` (manifest rows).

    The split policy is :func:`assign_scene_splits` (the one build-syn and align use), with the paper's
    fractions as targets (exactly the paper's counts on a root of the paper's size). The draw depends
    only on the scenes, their sizes and the seed, never on the current splits.
    """
    plan = SplitPlan()
    for group in SCENE_GROUPS:
        names = {layout.subset(k).name for k in group}
        grows = [r for r in rows if r["subset"] in names]
        if not grows:
            continue
        # scenes that share a target image are one scene: otherwise the image could land in two splits
        unit = _merge_scenes_sharing_targets(grows)
        # scene size = its pairs in the largest subset of the group (Syn and Rain share backgrounds)
        per_subset: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for r in grows:
            per_subset[r["subset"]][unit[_scene(r)]] += 1
        scenes = sorted(set(unit.values()))
        size = {s: max(c.get(s, 0) for c in per_subset.values()) for s in scenes}
        n = sum(size.values())
        targets = split_targets(n, group[0])
        chosen, messages = assign_scene_splits(size, targets["test"], targets["val"], seed)
        plan.notes += [f"{'/'.join(group)}: {m}" for m in messages]
        for r in grows:
            plan.assignment[(r["subset"], r["id"])] = chosen[unit[_scene(r)]]
    for (sub, _), split in plan.assignment.items():
        plan.sizes.setdefault(sub, {s: 0 for s in layout.SPLITS})[split] += 1
    return plan


def _merge_scenes_sharing_targets(rows: list[dict]) -> dict[str, str]:
    """scene -> the representative of its group of scenes connected by identical targets (union-find)."""
    parent = {_scene(r): _scene(r) for r in rows}

    def find(s):
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s
    first_scene: dict[str, str] = {}
    for r in rows:
        digest = r.get("sha256_target")
        if not digest:
            continue
        if digest in first_scene:
            a, b = find(first_scene[digest]), find(_scene(r))
            if a != b:
                parent[max(a, b)] = min(a, b)
        else:
            first_scene[digest] = _scene(r)
    return {s: find(s) for s in parent}


@dataclass
class SplitSummary:
    root: Path
    leaks_before: list[str]
    plan: SplitPlan
    moved: int = 0
    applied: bool = False
    leaks_after: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"leak: {line}" for line in self.leaks_before] or ["no leak in the current splits"]
        out += [f"note: {n}" for n in self.plan.notes]
        for sub, sizes in sorted(self.plan.sizes.items()):
            out.append(f"{sub}: " + ", ".join(f"{s} {sizes[s]}" for s in layout.SPLITS)
                       + f" (the paper's training set = train + val: {sizes['train'] + sizes['val']})")
        if self.applied:
            out.append(f"moved {self.moved} pair(s); manifest rewritten; "
                       + ("no leak remains" if not self.leaks_after else f"{len(self.leaks_after)} leak(s) remain"))
            out += [f"leak: {line}" for line in self.leaks_after]
        else:
            out.append(f"dry run: {self.moved} pair(s) would change split; rerun with --apply to move them")
        return out


def split_dataset(root: str | os.PathLike, seed: int = 0, apply: bool = False) -> SplitSummary:
    """Report leaks in the manifest of ``root`` (a folder, a ``uhr4k-*`` preset or ``preset=PATH``, resolved as
    ``bench`` and ``train`` resolve it), draw new scene-disjoint splits, and with ``apply`` move the
    files into their new split folders and rewrite the manifest.

    Moving is resumable: a file already at its new place (and gone from the old one) counts as moved, so
    rerunning after an interruption with the same seed finishes the job. A file that would overwrite
    another is an error, before anything moves.
    """
    root, _ = resolve_root(root)
    rows = layout.read_manifest(root)
    if not rows:
        raise InputError(f"no {layout.MANIFEST_NAME} rows: nothing to split", root)
    summary = SplitSummary(root, find_leaks(rows), plan_splits(rows, seed))
    changing = [r for r in rows if summary.plan.assignment[(r["subset"], r["id"])] != r["split"]]
    summary.moved = len(changing)
    if not apply:
        return summary
    with lock_root(root, "split"):
        remove_stale_temporaries(root)
        _apply(root, rows, changing, summary)
    return summary


def _apply(root: Path, rows: list[dict], changing: list[dict], summary: SplitSummary) -> None:
    """Move the files of the ``changing`` rows (every path checked to stay inside ``root`` first)."""
    moves = []
    for r in changing:
        new_split = summary.plan.assignment[(r["subset"], r["id"])]
        new_paths = {k: _moved_path(r[k], r["split"], new_split) for k in ("input", "target", "layer") if r[k]}
        for key, rel in new_paths.items():
            where = f"{root / layout.MANIFEST_NAME} row {r['id']!r}, {key}"
            src, dst = inside(root, r[key], where), inside(root, rel, where)
            if src.exists() and dst.exists():
                raise InputError(f"would overwrite {dst} while moving it to split {new_split}", src)
            if not src.exists() and not dst.exists():
                raise InputError(f"listed in {layout.MANIFEST_NAME} but missing", src)
            moves.append((src, dst))
        r.update(split=new_split, **new_paths)
    for src, dst in moves:
        if src.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
    layout.write_manifest(root, rows)
    summary.applied = True
    summary.leaks_after = find_leaks(rows)


def _moved_path(rel: str, old_split: str, new_split: str) -> str:
    """``UHR4K-Syn/train/reflection/x.png`` -> ``UHR4K-Syn/test/reflection/x.png`` (the split component only)."""
    parts = rel.split("/")
    if len(parts) < 3 or parts[1] != old_split:
        raise InputError(f"path does not follow <subset>/<split>/... (split {old_split!r})", rel)
    parts[1] = new_split
    return "/".join(parts)
