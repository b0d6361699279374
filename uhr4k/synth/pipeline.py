"""``build_syn``: the pipeline behind ``uhr4k build-syn``: plan up front, make samples in workers, resume.

1. **Plan** (main process, deterministic): scan the sources, select the frames (synth.frames), assign
   scene-disjoint splits (a scene the manifest already places keeps its split, so ``uhr4k split --apply``
   survives a rerun), and draw every sample's parameters and reflection from ``(seed, subset, id)``.
   The selection is cached under ``ROOT/.uhr4k/plan-<key>.json``, keyed by the options and the sources'
   fingerprints; a cached plan with failures is used only while its failed sources still fail.
2. **Samples** (workers, :func:`uhr4k.core.jobs.run_jobs`): each task is one background; it fetches the
   frame, writes the target once and the Syn and Rain inputs and layers, every file atomically, then a
   record ``ROOT/.uhr4k/rows/<id>.json`` with its files' hashes, keyed by everything that went into the
   sample (frame and reflection fingerprints, drawn parameters, the synthesis version). A rerun trusts a
   record only when its key matches and every file's SHA-256 is still the recorded one.
3. **Finish**: manifest.csv (rows of the built subsets replaced, others kept), failures.csv,
   datasheet.md and preview.jpg, each rewritten atomically; then the dataset card README.md
   (:mod:`uhr4k.layout.card`), when the run placed any pair.

The whole run holds the root's lock (:func:`uhr4k.core.locks.lock_root`). Bad input (unreadable or truncated
files, sources smaller than ``--size``, a reflections folder without images) becomes one line in
failures.csv and on stderr; the run goes on and the summary counts it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from uhr4k import layout
from uhr4k.core import seeds
from uhr4k.core.atomic import remove_stale_temporaries, write_bytes_atomic, write_text_atomic
from uhr4k.core.errors import InputError
from uhr4k.core.images import check_image_header, encode_image, exif_orientation, read_image, write_image
from uhr4k.core.jobs import run_jobs
from uhr4k.core.locks import STATE_DIR, lock_root
from uhr4k.core.media import describe_skipped, list_media, scan_media
from uhr4k.core.paths import verify
from uhr4k.core.records import Failure, RecordStore, digest, fingerprint, write_failures
from uhr4k.layout.card import root_card_refusal
from uhr4k.layout.scene_splits import assign_scene_splits
from uhr4k.synth import rain, reflection
from uhr4k.synth.datasheet import write_datasheet, write_preview
from uhr4k.synth.frames import (
    Frame,
    background,
    probe_source,
    read_frame,
    scan_sources,
    select_frames,
)

# The version of the sample records a rerun reuses (part of every record key): bump it when a change
# alters the output bytes for the same options, so that old records are recomputed, not trusted.
CACHE_VERSION = "4"
PAPER_COUNT = 2167  # backgrounds of UHR4K-Syn / UHR4K-Rain in the paper
REFLECTION_TRIES = 3  # candidate reflections per sample for Zhang's visibility filter


@dataclass
class BuildOptions:
    """Everything that decides the output of ``build_syn`` (plus ``workers``, which never changes it)."""

    frames: Path
    out: Path
    reflections: Path | None = None
    count: int = PAPER_COUNT
    size: tuple[int, int] = (3840, 2160)
    test: int = 50
    val: int = 20
    seed: int = 0
    workers: int = 1
    shard: tuple[int, int] = (1, 1)
    subsets: tuple[str, ...] = ("syn", "rain")
    reflection_model: str = "zhang"
    allow_upscale: bool = False


@dataclass
class BuildSummary:
    root: Path
    planned: int = 0
    made: int = 0
    reused: int = 0
    rows: int = 0
    failures: list[Failure] = field(default_factory=list)
    skipped_frames: dict = field(default_factory=dict)
    split_pairs: dict = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    # The card could not be written (a README.md uhr4k did not write is in the root): the dataset is
    # complete; the command prints its report, then this error.
    card_error: InputError | None = None

    @property
    def ok(self) -> bool:
        """Nothing failed (the ``failures`` list is empty)."""
        return not self.failures


def sample_seed(seed: int, subset_key: str, sample_id: str) -> int:
    """The 63-bit seed of one sample of one subset: a function of ``(seed, subset, id)`` only."""
    return seeds.derive_seed(seed, subset_key, sample_id)


# --------------------------------------------------------------------------------------------- plan


def _reflection_pool(folder: Path | None, failures: list[Failure]) -> list[dict]:
    """Usable reflection images as ``{"from": "reflections", "rel": ..., "fp": fingerprint}``; bad ones
    become failures. The fingerprint enters the samples' keys: a replaced photo remakes its samples."""
    if folder is None:
        return []
    try:
        files = list_media(folder, kinds=("image",))
    except InputError as exc:
        failures.append(Failure("reflections", "", str(folder), exc.reason))
        return []
    pool = []
    for path in files:
        reason = _image_problem(path)
        if reason:
            failures.append(Failure("reflections", "", str(path), reason))
        else:
            pool.append({"from": "reflections", "rel": path.relative_to(folder).as_posix(),
                         "fp": fingerprint(path)})
    if not pool:
        failures.append(Failure("reflections", "", str(folder), "no readable reflection image"))
    return pool


