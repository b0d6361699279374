"""``build_syn``: the pipeline behind ``uhr4k build-syn``: plan up front, make samples in workers, resume.

1. **Plan** (main process, deterministic): scan the sources, select the frames (synth.frames), assign
   scene-disjoint splits, and draw every sample's parameters and reflection from ``(seed, subset, id)``.
   The plan is cached under ``ROOT/.uhr4k/plan-<key>.json``, keyed by the options and the sources'
   sizes and modification times, so a resumed run does not decode the videos again.
2. **Samples** (workers): each task is one background; it fetches the frame, writes the target once
   and the Syn and Rain inputs and layers, every file atomically, then a record
   ``ROOT/.uhr4k/rows/<id>.json`` with its manifest rows and the task's key. A rerun trusts a record
   only when its key matches and every file's SHA-256 is still the recorded one.
3. **Finish**: manifest.csv (rows of the built subsets replaced, others kept), failures.csv,
   datasheet.md and preview.jpg, each rewritten atomically.

Bad input (unreadable or truncated files, sources smaller than ``--size``, a reflections folder without
images) becomes one line in failures.csv and on stderr; the run goes on and the summary counts it.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import multiprocessing
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from uhr4k import layout
from uhr4k.errors import InputError
from uhr4k.files import (
    encode_image,
    list_media,
    looks_truncated,
    read_image,
    sha256_file,
    write_bytes_atomic,
    write_image,
    write_text_atomic,
)
from uhr4k.synth import rain, reflection
from uhr4k.synth.frames import Failure, Frame, background, read_frame, scan_sources, select_frames

# Bump when a change alters output bytes for the same options: old records are then recomputed.
VERSION = "3"
STATE_DIR = ".uhr4k"
FAILURES_NAME = "failures.csv"
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

    @property
    def failed(self) -> bool:
        return bool(self.failures)


def sample_seed(seed: int, subset_key: str, sample_id: str) -> int:
    """The 63-bit seed of one sample of one subset: a function of ``(seed, subset, id)`` only."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{subset_key}/{sample_id}".encode()).digest()[:8], "big") >> 1


# --------------------------------------------------------------------------------------------- plan


def _reflection_pool(folder: Path | None, failures: list[Failure], messages: list[str]) -> list[dict]:
    """Usable reflection images as ``{"from": "reflections", "rel": ...}``; bad ones become failures."""
    if folder is None:
        return []
    try:
        files = list_media(folder, kinds=("image",))
    except InputError as exc:
        failures.append(Failure(str(folder), exc.reason, "reflections"))
        return []
    pool = []
    for path in files:
        reason = _image_problem(path)
        if reason:
            failures.append(Failure(str(path), reason, "reflections"))
        else:
            pool.append({"from": "reflections", "rel": path.relative_to(folder).as_posix()})
    if not pool:
        failures.append(Failure(str(folder), "no readable reflection image", "reflections"))
    return pool


def _image_problem(path: Path) -> str | None:
    """Cheap integrity check of an image without decoding its pixels (header, CRCs, end marker)."""
    from PIL import Image

    data = path.read_bytes()
    if not data:
        return "empty file"
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
    except Exception as exc:  # PIL raises many types for a bad file; all mean "unreadable"
        return f"cannot read image ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
    if looks_truncated(path, np.frombuffer(data, np.uint8)):
        return "truncated image file"
    return None


