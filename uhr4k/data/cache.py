"""A crop-friendly cache of a dataset: every image decoded once into a raw ``.npy`` array.

A 960 x 540 training crop from a 3840 x 2160 PNG costs a whole 4K decode (about 8 MP of zlib and
unfiltering) for 0.5 MP of pixels. ``uhr4k cache ROOT`` decodes each image once into
``ROOT/.uhr4k-cache/<relative path>.npy``; a crop is then a memory-mapped read of the rows it covers
(``benchmarks/bench_loader.py`` measures the gain). Uncompressed arrays cost disk: W x H x 3 bytes per
8-bit image (24.9 MB at 4K), about twice a 4K PNG.

``index.json`` records, per source file, its fingerprint (size and modification time) when it was cached
and the ``.npy`` file's own size: a source that changed since, or an array file that does not have its
recorded size (cut by a kill or a full disk), is read from the PNG again (never a stale or short crop),
and a rerun redoes only such files. The run holds the root's lock (:func:`uhr4k.core.locks.lock_root`).
"""
from __future__ import annotations

import io as _io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from uhr4k.core.atomic import atomic_path, remove_stale_temporaries, write_text_atomic
from uhr4k.core.errors import InputError
from uhr4k.core.images import read_image
from uhr4k.core.jobs import run_jobs
from uhr4k.core.locks import lock_root
from uhr4k.core.media import list_media
from uhr4k.core.records import Failure, fingerprint

CACHE_DIR = ".uhr4k-cache"
INDEX_NAME = "index.json"
# Folders whose images training never crops: the third layer of a UHR4K pair and alignment QA.
SKIPPED_FOLDERS = {"reflection", "streaks", "mask", "qa", CACHE_DIR}


@dataclass
class CacheSummary:
    root: Path
    written: int = 0
    kept: int = 0
    failures: list[str] = field(default_factory=list)   # "path: reason" lines
    bytes: int = 0

    def lines(self) -> list[str]:
        out = [f"cache {self.root / CACHE_DIR}: {self.written} written, {self.kept} up to date, "
               f"{len(self.failures)} failed, {self.bytes / 1e9:.2f} GB"]
        return out + [f"failed: {f}" for f in self.failures]

    @property
    def ok(self) -> bool:
        """Nothing failed (the ``failures`` list is empty)."""
        return not self.failures


def _stamp(path: Path) -> dict:
    size, mtime_ns = fingerprint(path)
    return {"size": size, "mtime_ns": mtime_ns}


def _npy_size(shape, dtype: str) -> int:
    """Bytes of the ``.npy`` file ``np.save`` writes for an array of ``shape`` and ``dtype`` (header too)."""
    header = np.lib.format.header_data_from_array_1_0(np.empty((0,), dtype))
    header["shape"] = tuple(int(v) for v in shape)
    buf = _io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.tell() + int(np.prod(shape)) * np.dtype(dtype).itemsize


def _fresh(entry: dict | None, src: Path, npy: Path) -> bool:
    """The index entry still describes ``src`` and its array file is whole."""
    try:
        return (entry is not None and {k: entry.get(k) for k in ("size", "mtime_ns")} == _stamp(src)
                and npy.stat().st_size == _npy_size(entry["shape"], entry["dtype"]))
    except (OSError, KeyError, TypeError, ValueError):
        return False


def _cache_one(job: tuple[Path, Path]) -> tuple[list[int], str] | str:
    """Decode one image into its array file; the error line when it cannot be read."""
    src, dst = job
    try:
        img = read_image(src)
    except InputError as exc:
        return str(exc)
    with atomic_path(dst) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, img)
    return list(img.shape), str(img.dtype)


def cacheable_images(root: Path) -> list[Path]:
    """Images under ``root`` that training crops from (layers, QA and the cache itself left out)."""
    images = list_media(root, kinds=("image",))
    return [p for p in images
            if not SKIPPED_FOLDERS.intersection(p.relative_to(root).parts[:-1])
            and not any(part.startswith(".") for part in p.relative_to(root).parts)]