def _image_problem(path: Path) -> str | None:
    """Why an image is unusable, checked without decoding its pixels (header, CRCs, end marker), or None."""
    try:
        check_image_header(path, verify=True)
    except InputError as exc:
        return exc.reason
    return None


def _sources_key(frames_dir: Path, opts: BuildOptions) -> str:
    files = list_media(frames_dir)
    prints = [(p.relative_to(frames_dir).as_posix(), *fingerprint(p)) for p in files]
    return digest([CACHE_VERSION, prints, opts.count, list(opts.size), opts.allow_upscale])


def _recovered(failures: list[Failure], opts: BuildOptions) -> bool:
    """Whether a source that failed in the cached plan reads now (a failure may have been transient:
    a busy machine, a file being copied): then the plan is made again, never kept failed for good."""
    for f in failures:
        if f.stage not in ("scan", "select") or not f.file:
            continue
        path = Path(f.file)
        if not path.is_file():
            continue
        sources, scan_failures = _scan_one(path, opts)
        if sources and not scan_failures:
            _, _, select_failures = select_frames(sources, 1, progress=False)
            if not select_failures:
                return True
    return False


def _scan_one(path: Path, opts: BuildOptions):
    return probe_source(path, opts.frames, opts.size, opts.allow_upscale)


def _select(opts: BuildOptions, progress: bool = True) -> tuple[list[Frame], dict, list[Failure]]:
    """Scan and select, or load the cached selection of an identical earlier run."""
    key = _sources_key(opts.frames, opts)
    cache = opts.out / STATE_DIR / f"plan-{key}.json"
    try:
        data = json.loads(cache.read_text()) if cache.is_file() else None
        cached = data and ([Frame(**f) for f in data["frames"]], data["skipped"],
                           [Failure(**f) for f in data["failures"]])
    except (OSError, ValueError, TypeError, KeyError):
        cached = None  # a damaged plan cache is made again
    if cached and not _recovered(cached[2], opts):
        return cached
    sources, failures = scan_sources(opts.frames, opts.size, opts.allow_upscale, progress)
    frames, skipped, more = select_frames(sources, opts.count, progress)
    failures += more
    write_text_atomic(cache, json.dumps({"frames": [asdict(f) for f in frames], "skipped": skipped,
                                         "failures": [asdict(f) for f in failures]}, indent=1))
    return frames, skipped, failures


def _recorded_splits(root: Path, subsets) -> dict[str, str]:
    """scene -> split as the manifest records it for the built subsets (``uhr4k split`` may have moved
    them): a rerun keeps them instead of drawing again. A scene recorded in two splits is left out."""
    names = {layout.subset(k).name for k in subsets}
    found: dict[str, set] = {}
    for r in layout.read_manifest(root):
        if r["subset"] in names and r["scene"]:
            found.setdefault(r["scene"], set()).add(r["split"])
    return {scene: next(iter(s)) for scene, s in found.items() if len(s) == 1 and next(iter(s)) in layout.SPLITS}


