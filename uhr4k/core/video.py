"""Video in: probing and streaming frames through imageio-ffmpeg (a video is never held in memory whole).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from uhr4k.core.errors import InputError

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")


TRUNCATED_SHARE = 0.9  # a video decoding fewer frames than this share of its declared length is cut


def is_video(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def probe_video(path: str | os.PathLike) -> tuple[int, float, tuple[int, int]]:
    """Count the frames of a video by decoding it (container counts lie) without keeping frames.

    Returns:
        (n_frames, fps, (width, height)).

    Raises:
        InputError: ffmpeg cannot read the file, or it holds no frame.
    """
    import imageio_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path)
    try:
        # one frame only, read to the end: ffmpeg then exits by itself instead of being killed
        # (imageio-ffmpeg warns "We had to kill ffmpeg") while the frames are counted
        reader = imageio_ffmpeg.read_frames(str(path), output_params=["-frames:v", "1"])
        meta = reader.__next__()
        for _ in reader:
            pass
        n_frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    except (RuntimeError, OSError, StopIteration) as exc:
        raise InputError(f"cannot read video ({_first_line(exc)})", path) from None
    if n_frames <= 0:
        raise InputError("video holds no frame", path)
    # A streamable file (mp4 with +faststart, mkv) cut short still opens and decodes its first part:
    # compare the decodable frames with what the container declares (10 % slack for variable rates).
    declared = float(meta.get("duration") or 0.0) * float(meta.get("fps") or 0.0)
    if declared and n_frames < TRUNCATED_SHARE * declared - 1:
        raise InputError(f"truncated video: {n_frames} decodable frames of the {declared:.0f} its container "
                         f"declares", path)
    size = tuple(int(v) for v in meta["size"])
    return int(n_frames), float(meta.get("fps") or 0.0), (size[0], size[1])


def iter_video_frames(path: str | os.PathLike, wanted: Iterable[int] | None = None
                      ) -> Iterator[tuple[int, np.ndarray]]:
    """Stream ``(index, frame)`` pairs, frame (H, W, 3) uint8 RGB, decoding sequentially.

    Only the frames whose index is in ``wanted`` are converted and yielded (all when ``None``);
    decoding stops after the last wanted index. One frame is in memory at a time.

    Raises:
        InputError: the video cannot be decoded, or ends before a wanted frame (truncated).
    """
    import imageio_ffmpeg

    path = Path(path)
    wanted_set = None if wanted is None else set(int(i) for i in wanted)
    last = None if wanted_set is None else (max(wanted_set) if wanted_set else -1)
    if last == -1:
        return
    try:
        reader = imageio_ffmpeg.read_frames(str(path))
        meta = reader.__next__()
    except (RuntimeError, OSError, StopIteration) as exc:
        raise InputError(f"cannot read video ({_first_line(exc)})", path) from None
    width, height = (int(v) for v in meta["size"])
    index = -1
    try:
        for index, raw in enumerate(reader):
            if wanted_set is None or index in wanted_set:
                frame = np.frombuffer(raw, dtype=np.uint8)
                if frame.size != width * height * 3:
                    raise InputError(f"frame {index} is incomplete (truncated video)", path)
                yield index, frame.reshape(height, width, 3).copy()
            if last is not None and index >= last:
                break
    except RuntimeError as exc:
        raise InputError(f"video decoding failed at frame {index + 1} ({_first_line(exc)})", path) from None
    finally:
        reader.close()
    if last is not None and index < last:
        raise InputError(f"video ends at frame {index} before wanted frame {last} (truncated?)", path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

