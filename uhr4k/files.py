"""Images and video frames in and out, atomic writes, hashing.

Images are numpy arrays of shape (H, W, 3), RGB, dtype uint8 or uint16 (16-bit PNG/TIFF keep their
depth). Every write goes to a temporary name in the destination folder and is renamed into place, so
a file under its final name is always complete. Video frames stream through imageio-ffmpeg: a video is
never held in memory whole.
"""
from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import io
import os
import secrets
import tempfile
import threading
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import cv2
import numpy as np

from uhr4k.errors import DISK_ERRORS, InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
PNG_COMPRESSION = 3  # zlib level: a measured balance of 4K encode time and size (BENCHMARKS.md)
JPEG_QUALITY = 95
TRUNCATED_SHARE = 0.9  # a video decoding fewer frames than this share of its declared length is cut

# OpenCV threads fight with our own worker processes; pipelines parallelise by process.
cv2.setNumThreads(1)


def is_image(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def is_video(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def list_media(folder: str | os.PathLike, kinds: Iterable[str] = ("image", "video")) -> list[Path]:
    """Images and/or videos directly in ``folder`` and below, sorted by path (a stable order).

    Raises:
        InputError: the folder does not exist or holds no file of the wanted kinds.
    """
    found, _ = scan_media(folder, kinds)
    if not found:
        raise InputError(f"no {' or '.join(kinds)} files found", folder)
    return found


def scan_media(folder: str | os.PathLike, kinds: Iterable[str] = ("image", "video")
               ) -> tuple[list[Path], dict[str, int]]:
    """(:func:`list_media`'s files, how many others were passed over and why): broken symlinks, symlink
    loops, hidden files, other types. Raises InputError: the folder does not exist."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("not a folder", folder)
    checks = {"image": is_image, "video": is_video}
    found, skipped = [], {}
    for p in folder.rglob("*"):
        is_file, reason = p.is_file(), None
        if p.is_symlink() and not p.exists():
            try:
                os.stat(p)
            except OSError as exc:   # ELOOP: links pointing at each other (or at themselves)
                reason = "symlink loop" if exc.errno == errno.ELOOP else "broken symlink"
        if is_file and not p.name.startswith(".") and any(checks[k](p) for k in kinds):
            found.append(p)
            continue
        if reason is None and is_file:
            reason = "hidden file" if p.name.startswith(".") else "file of another type"
        if reason is not None:
            skipped[reason] = skipped.get(reason, 0) + 1
    return sorted(found), skipped


def describe_skipped(folder: str | os.PathLike, skipped: dict[str, int]) -> str | None:
    """One line saying what :func:`scan_media` passed over, or None when nothing was."""
    if not skipped:
        return None
    parts = ", ".join(f"{reason}: {n}" for reason, n in sorted(skipped.items()))
    return f"{folder}: skipped {sum(skipped.values())} file(s) ({parts})"


def read_image(path: str | os.PathLike, *, keep_16bit: bool = True) -> np.ndarray:
    """Read an image file as RGB.

    Returns:
        (H, W, 3) uint8, or uint16 for a 16-bit file when ``keep_16bit`` (else scaled to uint8).
        Gray images are expanded to 3 channels; an alpha channel is dropped.

    Raises:
        InputError: missing, unreadable or truncated file.
    """
    return decode_image(read_file_bytes(path), path, keep_16bit=keep_16bit)


def read_file_bytes(path: str | os.PathLike) -> np.ndarray:
    """A file's bytes as a uint8 array. Raises InputError: missing, unreadable or empty."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror or exc})", path) from None
    if data.size == 0:
        raise InputError("empty file", path)
    return data


def read_image_verified(path: str | os.PathLike, sha256: str, *, keep_16bit: bool = True) -> np.ndarray:
    """:func:`read_image`, refusing a file whose SHA-256 is not ``sha256`` (hashed from the bytes that
    are decoded: one read). Raises InputError: the checksum differs from the manifest's."""
    data = read_file_bytes(path)
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        raise InputError("checksum differs from the manifest (file replaced or damaged)", path)
    return decode_image(data, Path(path), keep_16bit=keep_16bit)


def decode_image(data: np.ndarray, path: Path, *, keep_16bit: bool = True) -> np.ndarray:
    """Decode a file's bytes (see :func:`read_image`); ``path`` names it in errors and gives its type."""
    path = Path(path)
    if looks_truncated(path, data):  # checked first: libpng would print its own error lines
        raise InputError("truncated image file", path)
    try:
        # ANYDEPTH | ANYCOLOR keeps 16 bits and gray, drops alpha, and applies the EXIF orientation of a
        # phone JPEG (what every viewer shows; IMREAD_UNCHANGED would leave a portrait photo sideways)
        with _decoder_messages() as said:
            img = cv2.imdecode(data, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    except cv2.error as exc:
        if "CV_IO_MAX_IMAGE_PIXELS" in str(exc):
            raise InputError("its header claims more than 2^30 pixels (a decompression bomb?)", path) from None
        raise InputError(f"cannot decode image (OpenCV: {str(exc).strip().splitlines()[-1]})", path) from None
    if img is None:
        detail = said[0] if said else "unreadable or truncated"
        raise InputError(f"cannot decode image ({detail})", path)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    else:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if img.dtype == np.uint16 and not keep_16bit:
        img = to_uint8(img)
    elif img.dtype not in (np.uint8, np.uint16):
        raise InputError(f"unsupported pixel type {img.dtype}", path)
    return np.ascontiguousarray(img)


_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def _decoder_messages() -> Iterator[list[str]]:
    """Catch what libpng / libjpeg print on the C stderr while decoding (``libpng error: IDAT: ...``): a
    stray line on the user's terminal becomes the reason of the one error line instead."""
    said: list[str] = []
    with _STDERR_LOCK, tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield said
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            said += [line.strip() for line in sink.read().decode("utf-8", "replace").splitlines() if line.strip()]


def exif_orientation(path: str | os.PathLike) -> int:
    """The EXIF orientation tag (1-8) of an image file, 1 when it has none; :func:`read_image` applies it."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return int(im.getexif().get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 (PIL raises many types; no readable tag means upright)
        return 1


def looks_truncated(path: Path, data: np.ndarray) -> bool:
    """OpenCV decodes a cut JPEG or PNG with grey padding and only a warning: check the end markers."""
    suffix = path.suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        tail = data[-64:].tobytes().rstrip(b"\x00\r\n ")
        return not tail.endswith(b"\xff\xd9")
    if suffix == ".png":
        return b"IEND" not in data[-32:].tobytes()
    return False


def to_uint8(img: np.ndarray) -> np.ndarray:
    """uint16 -> uint8 with rounding (x / 257); uint8 passes through."""
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        return ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)
    raise ValueError(f"expected uint8 or uint16, got {img.dtype}")


def to_float(img: np.ndarray) -> np.ndarray:
    """uint8/uint16 (H, W, C) -> float32 in [0, 1]."""
    scale = 65535.0 if img.dtype == np.uint16 else 255.0
    return img.astype(np.float32) * np.float32(1.0 / scale)


def from_float(img: np.ndarray, dtype=np.uint8) -> np.ndarray:
    """float in [0, 1] -> uint8/uint16, clipped and rounded half up (the BasicSR convention)."""
    scale = 65535.0 if dtype == np.uint16 else 255.0
    return np.clip(np.floor(img * scale + 0.5), 0, scale).astype(dtype)


def encode_image(img: np.ndarray, suffix: str = ".png") -> bytes:
    """Encode (H, W, 3) RGB or (H, W) gray uint8/uint16 to PNG/JPEG/TIFF bytes, deterministically."""
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (1, 3)):
        raise ValueError(f"expected (H, W) or (H, W, 3), got shape {img.shape}")
    if img.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected uint8 or uint16, got {img.dtype}")
    suffix = suffix.lower()
    bgr = img if img.ndim == 2 or img.shape[2] == 1 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    if suffix == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION]
    elif suffix in (".jpg", ".jpeg"):
        if img.dtype != np.uint8:
            raise ValueError("JPEG holds 8-bit images only")
        params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    else:
        params = []
    ok, buf = cv2.imencode(suffix, bgr, params)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {suffix} image of shape {img.shape}")
    return buf.tobytes()


def temp_name(path: Path) -> Path:
    """``.<stem>.<pid>-<random><suffix>.part`` beside ``path``: hidden, recognisable as a temporary, and
    naming its writer so that start-up clean-up (:func:`uhr4k.state.remove_stale_temporaries`) can tell
    a dead run's leftovers from a live one's files."""
    return path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(4)}{path.suffix}.part")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds.

    The temporary file exists (empty) when the block starts; it is created with the permissions the
    umask gives (as ``open`` would), not ``mkstemp``'s 0600, so a dataset on a shared server can be read
    by others. It keeps the real suffix before ``.part`` so that writers looking at the suffix work.

    Raises:
        InputError: ``"<path>: no space left on device"`` (or permission denied, read-only file system)
        when the disk refuses the write; nothing is left under either name.
    """
    path = Path(path)
    tmp = None
    try:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InputError("not a folder (a file is in the way)", _first_file(path.parent)) from None
        tmp = temp_name(path)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno in DISK_ERRORS:
            raise InputError(DISK_ERRORS[exc.errno], path) from None
        raise
    finally:
        if tmp is not None and tmp.exists():
            tmp.unlink()


def _first_file(folder: Path) -> Path:
    """The first component of ``folder`` that exists and is not a folder."""
    for p in (*reversed(folder.parents), folder):
        if p.exists() and not p.is_dir():
            return p
    return folder


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, then rename)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_csv(path: str | os.PathLike, rows: Iterable[dict], columns: Sequence[str]) -> None:
    """Rows (dicts; floats with full precision, keys outside ``columns`` ignored) as CSV with the header
    ``columns``, written atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def write_image(path: str | os.PathLike, img: np.ndarray) -> str:
    """Encode ``img`` by the suffix of ``path`` and write it atomically.

    Returns:
        the SHA-256 hex digest of the written bytes (for the manifest).
    """
    data = encode_image(img, Path(path).suffix)
    write_bytes_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# ----------------------------------------------------------------------------------------- video


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