def _assign_splits(frames: list[Frame], opts: BuildOptions, messages: list[str]) -> dict[str, str]:
    scene_counts: dict[str, int] = {}
    for f in frames:
        scene_counts[f.scene] = scene_counts.get(f.scene, 0) + 1
    recorded = {s: v for s, v in _recorded_splits(opts.out, opts.subsets).items() if s in scene_counts}

    splits, split_messages = assign_scene_splits(scene_counts, opts.test, opts.val, opts.seed)
    if recorded:
        changed = sum(splits[s] != v for s, v in recorded.items())
        splits.update(recorded)
        if changed:
            messages.append(f"{changed} scene(s) keep the split {layout.MANIFEST_NAME} records for them "
                            f"(`uhr4k split` moved them, or other --test/--val); use a new --out to draw again")
    else:
        messages += split_messages
    return splits


def _draw_syn(f: Frame, frames: list[Frame], pool: list[dict], opts: BuildOptions, failures: list[Failure]):
    s = sample_seed(opts.seed, "syn", f.id)
    rng = seeds.rng(s)
    others = pool or [{"from": "frames", "frame": asdict(g), "fp": fingerprint(opts.frames / g.rel)}
                      for g in frames if g.scene != f.scene]
    if not others:
        failures.append(Failure("plan", f.id, str(opts.frames / f.rel),
                                "no reflection source: a single scene and no --reflections"))
        return None
    picks = rng.choice(len(others), size=min(REFLECTION_TRIES, len(others)), replace=False)
    return {"seed": s, "reflections": [others[int(k)] for k in picks],
            "params": reflection.draw_params(opts.reflection_model, rng)}


def plan(opts: BuildOptions, progress: bool = True) -> tuple[list[dict], dict, list[Failure], list[str]]:
    """Decide every sample of every shard: returns (tasks sorted by id, build info, failures, messages).

    A task is a JSON-able dict: id, scene, split, the frame and its source's fingerprint, and per subset
    the drawn parameters. ``build info`` holds the shard-independent facts the datasheet reports.
    """
    messages: list[str] = []
    frames, skipped, failures = _select(opts, progress)
    for folder in (opts.frames, opts.reflections):
        if folder is not None and Path(folder).is_dir():
            note = describe_skipped(folder, scan_media(folder, ("image", "video") if folder == opts.frames
                                                       else ("image",))[1])
            if note:
                messages.append(note)
    if not frames:  # e.g. only black or flat frames: an empty dataset is a failure, not a success
        why = ", ".join(f"{n} {reason}" for reason, n in sorted(skipped.items())) or "no readable source"
        failures.append(Failure("select", "", str(opts.frames), f"no usable background ({why})"))
    pool = _reflection_pool(opts.reflections, failures)
    if "syn" in opts.subsets and not pool:
        messages.append("no reflection images: using frames of other scenes as reflections "
                        "(the paper used DIV2K photos; pass --reflections DIR)")
    splits = _assign_splits(frames, opts, messages)
    if len(frames) < opts.count:
        messages.append(f"{len(frames)} usable backgrounds found, fewer than --count {opts.count}")
    tasks = []
    for f in frames:
        task = {"id": f.id, "scene": f.scene, "split": splits[f.scene], "frame": asdict(f),
                "fp": fingerprint(opts.frames / f.rel), "size": list(opts.size)}
        if "syn" in opts.subsets:
            spec = _draw_syn(f, frames, pool, opts, failures)
            if spec is not None:
                task["syn"] = spec
        if "rain" in opts.subsets:
            s = sample_seed(opts.seed, "rain", f.id)
            task["rain"] = {"seed": s, "params": rain.draw_params(seeds.rng(s))}
        tasks.append(task)
    info = {"size": list(opts.size), "seed": opts.seed, "count": opts.count, "subsets": list(opts.subsets),
            "reflection_model": opts.reflection_model,
            "reflection_source": "images of --reflections" if pool else "frames of other scenes",
            "reflection_images": len(pool), "backgrounds": len(frames), "scenes": len(set(splits)),
            "skipped_frames": skipped, "splits_asked": {"test": opts.test, "val": opts.val},
            "messages": list(messages)}
    return tasks, info, failures, messages


