"""Images in and out: decoding (header checks, truncation, EXIF orientation), encoding, and the
uint8/uint16 <-> float conversions, each rounding rule named once.

Images are numpy arrays of shape (H, W, 3), RGB, dtype uint8 or uint16 (16-bit PNG/TIFF keep their
depth). Every write goes through :mod:`uhr4k.core.atomic` (a temporary name, then a rename), so a file
under its final name is always complete; video frames are :mod:`uhr4k.core.video`'s.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
from PIL import Image

from uhr4k.core.atomic import write_bytes_atomic
from uhr4k.core.errors import InputError, first_line

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
PNG_COMPRESSION = 3  # zlib level: a measured balance of 4K encode time and size (docs/benchmarks.md)
JPEG_QUALITY = 95
# OpenCV threads fight with our own worker processes; pipelines parallelise by process.
cv2.setNumThreads(1)


def is_image(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_image(path: str | os.PathLike, *, keep_16bit: bool = True) -> np.ndarray:
    """Read an image file as RGB.

    Returns:
        (H, W, 3) uint8, or uint16 for a 16-bit file when ``keep_16bit`` (else scaled to uint8).
        Gray images are expanded to 3 channels; an alpha channel is dropped.

    Raises:
        InputError: missing, unreadable or truncated file.
    """
    return decode_image(read_file_bytes(path), Path(path), keep_16bit=keep_16bit)


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
    if sha256 and hashlib.sha256(data.data).hexdigest() != sha256:
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
    try:
        with Image.open(path) as im:
            return int(im.getexif().get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 (PIL raises many types; no readable tag means upright)
        return 1


def check_image_header(path: str | os.PathLike, *, verify: bool = False) -> tuple[int, int]:
    """Check an image file without decoding its pixels, so that a long run refuses it up front.

    The file must exist and hold bytes, PIL must read its header, the header must claim no more pixels
    than PIL's decompression-bomb limit, and a JPEG or PNG must end with its end marker. ``verify`` also
    runs PIL's integrity check of the data (a PNG's chunk CRCs: reads the whole file, decodes nothing).

    Returns:
        (width, height) as the header states it (before any EXIF rotation).

    Raises:
        InputError: ``no such file``, ``empty file``, ``cannot read image header (<PIL's reason>)``,
        a decompression bomb, or ``truncated image file``.
    """
    path = Path(path)
    try:
        n_bytes = os.path.getsize(path)
        if n_bytes == 0:
            raise InputError("empty file", path)
        with Image.open(path) as im:
            size = im.size
            if verify:
                im.verify()
        with open(path, "rb") as f:
            f.seek(max(0, n_bytes - 64))   # looks_truncated reads at most the last 64 bytes
            tail = np.frombuffer(f.read(), np.uint8)
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except Image.DecompressionBombError:
        raise InputError("its header claims more pixels than any image uhr4k reads (a decompression bomb?)",
                         path) from None
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 (PIL raises many types for a bad file: all mean unreadable)
        raise InputError(f"cannot read image header ({first_line(exc)})", path) from None
    if looks_truncated(path, tail):
        raise InputError("truncated image file", path)
    return size[0], size[1]


def looks_truncated(path: Path, data: np.ndarray) -> bool:
    """OpenCV decodes a cut JPEG or PNG with grey padding and only a warning: check the end markers."""
    suffix = path.suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        tail = data[-64:].tobytes().rstrip(b"\x00\r\n ")
        return not tail.endswith(b"\xff\xd9")
    if suffix == ".png":
        return b"IEND" not in data[-32:].tobytes()
    return False


# ------------------------------------------------------------------------------ pixel conversions
# Integer images <-> float in [0, 1]. Each rounding below is a convention that datasets and scores were
# made with: the functions differ in the last bit of some values, so a call site keeps the one it has
# (switching one changes its output bytes). The torch twins live beside their users, so that this module
# imports no torch: uhr4k.data.crops.to_tensor and uhr4k.data.dataset.unit_float (to_float),
# uhr4k.benchmark.metrics.quantize and tensor_to_uint8 (from_float).


def to_uint8(img: np.ndarray) -> np.ndarray:
    """uint16 -> uint8 with rounding (x / 257); uint8 passes through."""
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        return ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)
    raise ValueError(f"expected uint8 or uint16, got {img.dtype}")


def unit_scale(dtype) -> np.float32:
    """The float32 factor that :func:`to_float` multiplies by: 1/65535 for uint16, 1/255 otherwise."""
    return np.float32(1.0 / (65535.0 if np.dtype(dtype) == np.uint16 else 255.0))


def to_float(img: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """uint8/uint16 (H, W, C) -> float32 in [0, 1]: one multiply by float32(1/255) (1/65535).

    The loaders' and the metrics' convention (one pass, the fastest). ``out``: a float32 array of
    ``img``'s shape to write into (an image given as a strided view is then read once, written once).
    """
    return np.multiply(img, unit_scale(img.dtype), out=out, dtype=np.float32)


def to_float_divided(img: np.ndarray) -> np.ndarray:
    """uint8/uint16 -> float32 in [0, 1] by true division, x / 255 (x / 65535), correctly rounded.

    The convention of the through-glass simulation, the smoke data, the demo's haze and the frame
    usability checks; :func:`to_float`'s multiply differs from it in the last bit for 126 of the 256
    uint8 values.
    """
    return img.astype(np.float32) / np.float32(65535.0 if img.dtype == np.uint16 else 255.0)


def from_float(img: np.ndarray, dtype=np.uint8) -> np.ndarray:
    """float in [0, 1] -> uint8/uint16, clipped and rounded half up (the BasicSR convention)."""
    scale = 65535.0 if dtype == np.uint16 else 255.0
    return np.clip(np.floor(img * scale + 0.5), 0, scale).astype(dtype)


def from_float_saturated(img: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """float32 in [0, 1] -> uint8 in one OpenCV pass: ``|img * 255 * gain|`` rounded half to even and
    saturated at 255 (``cv2.convertScaleAbs``).

    The synthesis' convention (build-syn's reflection layers): over ten times faster than
    :func:`from_float` at 4K. It differs from it for values within a rounding error of a half (165 of
    25 million random values) and for negative values (mirrored, not clipped to 0), which the blends
    that call it never produce.
    """
    return cv2.convertScaleAbs(img, alpha=255.0 * gain)


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


def write_image(path: str | os.PathLike, img: np.ndarray) -> str:
    """Encode ``img`` by the suffix of ``path`` and write it atomically.

    Returns:
        the SHA-256 hex digest of the written bytes (for the manifest).
    """
    data = encode_image(img, Path(path).suffix)
    write_bytes_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


