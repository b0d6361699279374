"""A crop-friendly cache of a dataset: every image decoded once into a raw ``.npy`` array.

A 960 x 540 training crop from a 3840 x 2160 PNG costs a whole 4K decode (about 8 MP of zlib and
unfiltering) for 0.5 MP of pixels. ``uhr4k cache ROOT`` decodes each image once into
``ROOT/.uhr4k-cache/<relative path>.npy``; a crop is then a memory-mapped read of the rows it covers
(``benchmarks/bench_loader.py`` measures the gain). Uncompressed arrays cost disk: W x H x 3 bytes per
8-bit image (24.9 MB at 4K), about twice a 4K PNG.

``index.json`` records, per source file, its size and modification time when it was cached: a source
that changed since is read from the PNG again (never a stale crop), and a rerun redoes only such files.
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from uhr4k.errors import InputError
from uhr4k.files import atomic_path, list_media, read_image, write_text_atomic

CACHE_DIR = ".uhr4k-cache"
INDEX_NAME = "index.json"
# Folders whose images training never crops: the third layer of a UHR4K pair and alignment QA.
SKIPPED_FOLDERS = {"reflection", "streaks", "mask", "qa", CACHE_DIR}


@dataclass
class CacheSummary:
    root: Path
    written: int = 0
    kept: int = 0
    failed: list[str] = field(default_factory=list)   # "path: reason" lines
    bytes: int = 0

    def lines(self) -> list[str]:
        out = [f"cache {self.root / CACHE_DIR}: {self.written} written, {self.kept} up to date, "
               f"{len(self.failed)} failed, {self.bytes / 1e9:.2f} GB"]
        return out + [f"failed: {f}" for f in self.failed]


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _cache_one(src: Path, dst: Path) -> tuple[list[int], str]:
    img = read_image(src)
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

    An unreadable image is recorded in ``summary.failed`` and the run goes on.
    """
    root = Path(root)
    images = cacheable_images(root)
    cache = root / CACHE_DIR
    index_path = cache / INDEX_NAME
    index = _read_index(index_path)
    summary = CacheSummary(root)
    todo = []
    for src in images:
        rel = src.relative_to(root).as_posix()
        entry = index.get(rel)
        dst = cache / (rel + ".npy")
        if entry and dst.is_file() and {k: entry[k] for k in ("size", "mtime_ns")} == _stamp(src):
            summary.kept += 1
            summary.bytes += dst.stat().st_size
        else:
            index.pop(rel, None)
            todo.append((src, dst, rel))
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        jobs = [(rel, src, dst, pool.submit(_cache_one, src, dst) if pool else None) for src, dst, rel in todo]
        for n, (rel, src, dst, job) in enumerate(tqdm(jobs, desc="cache", unit="img", disable=not jobs), 1):
            try:
                shape, dtype = job.result() if job else _cache_one(src, dst)
            except InputError as exc:
                summary.failed.append(str(exc))
                continue
            index[rel] = {**_stamp(src), "shape": shape, "dtype": dtype}
            summary.written += 1
            summary.bytes += dst.stat().st_size
            if n % 50 == 0:               # an interrupted run keeps what it finished
                write_text_atomic(index_path, json.dumps(index, sort_keys=True, indent=0))
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
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
        try:
            fresh = entry is not None and {k: entry[k] for k in ("size", "mtime_ns")} == _stamp(path)
        except OSError:
            return None
        return (npy, entry) if fresh and npy.is_file() else None

    def shapes(self, input_path: Path, target_path: Path) -> tuple[int, int] | None:
        """(H, W) when both images are cached with the same shape; None sends the caller to the PNGs."""
        a, b = self.entry(input_path), self.entry(target_path)
        if a is None or b is None or a[1]["shape"] != b[1]["shape"]:
            return None
        return int(a[1]["shape"][0]), int(a[1]["shape"][1])

    def crop(self, path: Path, top: int, left: int, height: int, width: int) -> np.ndarray:
        """The (height, width, 3) region at (top, left) of a cached image, read through a memory map."""
        npy, _ = self.entry(path)
        array = np.load(npy, mmap_mode="r")
        return np.array(array[top:top + height, left:left + width])
