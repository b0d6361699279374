"""Seeds: every random draw of uhr4k is a function of ``(seed, part, ...)`` only, never of the order of
processing, the worker, the rank or the machine. The one way to make one:

* :func:`derive_seed`: a 63-bit integer of ``seed`` and any parts (subset names, sample ids), for a seed
  that is recorded (manifest rows, build-syn's records) or split further;
* :func:`rng`: a numpy ``Generator`` of ``seed`` and integer parts (epoch, index, stream), for draws made on
  the spot (training crops, shard shuffles, the demo's material);
* :func:`shuffle_key`: a sort key that shuffles names by ``(seed, part, ...)`` (the scene splits).

``derive_seed`` and ``shuffle_key`` hash the same text, ``"/".join(seed, *parts)``; ``rng`` feeds the numbers
to numpy's ``SeedSequence`` as they are. Each formula is the one the datasets already built were drawn with:
changing one would change the bytes of every build-syn, align and pack output and the crops a training run
sees (``tests/core/test_keys_and_seeds.py`` pins their values).
"""
from __future__ import annotations

import hashlib

import numpy as np


def shuffle_key(seed: int, *parts: object) -> str:
    """SHA-256 (64 hex digits) of the text ``"seed/part/..."``: sorting names by it shuffles them by seed,
    each name's place independent of the others (``uhr4k.layout.scene_splits``)."""
    return hashlib.sha256("/".join(str(p) for p in (seed, *parts)).encode()).hexdigest()


def derive_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed from ``seed`` and ``parts`` only: the first 8 bytes of :func:`shuffle_key`'s hash,
    big-endian, shifted right by one (a non-negative int64)."""
    return int(shuffle_key(seed, *parts)[:16], 16) >> 1


def rng(seed: int, *parts: int) -> np.random.Generator:
    """numpy's default generator (PCG64) seeded by ``SeedSequence([seed, *parts])``: non-negative integers
    only (for text parts, seed with :func:`derive_seed` first). ``rng(s)`` draws what
    ``np.random.default_rng(s)`` draws."""
    return np.random.default_rng([seed, *parts])
