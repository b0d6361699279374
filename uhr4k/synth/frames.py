"""Background frames: scan a folder of videos and images, pick usable, spread-out frames, read them back.

Selection runs once, in the main process, before any sample is made: it needs every candidate of every
video to spread the picks and to skip near-duplicates, and doing it up front is what makes the dataset
independent of the number of workers and shards. Each picked frame carries a ``check`` (a hash of a
pixel subsample) so that a worker that fetches the frame again by seeking can prove it got the same one.

A video is one scene; a still image is a scene of its own. Sizes are (width, height). This module decides
which frames; decoding them (one pass over selected indices, a seek) is :mod:`uhr4k.core.video`'s.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from uhr4k.core.errors import InputError
from uhr4k.core.images import read_image, to_float_divided
from uhr4k.core.media import list_media
from uhr4k.core.records import Failure
from uhr4k.core.video import decode_selected, is_video, probe_video, seek_frame
from uhr4k.synth.resize import cover_resize, cover_scale

# Usability thresholds on the gray thumbnail (values in [0, 1]); see usability().
BLACK_MEAN = 16 / 255        # darker on average than this: a black/fade frame
FLAT_STD = 8 / 255           # less contrast than this: a flat frame (sky, wall, title card)
# finest-octave share of the variance below this: badly blurred (sharp video frames measure 1e-3 to 2e-2,
# the same frames blurred by 0.5 % of their width about 2e-4)
BLUR_RATIO = 4e-4
DUPLICATE_MAD = 0.025        # mean |a - b| of normalised thumbnails below this: a near-duplicate
THUMB_SIZE = (96, 54)        # near-duplicate comparison
SHARP_WIDTH = 480            # blur measurement width (about 8x below 4K: motion blur of a few px vanishes)
MIN_GAP_S = 0.5              # candidates of one video are at least this far apart
FRAME_ID = re.compile(r"-\d{6}$")  # the tail of a video frame's id


@dataclass(frozen=True)
class Source:
    """One input file: ``rel`` is its path relative to the frames folder (POSIX), ``scene`` its scene name."""

    path: Path
    rel: str
    kind: str          # "video" or "image"
    scene: str
    n_frames: int
    fps: float
    size: tuple[int, int]


@dataclass(frozen=True)
class Frame:
    """One picked background: the sample id, where it comes from and the hash that proves it."""

    id: str
    scene: str
    rel: str           # source path relative to the frames folder
    kind: str
    index: int         # frame index in the video (0 for an image)
    fps: float
    check: str
    width: int = 0     # decoded frame size (after any rotation ffmpeg applies)
    height: int = 0


def scene_name(rel: str) -> str:
    """A file-name-safe scene name from a relative path: ``'city/Night Walk.mp4'`` -> ``'city-Night-Walk'``."""
    stem = rel.rsplit(".", 1)[0]
    return re.sub(r"[^A-Za-z0-9]+", "-", stem).strip("-") or "scene"


def frame_check(img: np.ndarray) -> str:
    """A short hash of a fixed pixel subsample of ``img`` (H, W, 3) uint8: cheap at 4K, exact enough."""
    sample = np.ascontiguousarray(img[::7, ::7])
    return hashlib.sha256(sample.tobytes() + repr(img.shape).encode()).hexdigest()[:16]


def usability(img: np.ndarray) -> tuple[str | None, np.ndarray]:
    """Why ``img`` (H, W, 3) uint8 is unusable (``"black"``, ``"flat"``, ``"blurred"``) or None, and its thumbnail.

    Returns:
        (reason or None, (54, 96) float32 gray thumbnail normalised to zero mean, unit std).
    """
    h, w = img.shape[:2]
    width = min(SHARP_WIDTH, w)  # never upsample: interpolation would look like blur
    small = img if width == w else cv2.resize(img, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    gray = to_float_divided(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
    mean, std = float(gray.mean()), float(gray.std())
    thumb = cv2.resize(gray, THUMB_SIZE, interpolation=cv2.INTER_AREA)
    thumb = (thumb - thumb.mean()) / max(float(thumb.std()), 1e-3)
    if mean < BLACK_MEAN:
        return "black", thumb
    if std < FLAT_STD:
        return "flat", thumb
    # share of the signal's variance in the finest octave: a sharp photo keeps a few percent there,
    # a defocused or motion-blurred one almost none, whatever its overall contrast
    high = gray - cv2.GaussianBlur(gray, (0, 0), 1.0)
    if float(high.var()) / (std * std) < BLUR_RATIO:
        return "blurred", thumb
    return None, thumb


def is_duplicate(thumb: np.ndarray, kept: list[np.ndarray]) -> bool:
    return any(float(np.abs(thumb - k).mean()) < DUPLICATE_MAD for k in kept)


def scan_sources(folder: str | Path, size: tuple[int, int], allow_upscale: bool = False, progress: bool = True
                 ) -> tuple[list[Source], list[Failure]]:
    """Probe every video and image under ``folder``.

    Returns:
        (usable sources sorted by path, failures): unreadable files and sources smaller than ``size``
        (when not ``allow_upscale``) are failures, one line each.

    Raises:
        InputError: ``folder`` is missing or holds no video or image.
    """
    from tqdm import tqdm

    folder = Path(folder)
    files = list_media(folder)
    sources, failures, scenes = [], [], set()
    for path in tqdm(files, desc="scan sources", unit="file", leave=False, disable=not progress):
        found, failed = probe_source(path, folder, size, allow_upscale)
        failures += failed
        for src in found:
            scene = src.scene
            # a.mp4 and a.mov: keep both, as different scenes. An image's id is its scene and a video
            # frame's is ``<scene>-<6-digit index>``: an image named like a frame (clip-000009.png beside
            # clip.mp4) gets another name, so that ids are unique by construction.
            while scene in scenes or (src.kind == "image" and FRAME_ID.search(scene)):
                scene += "-x"
            scenes.add(scene)
            sources.append(dataclasses.replace(src, scene=scene))
    return sources, failures


def probe_source(path: Path, folder: Path, size: tuple[int, int], allow_upscale: bool = False
                 ) -> tuple[list[Source], list[Failure]]:
    """One file of the frames folder: ([its Source], []) when usable, else ([], [the failure])."""
    rel = path.relative_to(folder).as_posix()
    try:
        if is_video(path):
            n_frames, fps, src_size = probe_video(path)
            kind = "video"
        else:
            img = read_image(path, keep_16bit=False)
            n_frames, fps, src_size, kind = 1, 0.0, (img.shape[1], img.shape[0]), "image"
    except InputError as exc:
        return [], [Failure("scan", "", str(path), exc.reason)]
    if cover_scale(src_size, size) > 1 and not allow_upscale:
        return [], [Failure("scan", "", str(path), f"{src_size[0]}x{src_size[1]} is smaller than --size "
                            f"{size[0]}x{size[1]} (pass --allow-upscale to upscale it)")]
    return [Source(path, rel, kind, scene_name(rel), n_frames, fps, src_size)], []


def _spread_order(n: int) -> list[int]:
    """0..n-1 in an order whose every prefix is spread over the range (base-2 radical inverse)."""
    order, seen = [], set()
    bits = max(1, math.ceil(math.log2(max(n, 2))))
    for r in range(1 << bits):
        inv = int(format(r, f"0{bits}b")[::-1], 2) / (1 << bits)
        j = min(n - 1, int(inv * n))
        if j not in seen:
            seen.add(j)
            order.append(j)
    order += [j for j in range(n) if j not in seen]
    return order


def candidate_indices(n_frames: int, fps: float, wanted: int) -> list[int]:
    """Up to ``wanted`` frame indices spread evenly over a video, at least MIN_GAP_S apart."""
    gap = max(1, int(round((fps or 1.0) * MIN_GAP_S)))
    k = max(1, min(wanted, n_frames // gap if n_frames >= gap else 1))
    return sorted({min(n_frames - 1, int((j + 0.5) * n_frames / k)) for j in range(k)})


def _video_candidates(src: Source, wanted: int, skipped: dict, failures: list) -> list[tuple[Frame, np.ndarray]]:
    out = []
    try:
        wanted_indices = candidate_indices(src.n_frames, src.fps, wanted)
        for index, img in decode_selected(src.path, wanted_indices, src.size, threads=0):
            reason, thumb = usability(img)
            if reason:
                skipped[reason] = skipped.get(reason, 0) + 1
                continue
            out.append((Frame(f"{src.scene}-{index:06d}", src.scene, src.rel, "video", index, src.fps,
                              frame_check(img), *src.size), thumb))
    except InputError as exc:
        failures.append(Failure("select", "", str(src.path), exc.reason))
        return []
    return out


def _image_candidate(src: Source, skipped: dict, failures: list) -> list[tuple[Frame, np.ndarray]]:
    try:
        img = read_image(src.path, keep_16bit=False)
    except InputError as exc:
        failures.append(Failure("select", "", str(src.path), exc.reason))
        return []
    reason, thumb = usability(img)
    if reason:
        skipped[reason] = skipped.get(reason, 0) + 1
        return []
    return [(Frame(src.scene, src.scene, src.rel, "image", 0, 0.0, frame_check(img), *src.size), thumb)]


def select_frames(sources: list[Source], count: int, progress: bool = True
                  ) -> tuple[list[Frame], dict, list[Failure]]:
    """Pick up to ``count`` usable, non-duplicate frames spread over each video and over all scenes.

    Each video offers candidates spread evenly over its length (3x its fair share, to have spares for
    rejected frames); picks then go round-robin over scenes, each scene taking its candidates in an
    order whose every prefix is spread over the video, skipping near-duplicates of its earlier picks.

    Returns:
        (frames sorted by id, counts of skipped candidates by reason (black, flat, blurred,
        duplicate), failures of sources that could not be decoded).
    """
    from tqdm import tqdm

    if count < 1:
        raise InputError(f"--count must be at least 1, got {count}")
    share = math.ceil(count / max(1, len(sources)))
    skipped: dict[str, int] = {}
    failures: list[Failure] = []
    pools = []
    for src in tqdm(sources, desc="select frames", unit="source", leave=False, disable=not progress):
        if src.kind == "video":
            cands = _video_candidates(src, 3 * share + 2, skipped, failures)
        else:
            cands = _image_candidate(src, skipped, failures)
        if cands:
            pools.append([cands[j] for j in _spread_order(len(cands))])
    picked: list[Frame] = []
    kept_thumbs: list[list[np.ndarray]] = [[] for _ in pools]
    cursors = [0] * len(pools)
    while len(picked) < count and any(c < len(p) for c, p in zip(cursors, pools, strict=True)):
        for k, pool in enumerate(pools):
            while cursors[k] < len(pool) and len(picked) < count:
                frame, thumb = pool[cursors[k]]
                cursors[k] += 1
                if is_duplicate(thumb, kept_thumbs[k]):
                    skipped["duplicate"] = skipped.get("duplicate", 0) + 1
                    continue
                kept_thumbs[k].append(thumb)
                picked.append(frame)
                break
    return sorted(picked, key=lambda f: f.id), skipped, failures


def read_frame(root: str | Path, frame: Frame) -> np.ndarray:
    """Fetch a picked frame again, full size, (H, W, 3) uint8, and prove it is the one selected.

    Videos are read by seeking to the frame's time (cheap: decoding starts at the previous key
    frame); if the result does not match ``frame.check`` (variable frame rate, odd time stamps) the
    video is decoded from the start instead.

    Raises:
        InputError: unreadable source, or a frame that differs from the one selected.
    """
    path = Path(root) / frame.rel
    if frame.kind == "image":
        img = read_image(path, keep_16bit=False)
    else:
        size = (frame.width, frame.height)
        img = seek_frame(path, frame.index, frame.fps, size)
        if img is None or frame_check(img) != frame.check:
            img = next((f for _, f in decode_selected(path, [frame.index], size)), None)
    if img is None or frame_check(img) != frame.check:
        raise InputError(f"frame {frame.index} differs from the one selected (source changed?)", path)
    return img


def background(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A source frame cover-resized and center-cropped to ``size`` (never stretched)."""
    return cover_resize(img, size)