def _sources_key(frames_dir: Path, opts: BuildOptions) -> str:
    files = list_media(frames_dir)
    fingerprint = [(p.relative_to(frames_dir).as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    blob = json.dumps([VERSION, fingerprint, opts.count, list(opts.size), opts.allow_upscale])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _select(opts: BuildOptions, progress: bool = True) -> tuple[list[Frame], dict, list[Failure]]:
    """Scan and select, or load the cached selection of an identical earlier run."""
    key = _sources_key(opts.frames, opts)
    cache = opts.out / STATE_DIR / f"plan-{key}.json"
    if cache.is_file():
        data = json.loads(cache.read_text())
        return ([Frame(**f) for f in data["frames"]], data["skipped"],
                [Failure(**f) for f in data["failures"]])
    sources, failures = scan_sources(opts.frames, opts.size, opts.allow_upscale, progress)
    frames, skipped, more = select_frames(sources, opts.count, progress)
    failures += more
    write_text_atomic(cache, json.dumps({"frames": [asdict(f) for f in frames], "skipped": skipped,
                                         "failures": [asdict(f) for f in failures]}, indent=1))
    return frames, skipped, failures


def plan(opts: BuildOptions, progress: bool = True) -> tuple[list[dict], dict, list[Failure], list[str]]:
    """Decide every sample of every shard: returns (tasks sorted by id, build info, failures, messages).

    A task is a JSON-able dict: id, scene, split, the frame, and per subset the drawn parameters.
    ``build info`` holds the shard-independent facts the datasheet reports.
    """
    messages: list[str] = []
    frames, skipped, failures = _select(opts, progress)
    pool = _reflection_pool(opts.reflections, failures, messages)
    if "syn" in opts.subsets and not pool:
        messages.append("no reflection images: using frames of other scenes as reflections "
                        "(the paper used DIV2K photos; pass --reflections DIR)")
    scene_counts: dict[str, int] = {}
    for f in frames:
        scene_counts[f.scene] = scene_counts.get(f.scene, 0) + 1
    from uhr4k.data.splits import assign_scene_splits  # here: workers need no torch import

    splits, split_messages = assign_scene_splits(scene_counts, opts.test, opts.val, opts.seed)
    messages += split_messages
    if len(frames) < opts.count:
        messages.append(f"{len(frames)} usable backgrounds found, fewer than --count {opts.count}")
    tasks = []
    for f in frames:
        task = {"id": f.id, "scene": f.scene, "split": splits[f.scene], "frame": asdict(f),
                "size": list(opts.size)}
        if "syn" in opts.subsets:
            s = sample_seed(opts.seed, "syn", f.id)
            rng = np.random.default_rng(s)
            others = pool or [{"from": "frames", "frame": asdict(g)} for g in frames if g.scene != f.scene]
            if not others:
                failures.append(Failure(str(opts.frames / f.rel), "no reflection source: a single scene and no "
                                        "--reflections", "plan", f.id))
            else:
                picks = rng.choice(len(others), size=min(REFLECTION_TRIES, len(others)), replace=False)
                task["syn"] = {"seed": s, "reflections": [others[int(k)] for k in picks],
                               "params": reflection.draw_params(opts.reflection_model, rng)}
        if "rain" in opts.subsets:
            s = sample_seed(opts.seed, "rain", f.id)
            task["rain"] = {"seed": s, "params": rain.draw_params(np.random.default_rng(s))}
        tasks.append(task)
    info = {"size": list(opts.size), "seed": opts.seed, "count": opts.count, "subsets": list(opts.subsets),
            "reflection_model": opts.reflection_model,
            "reflection_source": "images of --reflections" if pool else "frames of other scenes",
            "reflection_images": len(pool), "backgrounds": len(frames), "scenes": len(scene_counts),
            "skipped_frames": skipped, "splits_asked": {"test": opts.test, "val": opts.val},
            "messages": list(messages)}
    return tasks, info, failures, messages


def task_key(task: dict) -> str:
    """What decides a sample's bytes (no absolute paths: a moved folder gives the same key)."""
    return hashlib.sha256(json.dumps([VERSION, task], sort_keys=True).encode()).hexdigest()[:24]


# ------------------------------------------------------------------------------------------ samples


def _record_path(root: Path, sample_id: str) -> Path:
    return root / STATE_DIR / "rows" / f"{sample_id}.json"


def _verified_record(root: Path, task: dict) -> dict | None:
    path = _record_path(root, task["id"])
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if record.get("key") != task_key(task):
        return None
    for row in record["rows"]:
        for col, sha in (("input", "sha256_input"), ("target", "sha256_target"), ("layer", "sha256_layer")):
            file = root / row[col]
            if not file.is_file() or sha256_file(file) != row[sha]:
                return None
    return record


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


def make_sample(job: tuple[dict, str, str, str | None]) -> dict:
    """Make (or verify and reuse) the Syn and Rain pairs of one background.

    Args:
        job: (task, output root, frames folder, reflections folder or None), all picklable.

    Returns:
        ``{"id", "rows": [manifest rows], "failures": [Failure dicts], "reused": bool}``.
    """
    task, root, frames_dir, reflections_dir = job
    root, frames_dir = Path(root), Path(frames_dir)
    record = _verified_record(root, task)
    if record is not None:
        return {"id": task["id"], "rows": record["rows"], "failures": [], "reused": True}
    frame = Frame(**task["frame"])
    failures: list[Failure] = []
    try:
        target = background(read_frame(frames_dir, frame), tuple(task["size"]))
    except InputError as exc:
        failures.append(Failure(exc.path or str(frames_dir / frame.rel), exc.reason, "sample", task["id"]))
        return {"id": task["id"], "rows": [], "failures": [asdict(f) for f in failures], "reused": False}
    target_png = encode_image(target)
    target_sha = hashlib.sha256(target_png).hexdigest()
    source = _source_name(frame)
    rows = []

    def write_pair(key: str, inp: np.ndarray, layer: np.ndarray, spec: dict, params: dict) -> None:
        paths = layout.pair_paths(key, task["split"], task["id"])
        sha_in = write_image(root / paths["input"], inp)
        write_bytes_atomic(root / paths["target"], target_png)
        sha_layer = write_image(root / paths["layer"], layer)
        rows.append(layout.make_row(
            id=task["id"], subset=layout.subset(key).name, split=task["split"], scene=task["scene"],
            source=source, width=target.shape[1], height=target.shape[0], seed=spec["seed"], params=params,
            sha256_input=sha_in, sha256_target=target_sha, sha256_layer=sha_layer, **paths))

    if "syn" in task:
        spec = task["syn"]
        try:
            refl, ref, tries = _choose_reflection(spec, target, frames_dir, reflections_dir)
        except InputError as exc:
            failures.append(Failure(exc.path or "", exc.reason, "reflection", task["id"]))
        else:
            inp, layer = reflection.synthesize(target, refl, spec["params"])
            ref_name = ref["rel"] if ref["from"] == "reflections" else _source_name(Frame(**ref["frame"]))
            write_pair("syn", inp, layer, spec, {**spec["params"], "reflection": ref_name,
                                                 "reflection_tries": tries})
    if "rain" in task:
        spec = task["rain"]
        inp, layer = rain.add_rain(target, spec["params"])
        write_pair("rain", inp, layer, spec, spec["params"])
    if not failures:  # a sample with a failure is retried by the next run
        write_text_atomic(_record_path(root, task["id"]),
                          json.dumps({"key": task_key(task), "rows": rows}, sort_keys=True))
    return {"id": task["id"], "rows": rows, "failures": [asdict(f) for f in failures], "reused": False}


# ------------------------------------------------------------------------------------------- finish


def write_failures(root: Path, failures: list[Failure]) -> Path:
    """``ROOT/failures.csv``: stage, id, file, reason; de-duplicated and sorted (stable bytes)."""
    unique = sorted({(f.stage, f.id, f.file, f.reason) for f in failures})
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["stage", "id", "file", "reason"])
    writer.writerows(unique)
    path = root / FAILURES_NAME
    write_text_atomic(path, buf.getvalue())
    return path


def read_failures(root: Path) -> list[Failure]:
    path = Path(root) / FAILURES_NAME
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [Failure(file=r["file"], reason=r["reason"], stage=r["stage"], id=r["id"]) for r in csv.DictReader(f)]


def finish(root: Path, rows: list[dict], failures: list[Failure], info: dict, subsets) -> None:
    """Manifest (built subsets replaced, others kept), failures.csv, datasheet.md, preview.jpg."""
    from uhr4k.synth.report import write_datasheet, write_preview

    names = {layout.subset(k).name for k in subsets}
    kept = [r for r in layout.read_manifest(root) if r["subset"] not in names]
    layout.write_manifest(root, kept + rows)
    write_failures(root, failures)
    all_rows = layout.read_manifest(root)
    write_datasheet(root, all_rows, info, failures)
    write_preview(root, all_rows)


def _remove_stale_temporaries(root: Path, subsets) -> None:
    """Temporary files of a run killed hard (SIGKILL, power loss): never under a final name, but clutter."""
    for key in subsets:
        for tmp in (root / layout.subset(key).name).rglob(".*.part"):
            tmp.unlink(missing_ok=True)
    for tmp in (root / STATE_DIR).rglob(".*.part"):
        tmp.unlink(missing_ok=True)


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


def build_syn(opts: BuildOptions, progress: bool = True) -> BuildSummary:
    """Build (or resume) UHR4K-Syn and UHR4K-Rain under ``opts.out``; see the module docstring.

    Raises:
        InputError: bad options, or a frames folder that is missing or holds no media.
    """
    from tqdm import tqdm

    for key in opts.subsets:
        if key not in ("syn", "rain"):
            raise InputError(f"--subsets: unknown subset {key!r} (expected syn, rain)")
    if opts.workers < 1:
        raise InputError(f"--workers must be at least 1, got {opts.workers}")
    if opts.count < 1:
        raise InputError(f"--count must be at least 1, got {opts.count}")
    out_and_parents = [Path(opts.out).resolve(), *Path(opts.out).resolve().parents]
    for name, folder in (("--frames", opts.frames), ("--reflections", opts.reflections)):
        # outputs inside a source folder would be read back as sources by the next run
        if folder is not None and Path(folder).resolve() in out_and_parents:
            raise InputError(f"--out must not lie inside {name} ({folder})", opts.out)
    opts.out = Path(opts.out)
    opts.out.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(opts.out, opts.subsets)
    summary = BuildSummary(root=opts.out)
    tasks, info, failures, messages = plan(opts, progress)
    summary.messages = messages
    summary.skipped_frames = info["skipped_frames"]
    i, n = opts.shard
    mine = [t for k, t in enumerate(tasks) if k % n == i - 1]
    summary.planned = len(mine)
    shard_file = opts.out / STATE_DIR / "shard.json"
    shard_state = {"shard": [i, n], "plan": task_key({"ids": [t["id"] for t in tasks], "info": info}),
                   "ids": [t["id"] for t in mine], "complete": False}
    write_text_atomic(shard_file, json.dumps(shard_state, indent=1))
    write_text_atomic(opts.out / STATE_DIR / "build.json", json.dumps(info, indent=1, sort_keys=True))

    refl_dir = str(opts.reflections) if opts.reflections else None
    jobs = [(t, str(opts.out), str(opts.frames), refl_dir) for t in mine]
    rows: list[dict] = []
    bar = tqdm(total=len(jobs), desc=f"build-syn {i}/{n}" if n > 1 else "build-syn", unit="bg",
               disable=not progress)
    if opts.workers == 1 or len(jobs) <= 1:
        results = map(make_sample, jobs)
        pool = None
    else:
        pool = multiprocessing.get_context("spawn").Pool(min(opts.workers, len(jobs)))
        results = pool.imap_unordered(make_sample, jobs, chunksize=1)
    try:
        for result in results:
            rows += result["rows"]
            failures += [Failure(**f) for f in result["failures"]]
            summary.reused += result["reused"]
            summary.made += bool(result["rows"]) and not result["reused"]
            bar.update(1)
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()
    summary.rows = len(rows)
    summary.messages += _strays(opts.out, rows, opts.subsets)
    summary.failures = sorted(failures, key=lambda f: (f.stage, f.id, f.file, f.reason))
    for r in rows:
        summary.split_pairs[(r["subset"], r["split"])] = summary.split_pairs.get((r["subset"], r["split"]), 0) + 1
    finish(opts.out, rows, failures, info, opts.subsets)
    shard_state["complete"] = True
    write_text_atomic(shard_file, json.dumps(shard_state, indent=1))
    return summary