def task_key(task: dict) -> str:
    """What decides a sample's bytes, but its split (a moved split is not a new sample); no absolute
    paths, so a moved folder gives the same key."""
    return digest([CACHE_VERSION, {k: v for k, v in task.items() if k != "split"}], 24)


# ------------------------------------------------------------------------------------------ samples


def sample_records(root: Path) -> RecordStore:
    """The per-sample records of a root, ``ROOT/.uhr4k/rows/<id>.json`` (see the module docstring)."""
    return RecordStore(root / STATE_DIR / "rows")


def _rows_here(task: dict, rows: list[dict]) -> list[dict]:
    """A record's rows placed in the task's split (``uhr4k split --apply`` moves files, not records)."""
    placed = []
    for row in rows:
        key = layout.subset(row["subset"]).key
        placed.append({**row, "split": task["split"], **layout.pair_paths(key, task["split"], task["id"])})
    return placed


def _verified_record(root: Path, task: dict) -> list[dict] | None:
    data = sample_records(root).get(task["id"], task_key(task))
    if not data:
        return None
    rows = _rows_here(task, data["rows"])
    return rows if all(verify(root, row) is None for row in rows) else None


def _source_name(frame: Frame) -> str:
    """``clip.mp4#120`` for a video frame, ``photo.jpg`` for an image (relative to its folder)."""
    return frame.rel if frame.kind == "image" else f"{frame.rel}#{frame.index}"


def _load_reflection(ref: dict, frames_dir: Path, reflections_dir: Path | None) -> np.ndarray:
    if ref["from"] == "reflections":
        return read_image(Path(reflections_dir) / ref["rel"], keep_16bit=False)
    return read_frame(frames_dir, Frame(**ref["frame"]))


def _linear_mean(img: np.ndarray) -> float:
    """Mean of a uint8 image in linear light (gamma 2.2), exactly, from its histogram."""
    return float(np.bincount(img.ravel(), minlength=256) @ reflection.LINEAR_LUT / img.size)


def _choose_reflection(spec: dict, target: np.ndarray, frames_dir: Path, reflections_dir: Path | None
                       ) -> tuple[np.ndarray, dict, int]:
    """Zhang et al.'s visibility filter: the first of the sample's candidate reflections whose linear
    mean is at least half the background's (a darker one would hardly show); if none passes, the
    brightest. Returns (image, its reference, number of candidates tried)."""
    need = _linear_mean(target) / 2
    best = None
    for tries, ref in enumerate(spec["reflections"], 1):
        img = _load_reflection(ref, frames_dir, reflections_dir)
        mean = _linear_mean(img)
        if mean >= need:
            return img, ref, tries
        if best is None or mean > best[0]:
            best = (mean, img, ref)
    return best[1], best[2], len(spec["reflections"])


def _write_pair(root: Path, task: dict, key: str, target: np.ndarray, target_png: bytes, inp: np.ndarray,
                layer: np.ndarray, spec: dict, params: dict, source: str) -> dict:
    """Write one subset's input / target / layer of a background; return its manifest row."""
    paths = layout.pair_paths(key, task["split"], task["id"])
    sha_in = write_image(root / paths["input"], inp)
    write_bytes_atomic(root / paths["target"], target_png)
    sha_layer = write_image(root / paths["layer"], layer)
    return layout.make_row(
        id=task["id"], subset=layout.subset(key).name, split=task["split"], scene=task["scene"], source=source,
        width=target.shape[1], height=target.shape[0], seed=spec["seed"], params=params, sha256_input=sha_in,
        sha256_target=hashlib.sha256(target_png).hexdigest(), sha256_layer=sha_layer, **paths)


