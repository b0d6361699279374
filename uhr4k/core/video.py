"""Video in: probing a video and decoding its frames with the ffmpeg that imageio-ffmpeg ships (a video is
never held in memory whole).

Every frame decoded here comes out of one driver, :func:`stream_frames`: ffmpeg run directly, writing raw
RGB24 frames of a size known from probing to a pipe. imageio-ffmpeg's own reader is used only to parse a
video's header (size, frame rate, duration) and to count its frames (:func:`probe_video`); its frame
stream waits at most 10 s for the stream header, which fails on a busy machine while ffmpeg is still
seeking through a 4K group of pictures.

Sizes are (width, height); frames are (H, W, 3) uint8 RGB.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from uhr4k.core.errors import InputError, first_line

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
    meta = _read_header(path)
    try:
        n_frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    except (RuntimeError, OSError) as exc:
        raise InputError(f"cannot read video ({first_line(exc)})", path) from None
    if n_frames <= 0:
        raise InputError("video holds no frame", path)
    # A streamable file (mp4 with +faststart, mkv) cut short still opens and decodes its first part:
    # compare the decodable frames with what the container declares (10 % slack for variable rates).
    declared = float(meta.get("duration") or 0.0) * float(meta.get("fps") or 0.0)
    if declared and n_frames < TRUNCATED_SHARE * declared - 1:
        raise InputError(f"truncated video: {n_frames} decodable frames of the {declared:.0f} its container "
                         f"declares", path)
    return int(n_frames), float(meta.get("fps") or 0.0), _frame_size(meta)


def _read_header(path: Path) -> dict:
    """imageio-ffmpeg's parse of a video's header (``size``, ``fps``, ``duration``...).

    One frame is decoded and read to the end: ffmpeg then exits by itself instead of being killed
    (imageio-ffmpeg warns "We had to kill ffmpeg"). Raises InputError: ffmpeg cannot read the file.
    """
    import imageio_ffmpeg

    try:
        reader = imageio_ffmpeg.read_frames(str(path), output_params=["-frames:v", "1"])
        meta = reader.__next__()
        for _ in reader:
            pass
    except (RuntimeError, OSError, StopIteration) as exc:
        raise InputError(f"cannot read video ({first_line(exc)})", path) from None
    return meta


def _frame_size(meta: dict) -> tuple[int, int]:
    width, height = (int(v) for v in meta["size"])
    return width, height


def stream_frames(path: str | os.PathLike, size: tuple[int, int], *, before_input: Sequence[str] = (),
                  after_input: Sequence[str] = (), n_frames: int | None = None, threads: int = 1
                  ) -> Iterator[np.ndarray]:
    """The one ffmpeg driver: yield up to ``n_frames`` (all when None) frames of ``size`` (width, height) as
    read-only (H, W, 3) uint8 RGB arrays, then check how ffmpeg ended.

    ``before_input`` / ``after_input`` are ffmpeg options placed before / after ``-i`` (an input seek, a
    select filter); ``-frames:v`` makes ffmpeg stop by itself. ``threads`` = 1 in workers (they parallelise
    by process), 0 (all cores) for a one-pass decode. A video that ends early just ends the stream: the
    caller counts what it got.

    Raises:
        InputError: ``ffmpeg failed (<its last error line>)`` when it exits with an error.
    """
    import imageio_ffmpeg

    width, height = size
    frame_bytes = width * height * 3
    limit = [] if n_frames is None else ["-frames:v", str(n_frames)]
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-threads", str(threads), *before_input,
           "-i", str(path), *after_input, *limit, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        pipe = proc.stdout
        assert pipe is not None  # stdout=PIPE
        finished = False
        try:
            count = 0
            while n_frames is None or count < n_frames:
                raw = pipe.read(frame_bytes)
                if len(raw) < frame_bytes:
                    break
                count += 1
                yield np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
            finished = True
        finally:
            if not finished:  # the caller stopped early (or failed): no verdict needed
                proc.kill()
            pipe.close()
            proc.wait()
        if proc.returncode != 0:
            err.seek(0)
            message = err.read().decode("utf-8", "replace").strip().splitlines()
            raise InputError(f"ffmpeg failed ({message[-1] if message else proc.returncode})", path)


def decode_selected(path: str | os.PathLike, indices: Iterable[int], size: tuple[int, int], threads: int = 1
                    ) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(index, frame)`` for the wanted ``indices`` of a video of frame ``size``, in order,
    decoding it once.

    ffmpeg's select filter drops the other frames before colour conversion, so only wanted frames
    cross the pipe. Raises InputError when the video ends early or cannot be decoded.
    """
    indices = sorted(set(int(i) for i in indices))
    if not indices:
        return
    expr = "+".join(f"eq(n\\,{i})" for i in indices)
    got = 0
    select = ["-vf", f"select={expr}", "-fps_mode", "passthrough"]
    frames = stream_frames(path, size, after_input=select, n_frames=len(indices), threads=threads)
    for index, frame in zip(indices, frames, strict=False):  # the video may end early: counted below
        got += 1
        yield index, frame
    if got < len(indices):
        raise InputError(f"video ended after {got} of {len(indices)} wanted frames (truncated?)", path)


def seek_frame(path: str | os.PathLike, index: int, fps: float, size: tuple[int, int]) -> np.ndarray | None:
    """The frame at ``index`` by a fast input seek (decoding starts at the previous key frame); None when
    there is no frame rate to seek by or ffmpeg fails. The caller checks that it is the frame it wants:
    a variable frame rate or odd time stamps can land elsewhere."""
    if not fps:
        return None
    start = max(0.0, (index - 0.5) / fps)  # half a frame early: the first frame out is ``index``
    try:
        return next(stream_frames(path, size, before_input=["-ss", f"{start:.6f}"], n_frames=1), None)
    except InputError:
        return None


def iter_video_frames(path: str | os.PathLike, wanted: Iterable[int] | None = None
                      ) -> Iterator[tuple[int, np.ndarray]]:
    """Stream ``(index, frame)`` pairs, frame (H, W, 3) uint8 RGB (a writable copy), decoding sequentially.

    Only the frames whose index is in ``wanted`` are yielded (all when ``None``); decoding stops after the
    last wanted index. One frame is in memory at a time.

    Raises:
        InputError: the video cannot be decoded, or ends before a wanted frame (truncated).
    """
    path = Path(path)
    wanted_set = None if wanted is None else set(int(i) for i in wanted)
    last = None if wanted_set is None else (max(wanted_set) if wanted_set else -1)
    if last == -1:
        return
    size = _frame_size(_read_header(path))
    index = -1
    for index, frame in enumerate(stream_frames(path, size, n_frames=None if last is None else last + 1,
                                                threads=0)):
        if wanted_set is None or index in wanted_set:
            yield index, frame.copy()
    if last is not None and index < last:
        raise InputError(f"video ends at frame {index} before wanted frame {last} (truncated?)", path)
