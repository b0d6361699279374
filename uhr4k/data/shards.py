"""Training straight from WebDataset shards (``uhr4k pack --format webdataset``): no PNG tree needed.

:class:`ShardPairs` streams the shards of one subset and split and yields what :class:`PairedDataset`
yields for the same pairs: ``{"input", "target", "id"}``, whole images or the same seeded crops (a crop
depends on ``(seed, epoch, index)`` and the image size only; ``index`` travels in each sample's JSON).
Shards are dealt to DataLoader workers and DDP ranks round-robin (shard ``k`` goes to stream
``k mod (workers x ranks)``), so every sample is read exactly once per epoch when there are at least as
many shards as streams; each shard's SHA-256 is checked against ``index.json`` as it is read. With
``shuffle=True`` the shard order is permuted per epoch (the same permutation on every stream, so the deal
stays disjoint) and samples pass through a small shuffle buffer; both draws come from ``(seed, epoch)``,
so a rerun sees the same order.
"""
from __future__ import annotations

import hashlib
import json
import os
import tarfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from uhr4k import layout
from uhr4k.core import seeds
from uhr4k.core.errors import InputError
from uhr4k.core.images import decode_image
from uhr4k.core.paths import inside
from uhr4k.data.crops import augment_view, draw_crop, to_tensor


def decode_png(data: bytes, name: str) -> np.ndarray:
    """PNG bytes -> (H, W, 3) RGB uint8 / uint16: :func:`uhr4k.core.images.decode_image` (the truncation check,
    libpng's messages kept off the terminal, one-line errors naming ``name``)."""
    return decode_image(np.frombuffer(data, np.uint8), Path(name))


class _HashingReader:
    """A file object that hashes what passes through it (tar streams read sequentially)."""

    def __init__(self, f):
        self.f, self.digest = f, hashlib.sha256()

    def read(self, n=-1):
        data = self.f.read(n)
        self.digest.update(data)
        return data


def iter_shard(path: Path, expected_sha256: str | None = None):
    """Samples of one tar shard as ``(key, {extension: bytes})``, in stored order.

    Raises:
        InputError: the shard's SHA-256 differs from ``expected_sha256`` (checked once it is read through).
    """
    try:
        with open(path, "rb") as f:
            reader = _HashingReader(f)
            key, members = None, {}
            with tarfile.open(fileobj=reader, mode="r|") as tar:
                for info in tar:
                    if not info.isfile():
                        continue
                    stem, _, ext = info.name.partition(".")
                    if stem != key and members:
                        yield key, members
                        members = {}
                    key = stem
                    members[ext] = tar.extractfile(info).read()
            if members:
                yield key, members
            while reader.read(1 << 20):          # the zero blocks after the last member are part of the file
                pass
    except FileNotFoundError:
        raise InputError("shard listed in index.json is missing", path) from None
    except (tarfile.TarError, EOFError) as exc:
        raise InputError(f"truncated or corrupt shard ({exc})", path) from None
    if expected_sha256 and reader.digest.hexdigest() != expected_sha256:
        raise InputError("shard checksum differs from index.json (corrupt or changed)", path)


class ShardPairs(IterableDataset):
    """Pairs streamed from the WebDataset shards of one subset and split.

    Args:
        out: the folder ``uhr4k pack --format webdataset`` wrote (holds ``index.json``).
        subset: ``syn``, ``rain``, ``real`` (or the folder name).
        split: ``train``, ``val`` or ``test``.
        crop, augment, seed: as :class:`PairedDataset` (``crop`` is (width, height)).
        verify: check each shard's SHA-256 against ``index.json`` while streaming it.
        shuffle: permute the shards per epoch and shuffle samples through a buffer of ``buffer`` samples.
    """

    def __init__(self, out: str | os.PathLike, subset: str, split: str = "train",
                 crop: tuple[int, int] | None = None, augment: bool = False, seed: int = 0, verify: bool = True,
                 shuffle: bool = False, buffer: int = 16):
        self.out = Path(out)
        index_path = self.out / "index.json"
        try:
            index = json.loads(index_path.read_text())
        except FileNotFoundError:
            raise InputError("no index.json (not a folder written by uhr4k pack --format webdataset)",
                             self.out) from None
        except (OSError, ValueError) as exc:
            raise InputError(f"unreadable index.json ({exc})", index_path) from None
        name = layout.subset(subset).name
        try:
            self.shards = [s for s in index["shards"] if s["subset"] == name and s["split"] == split]
            self.length = int(index["samples"].get(f"{name}/{split}", 0))
            for shard in self.shards:        # a shared index must not point outside its folder
                shard["path"] = str(inside(self.out, shard["path"], str(index_path)).relative_to(
                    self.out.resolve()))
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise InputError(f"damaged index.json ({type(exc).__name__}: {exc})", index_path) from None
        if not self.shards:
            raise InputError(f"no shards of {name} {split}", index_path)
        if crop is not None and (len(crop) != 2 or min(crop) <= 0):
            raise ValueError(f"crop must be (width, height) > 0, got {crop}")
        self.crop, self.augment, self.seed, self.verify = crop, augment, int(seed), verify
        self.shuffle, self.buffer = shuffle, max(1, int(buffer))
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def _stream(self) -> tuple[int, int]:
        """(this stream's number, number of streams) over DataLoader workers x DDP ranks."""
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        rank, world = 0, 1
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
        return rank * workers + worker, world * workers

    def __iter__(self):
        stream, streams = self._stream()
        shards = list(self.shards)
        if self.shuffle:
            order = seeds.rng(self.seed, self.epoch).permutation(len(shards))
            shards = [shards[i] for i in order]
        samples = self._samples(shards[stream::streams])
        if not self.shuffle:
            yield from samples
            return
        rng, pool = seeds.rng(self.seed, self.epoch, stream), []
        for sample in samples:
            pool.append(sample)
            if len(pool) >= self.buffer:
                yield pool.pop(int(rng.integers(len(pool))))
        while pool:
            yield pool.pop(int(rng.integers(len(pool))))

    def _samples(self, shards):
        for shard in shards:
            path = self.out / shard["path"]
            for key, members in iter_shard(path, shard["sha256"] if self.verify else None):
                yield self._item(key, members, path)

    def _item(self, key: str, members: dict, path: Path) -> dict:
        missing = [m for m in ("json", "input.png", "target.png") if m not in members]
        if missing:
            raise InputError(f"sample {key} lacks {', '.join(missing)}", path)
        record = json.loads(members["json"])
        inp = decode_png(members["input.png"], f"{path}:{key}.input.png")
        tgt = decode_png(members["target.png"], f"{path}:{key}.target.png")
        if self.crop is not None:
            height, width = inp.shape[:2]
            top, left, ch, cw, k, hflip, vflip = draw_crop(self.seed, self.epoch, int(record["index"]), self.crop,
                                                           self.augment, height, width, f"{path}:{key}")
            inp = augment_view(inp[top:top + ch, left:left + cw], k, hflip, vflip)
            tgt = augment_view(tgt[top:top + ch, left:left + cw], k, hflip, vflip)
        return {"input": to_tensor(inp), "target": to_tensor(tgt), "id": record["id"]}