def make_sample(job: tuple[dict, str, str, str | None]) -> dict:
    """Make (or verify and reuse) the Syn and Rain pairs of one background.

    Args:
        job: (task, output root, frames folder, reflections folder or None), all picklable.

    Returns:
        ``{"id", "rows": [manifest rows], "failures": [Failure dicts], "reused": bool}``.
    """
    task, root, frames_dir, reflections_dir = job
    root, frames_dir = Path(root), Path(frames_dir)
    rows = _verified_record(root, task)
    if rows is not None:
        return {"id": task["id"], "rows": rows, "failures": [], "reused": True}
    frame = Frame(**task["frame"])
    failures: list[Failure] = []
    try:
        target = background(read_frame(frames_dir, frame), tuple(task["size"]))
    except InputError as exc:
        failures.append(Failure("sample", task["id"], exc.path or str(frames_dir / frame.rel), exc.reason))
        return {"id": task["id"], "rows": [], "failures": [asdict(f) for f in failures], "reused": False}
    target_png = encode_image(target)
    source = _source_name(frame)
    # a phone photo's EXIF orientation is applied when it is read: say so in the rows
    turned = exif_orientation(frames_dir / frame.rel) if frame.kind == "image" else 1
    noted = {"source_exif_orientation": turned} if turned != 1 else {}
    rows = []
    if "syn" in task:
        spec = task["syn"]
        try:
            refl, ref, tries = _choose_reflection(spec, target, frames_dir, reflections_dir)
        except InputError as exc:
            failures.append(Failure("reflection", task["id"], exc.path or "", exc.reason))
        else:
            inp, layer = reflection.synthesize(target, refl, spec["params"])
            ref_name = ref["rel"] if ref["from"] == "reflections" else _source_name(Frame(**ref["frame"]))
            params = {**spec["params"], "reflection": ref_name, "reflection_tries": tries, **noted}
            rows.append(_write_pair(root, task, "syn", target, target_png, inp, layer, spec, params, source))
    if "rain" in task:
        spec = task["rain"]
        inp, layer = rain.add_rain(target, spec["params"])
        rows.append(_write_pair(root, task, "rain", target, target_png, inp, layer, spec, {**spec["params"], **noted},
                                source))
    if not failures:  # a sample with a failure is retried by the next run
        sample_records(root).put(task["id"], task_key(task), {"rows": rows})
    return {"id": task["id"], "rows": rows, "failures": [asdict(f) for f in failures], "reused": False}


# ------------------------------------------------------------------------------------------- finish


def finish(root: Path, rows: list[dict], failures: list[Failure], info: dict, subsets) -> None:
    """Manifest (built subsets replaced, others kept), failures.csv, datasheet.md, preview.jpg."""
    names = {layout.subset(k).name for k in subsets}
    kept = [r for r in layout.read_manifest(root) if r["subset"] not in names]
    layout.write_manifest(root, kept + rows)
    write_failures(root, failures)
    all_rows = layout.read_manifest(root)
    write_datasheet(root, all_rows, info, failures)
    write_preview(root, all_rows)


def _strays(root: Path, rows: list[dict], subsets) -> list[str]:
    """A warning for images under the built subsets that the manifest does not list (an earlier run
    with other options wrote them); they are left alone, never deleted."""
    listed = {r[c] for r in rows for c in ("input", "target", "layer")}
    messages = []
    for key in subsets:
        folder = root / layout.subset(key).name
        stray = [p for p in folder.rglob("*.png") if p.relative_to(root).as_posix() not in listed]
        if stray:
            messages.append(f"{folder}: {len(stray)} image(s) not in the manifest (left by an earlier run with "
                            f"other options, e.g. {stray[0].relative_to(root)}); remove them or use a new --out")
    return messages


def check_options(opts: BuildOptions) -> None:
    """Refuse options that cannot work, before anything is written.

    Raises:
        InputError: naming the option.
    """
    for key in opts.subsets:
        if key not in ("syn", "rain"):
            raise InputError(f"--subsets: unknown subset {key!r} (expected syn, rain)")
    if opts.workers < 1:
        raise InputError(f"--workers must be at least 1, got {opts.workers}")
    if opts.count < 1:
        raise InputError(f"--count must be at least 1, got {opts.count}")
    if opts.test < 0 or opts.val < 0:
        raise InputError(f"--test and --val must be >= 0, got {opts.test} and {opts.val}")
    out = Path(opts.out)
    if out.exists() and not out.is_dir():
        raise InputError("--out is a file, not a folder", out)
    out_and_parents = [out.resolve(), *out.resolve().parents]
    for name, folder in (("--frames", opts.frames), ("--reflections", opts.reflections)):
        # outputs inside a source folder would be read back as sources by the next run
        if folder is not None and Path(folder).resolve() in out_and_parents:
            raise InputError(f"--out must not lie inside {name} ({folder})", opts.out)


