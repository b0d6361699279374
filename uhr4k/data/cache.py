"""A crop-friendly cache of a dataset: every image decoded once into a raw ``.npy`` array.

A 960 x 540 training crop from a 3840 x 2160 PNG costs a whole 4K decode (about 8 MP of zlib and
unfiltering) for 0.5 MP of pixels. ``uhr4k cache ROOT`` decodes each image once into
``ROOT/.uhr4k-cache/<relative path>.npy``; a crop is then a memory-mapped read of the rows it covers
(``benchmarks/bench_loader.py`` measures the gain). Uncompressed arrays cost disk: W x H x 3 bytes per
8-bit image (24.9 MB at 4K), about twice a 4K PNG.

Beside each array, a record ``<relative path>.json`` (:class:`uhr4k.core.records.RecordStore`) holds the
array's shape and dtype, keyed by the source's fingerprint (size and modification time) when it was
cached: a source that changed since, or an array file that does not have the size its shape and dtype
give (cut by a kill or a full disk), is read from the PNG again (never a stale or short crop), and a
rerun redoes only such files. A cache made before these records kept them all in one ``index.json``: it
is still read, and ``uhr4k cache`` turns it into records (nothing decoded again). The run holds the root's
lock (:func:`uhr4k.core.locks.lock_root`).
"""
from __future__ import annotations

import io as _io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from uhr4k import layout
from uhr4k.core.atomic import atomic_path, remove_stale_temporaries
from uhr4k.core.errors import InputError
from uhr4k.core.images import read_image
from uhr4k.core.jobs import run_jobs
from uhr4k.core.locks import lock_root
from uhr4k.core.media import list_media
from uhr4k.core.records import Failure, RecordStore, fingerprint

CACHE_DIR = ".uhr4k-cache"
LEGACY_INDEX = "index.json"     # every entry in one file: the layout of caches made before the records
# Folders whose images training never crops: the third layer of a UHR4K pair and alignment QA.
SKIPPED_FOLDERS = {"reflection", "streaks", "mask", layout.QA_FOLDER, CACHE_DIR}


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


def _npy_size(shape, dtype: str) -> int:
    """Bytes of the ``.npy`` file ``np.save`` writes for an array of ``shape`` and ``dtype`` (header too)."""
    header = np.lib.format.header_data_from_array_1_0(np.empty((0,), dtype))
    header["shape"] = tuple(int(v) for v in shape)
    buf = _io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.tell() + int(np.prod(shape)) * np.dtype(dtype).itemsize


def _record(cache: Path, rel: str) -> tuple[RecordStore, str]:
    """(store, id) of the record of the image at ``rel``: ``CACHE/<rel>.json``, beside its array."""
    folder, _, name = rel.rpartition("/")
    return RecordStore(cache / folder), name


def _whole(data: dict | None, npy: Path) -> bool:
    """The array file has the size of the recorded shape and dtype (``data`` None: no record)."""
    try:
        return data is not None and npy.stat().st_size == _npy_size(data["shape"], data["dtype"])
    except (OSError, KeyError, TypeError, ValueError):
        return False


def _legacy_entry(legacy: dict, rel: str, key: list[int]) -> dict | None:
    """The shape and dtype an old ``index.json`` holds for ``rel`` while its fingerprint is ``key``."""
    entry = legacy.get(rel)
    if not isinstance(entry, dict) or [entry.get("size"), entry.get("mtime_ns")] != key:
        return None
    return {"shape": entry.get("shape"), "dtype": entry.get("dtype")}


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
        InputError: ``root`` holds no image, is in use by another process, or an old cache's ``index.json``
        is damaged.
    """
    root = Path(root)
    images = cacheable_images(root)
    with lock_root(root, "cache"):
        remove_stale_temporaries(root / CACHE_DIR)
        return _build(root, images, workers)


def _build(root: Path, images: list[Path], workers: int) -> CacheSummary:
    cache = root / CACHE_DIR
    legacy = _read_legacy_index(cache)
    summary = CacheSummary(root)
    todo = []
    for src in images:
        rel = src.relative_to(root).as_posix()
        dst = cache / (rel + ".npy")
        if _up_to_date(cache, rel, src, legacy):
            summary.kept += 1
            summary.bytes += dst.stat().st_size
        else:
            todo.append((src, dst, rel))
    jobs = [(src, dst) for src, dst, _ in todo]
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
        store, name = _record(cache, rel)
        store.put(name, fingerprint(src), {"shape": shape, "dtype": dtype})   # after its array is whole
        summary.written += 1
        summary.bytes += dst.stat().st_size
    (cache / LEGACY_INDEX).unlink(missing_ok=True)      # every entry it held is a record now, or redone
    return summary


def _up_to_date(cache: Path, rel: str, src: Path, legacy: dict) -> bool:
    """``src``'s array is whole and recorded under its current fingerprint (an old ``index.json`` entry
    that says so becomes its record)."""
    store, name = _record(cache, rel)
    key = fingerprint(src)
    data = store.get(name, key)
    if data is None:
        data = _legacy_entry(legacy, rel, key)
        if _whole(data, cache / (rel + ".npy")):
            store.put(name, key, data)
    return _whole(data, cache / (rel + ".npy"))


def _read_legacy_index(cache: Path) -> dict:
    """``rel -> {"size", "mtime_ns", "shape", "dtype"}`` of a cache made before the records, else {}."""
    path = cache / LEGACY_INDEX
    if not path.is_file():
        return {}
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        index = None
    if not isinstance(index, dict):
        raise InputError("corrupt cache index (delete the cache folder and rerun uhr4k cache)", path)
    return index


class CachedReader:
    """Reads crops of images from the nearest ``.uhr4k-cache`` above them, when it is up to date.

    Picklable and cheap: DataLoader workers each get a copy; the cache folder is looked up once per
    image folder and each image's record read once (checked against the image's fingerprint every time).
    """

    def __init__(self):
        self._roots: dict[Path, tuple[Path, dict] | None] = {}
        self._seen: dict[Path, tuple[list[int], dict | None]] = {}

    def _find(self, folder: Path) -> tuple[Path, dict] | None:
        """(root holding the cache, its old ``index.json`` entries or {}) for images in ``folder``."""
        if folder not in self._roots:
            found = None
            for parent in (folder, *folder.parents):
                if (parent / CACHE_DIR).is_dir():
                    found = (parent, _read_legacy_index(parent / CACHE_DIR))
                    break
            self._roots[folder] = found
        return self._roots[folder]

    def entry(self, path: Path) -> tuple[Path, dict] | None:
        """(npy path, {"shape", "dtype"}) of an up-to-date cached copy of ``path``, else None."""
        path = Path(path).absolute()
        found = self._find(path.parent)
        if found is None:
            return None
        root, legacy = found
        rel = path.relative_to(root).as_posix()
        npy = root / CACHE_DIR / (rel + ".npy")
        data = self._recorded(root / CACHE_DIR, rel, path, legacy)
        return (npy, data) if _whole(data, npy) else None

    def _recorded(self, cache: Path, rel: str, path: Path, legacy: dict) -> dict | None:
        """The shape and dtype recorded for ``path`` under its current fingerprint (its record, else an old
        ``index.json`` entry), read once per fingerprint; None when there is none."""
        try:
            key = fingerprint(path)
        except OSError:
            return None
        seen = self._seen.get(path)
        if seen is None or seen[0] != key:
            store, name = _record(cache, rel)
            data = store.get(name, key)
            seen = self._seen[path] = (key, data if data is not None else _legacy_entry(legacy, rel, key))
        return seen[1]

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
