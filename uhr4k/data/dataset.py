"""The torch ``Dataset`` of pairs: whole images for evaluation, seeded random crops with flips and
rotations for training (read through the crop cache when one exists)."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from uhr4k.core.errors import InputError
from uhr4k.core.images import unit_scale
from uhr4k.data.cache import CachedReader
from uhr4k.data.crops import augment_view, draw_crop, to_tensor
from uhr4k.data.shards import ShardPairs
from uhr4k.data.sources import Pair, read_pair

_UINT8_SCALE = float(unit_scale(np.uint8))   # the float32 factor of uhr4k.core.images.to_float, exactly


def to_transport(img: np.ndarray) -> torch.Tensor:
    """(H, W, 3) view -> what a DataLoader worker sends: 8-bit images as (3, H, W) uint8 (a quarter of
    float32's bytes through the worker's shared memory, which at 960 x 540 costs more than making the
    crop), anything else as :func:`to_tensor`'s float32. :func:`unit_float` finishes the conversion on
    the training device with the same values."""
    if img.dtype != np.uint8:
        return to_tensor(img)
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


def unit_float(batch: torch.Tensor) -> torch.Tensor:
    """A batch of :func:`to_transport` tensors -> float32 in [0, 1], bit-identical to :func:`to_tensor`
    (uint8 times float32(1/255); float32 passes through)."""
    if batch.dtype == torch.uint8:
        # one pass: a float32 0-dim factor makes the product float32 (whatever the default dtype)
        return batch * torch.tensor(_UINT8_SCALE, dtype=torch.float32)
    return batch


def collate_transport(items: list[dict]) -> dict:
    """DataLoader ``collate_fn`` for ``PairedDataset(transport=True)`` items: stacks each key; a batch that
    mixes 8-bit and 16-bit images is made float32 item by item first (stacking would otherwise promote
    the uint8 values 0..255 to floats unscaled)."""
    for key in ("input", "target"):
        if len({item[key].dtype for item in items}) > 1:
            items = [{**item, key: unit_float(item[key])} for item in items]
    # default_collate stacks straight into shared memory inside a worker (a plain stack would be copied
    # there once more when the batch is sent)
    return default_collate(items)


class PairedDataset(Dataset):
    """Pairs as tensors; optionally seeded random crops with flips and 90-degree rotations (training).

    Items are ``{"input": (3, H, W) float32 in [0, 1], "target": same, "id": str}``. With ``crop=(w, h)``
    every item is a (3, h, w) crop; the crop position and augmentation of item ``i`` in epoch ``e`` come
    from ``(seed, e, i)`` only, so they are the same whatever the number of DataLoader workers or the
    DistributedSampler rank that asks for it. Call :meth:`set_epoch` at each epoch to draw new crops.

    Crops read only the needed rows when a cache made by ``uhr4k cache`` is present (see
    :mod:`uhr4k.data.cache`); otherwise the whole image is decoded.

    ``transport=True`` (the training loader): 8-bit images come as uint8 tensors (:func:`to_transport`),
    batched with :func:`collate_transport` and made float on the device with :func:`unit_float`.
    """

    def __init__(self, pairs: list[Pair], crop: tuple[int, int] | None = None, augment: bool = False,
                 seed: int = 0, use_cache: bool = True, transport: bool = False):
        if not pairs:
            raise InputError("empty dataset: no pairs given")
        if crop is not None and (len(crop) != 2 or min(crop) <= 0):
            raise ValueError(f"crop must be (width, height) > 0, got {crop}")
        self.pairs, self.crop, self.augment, self.seed = list(pairs), crop, augment, int(seed)
        self.epoch = 0
        self.convert = to_transport if transport else to_tensor
        self._reader = None
        if use_cache and crop is not None:
            self._reader = CachedReader()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    @staticmethod
    def from_shards(out, subset: str, split: str = "train", crop: tuple[int, int] | None = None,
                    augment: bool = False, seed: int = 0, verify: bool = True, shuffle: bool = False):
        """The same items, streamed from the WebDataset shards ``uhr4k pack`` wrote into ``out`` (no PNG tree):
        a :class:`uhr4k.data.shards.ShardPairs` (an ``IterableDataset``; same crops for the same seed)."""
        return ShardPairs(out, subset, split, crop=crop, augment=augment, seed=seed, verify=verify, shuffle=shuffle)

    def __len__(self) -> int:
        return len(self.pairs)

    def draw(self, index: int, height: int, width: int) -> tuple[int, int, int, int, int, bool, bool]:
        """The crop and augmentation of item ``index`` this epoch for an image of ``height`` x ``width``.

        Returns:
            (top, left, crop_h, crop_w, rot90 k, hflip, vflip); (crop_h, crop_w) is the region read, which is
            transposed for odd k so that the rotated crop is always (h, w) of ``self.crop``.
        """
        return draw_crop(self.seed, self.epoch, index, self.crop, self.augment, height, width,
                         self.pairs[index].input)

    def __getitem__(self, index: int) -> dict:
        pair = self.pairs[index]
        if self.crop is None:
            inp, tgt = read_pair(pair)
        else:
            inp, tgt = self._read_crop(index, pair)
        return {"input": self.convert(inp), "target": self.convert(tgt), "id": pair.id}

    def _read_crop(self, index: int, pair: Pair) -> tuple[np.ndarray, np.ndarray]:
        if self._reader is not None:
            shapes = self._reader.shapes(pair.input, pair.target)
        else:
            shapes = None
        if shapes is None:
            full_in, full_tgt = read_pair(pair)
            height, width = full_in.shape[:2]
        else:
            height, width = shapes
        top, left, ch, cw, k, hflip, vflip = self.draw(index, height, width)
        if shapes is None:
            inp = full_in[top:top + ch, left:left + cw]
            tgt = full_tgt[top:top + ch, left:left + cw]
        else:
            inp = self._reader.crop(pair.input, top, left, ch, cw, copy=False)
            tgt = self._reader.crop(pair.target, top, left, ch, cw, copy=False)
        # views all the way: to_tensor makes the one copy (from the memory map when cached)
        return augment_view(inp, k, hflip, vflip), augment_view(tgt, k, hflip, vflip)