def build_cache(root: str | os.PathLike, workers: int = 1) -> CacheSummary:
    """Decode every trainable image under ``root`` into ``root/.uhr4k-cache`` (resumable, atomic).

    An unreadable image is recorded in ``summary.failures`` and the run goes on.

    Raises:
        InputError: ``root`` holds no image, is in use by another process, or the index is damaged.
    """
    root = Path(root)
    images = cacheable_images(root)
    with lock_root(root, "cache"):
        remove_stale_temporaries(root / CACHE_DIR)
        return _build(root, images, workers)


def _build(root: Path, images: list[Path], workers: int) -> CacheSummary:
    cache = root / CACHE_DIR
    index_path = cache / INDEX_NAME
    index = _read_index(index_path)
    summary = CacheSummary(root)
    todo = []
    for src in images:
        rel = src.relative_to(root).as_posix()
        dst = cache / (rel + ".npy")
        if _fresh(index.get(rel), src, dst):
            summary.kept += 1
            summary.bytes += dst.stat().st_size
        else:
            index.pop(rel, None)
            todo.append((src, dst, rel))
    jobs = [(src, dst) for src, dst, _ in todo]
    done = 0
    for k, outcome in run_jobs(_cache_one, jobs, workers, desc="cache", unit="img", stage="cache",
                                     ids=[rel for _, _, rel in todo]):
        src, dst, rel = todo[k]
        if isinstance(outcome, Failure):
            summary.failures.append(f"{src}: {outcome.reason}")
            continue
        if isinstance(outcome, str):
            summary.failures.append(outcome)
            continue
        shape, dtype = outcome
        index[rel] = {**_stamp(src), "shape": shape, "dtype": dtype}
        summary.written += 1
        summary.bytes += dst.stat().st_size
        done += 1
        if done % 50 == 0:               # an interrupted run keeps what it finished
            write_text_atomic(index_path, json.dumps(index, sort_keys=True, indent=0))
    if todo or not index_path.exists():
        write_text_atomic(index_path, json.dumps(index, sort_keys=True, indent=0))
    return summary


def _read_index(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError("corrupt cache index (delete the cache folder and rerun uhr4k cache)", path) from None


class CachedReader:
    """Reads crops of images from the nearest ``.uhr4k-cache`` above them, when it is up to date.

    Picklable and cheap: DataLoader workers each get a copy; lookups are memoized per folder.
    """

    def __init__(self):
        self._roots: dict[Path, tuple[Path, dict] | None] = {}

    def _find(self, folder: Path) -> tuple[Path, dict] | None:
        if folder not in self._roots:
            found = None
            for parent in (folder, *folder.parents):
                index_path = parent / CACHE_DIR / INDEX_NAME
                if index_path.is_file():
                    found = (parent, _read_index(index_path))
                    break
            self._roots[folder] = found
        return self._roots[folder]

    def entry(self, path: Path) -> tuple[Path, dict] | None:
        """(npy path, index entry) of an up-to-date cached copy of ``path``, else None."""
        path = Path(path).absolute()
        found = self._find(path.parent)
        if found is None:
            return None
        root, index = found
        rel = path.relative_to(root).as_posix()
        entry = index.get(rel)
        npy = root / CACHE_DIR / (rel + ".npy")
        return (npy, entry) if _fresh(entry, path, npy) else None

    def shapes(self, input_path: Path, target_path: Path) -> tuple[int, int] | None:
        """(H, W) when both images are cached with the same shape; None sends the caller to the PNGs."""
        a, b = self.entry(input_path), self.entry(target_path)
        if a is None or b is None or a[1]["shape"] != b[1]["shape"]:
            return None
        return int(a[1]["shape"][0]), int(a[1]["shape"][1])

    def crop(self, path: Path, top: int, left: int, height: int, width: int, copy: bool = True) -> np.ndarray:
        """The (height, width, 3) region at (top, left) of a cached image, read through a memory map: a copy,
        or with ``copy=False`` the read-only view of the map itself (nothing read until it is used)."""
        npy, _ = self.entry(path)
        region = np.load(npy, mmap_mode="r")[top:top + height, left:left + width]
        return np.array(region) if copy else region