def _write_shard_state(root: Path, tasks: list[dict], mine: list[dict], info: dict, shard, complete: bool) -> None:
    i, n = shard
    shard_state = {"shard": [i, n], "plan": task_key({"ids": [t["id"] for t in tasks], "info": info}),
                   "ids": [t["id"] for t in mine], "complete": complete}
    write_text_atomic(root / STATE_DIR / "shard.json", json.dumps(shard_state, indent=1))


def _make_samples(mine: list[dict], opts: BuildOptions, progress: bool, summary: BuildSummary
                  ) -> tuple[list[dict], list[Failure]]:
    """Pass 2 over this shard's tasks: rows made or verified, and the failures (a dead worker's too)."""
    i, n = opts.shard
    refl_dir = str(opts.reflections) if opts.reflections else None
    jobs = [(t, str(opts.out), str(opts.frames), refl_dir) for t in mine]
    rows: list[dict] = []
    failures: list[Failure] = []
    results = run_jobs(make_sample, jobs, opts.workers, desc=f"build-syn {i}/{n}" if n > 1 else "build-syn",
                             unit="bg", progress=progress, stage="sample", ids=[t["id"] for t in mine])
    for _, result in results:
        if isinstance(result, Failure):
            failures.append(result)
            continue
        rows += result["rows"]
        failures += [Failure(**f) for f in result["failures"]]
        summary.reused += result["reused"]
        summary.made += bool(result["rows"]) and not result["reused"]
    return rows, failures


def build_syn(opts: BuildOptions, progress: bool = True, card: dict | None = None) -> BuildSummary:
    """Build (or resume) UHR4K-Syn and UHR4K-Rain under ``opts.out``; see the module docstring.

    Args:
        card: what the dataset card (``README.md``) declares: ``license``, ``sources``, ``command`` (default
            :func:`uhr4k.layout.card.default_command`); a licence or sources not given are kept from the
            root's card. The card is written last, when this run placed any pair.
    Raises:
        InputError: bad options, a frames folder that is missing or holds no media, an output root
        in use by another process. A README.md in it that uhr4k did not write is left as it is, and the
        refusal is the summary's ``card_error``.
    """
    check_options(opts)
    opts.out = Path(opts.out)
    opts.out.mkdir(parents=True, exist_ok=True)
    with lock_root(opts.out, "build-syn"):
        layout.read_manifest(opts.out)  # a damaged manifest stops the run before any work
        remove_stale_temporaries(opts.out)
        summary = _build(opts, progress)
        if summary.rows:
            summary.card_error = root_card_refusal(opts.out, **(card or {}))
        return summary


def _build(opts: BuildOptions, progress: bool) -> BuildSummary:
    summary = BuildSummary(root=opts.out)
    tasks, info, failures, messages = plan(opts, progress)
    summary.messages = messages
    summary.skipped_frames = info["skipped_frames"]
    i, n = opts.shard
    mine = [t for k, t in enumerate(tasks) if k % n == i - 1]
    summary.planned = len(mine)
    _write_shard_state(opts.out, tasks, mine, info, opts.shard, complete=False)
    write_text_atomic(opts.out / STATE_DIR / "build.json", json.dumps(info, indent=1, sort_keys=True))
    rows, more = _make_samples(mine, opts, progress, summary)
    failures += more
    summary.rows = len(rows)
    summary.messages += _strays(opts.out, rows, opts.subsets)
    summary.failures = sorted(set(failures))
    for r in rows:
        summary.split_pairs[(r["subset"], r["split"])] = summary.split_pairs.get((r["subset"], r["split"]), 0) + 1
    finish(opts.out, rows, failures, info, opts.subsets)
    _write_shard_state(opts.out, tasks, mine, info, opts.shard, complete=True)
    return summary
