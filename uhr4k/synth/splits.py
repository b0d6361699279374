"""Scene-disjoint train / val / test splits for the synthetic subsets.

Whole scenes go to test, then to validation, until each reaches its number of pairs (the paper: 50 test,
20 validation, the rest training). With few scenes the held-out splits are capped at a third of the
scenes each so that training keeps at least one scene; a message says when that shrinks a split.
"""
from __future__ import annotations

import hashlib


def assign_splits(scene_counts: dict[str, int], test: int, val: int, seed: int) -> tuple[dict[str, str], list[str]]:
    """Map each scene to ``"train"``, ``"val"`` or ``"test"``.

    Args:
        scene_counts: number of pairs of each scene.
        test, val: wanted numbers of pairs in test and validation (0 disables the split).
        seed: scenes are taken in an order shuffled by ``(seed, scene)``, independent of dict order.

    Returns:
        (scene -> split, messages explaining any split smaller than asked).
    """
    if test < 0 or val < 0:
        raise ValueError(f"--test and --val must be >= 0, got {test}, {val}")
    order = sorted(scene_counts, key=lambda s: hashlib.sha256(f"{seed}/split/{s}".encode()).hexdigest())
    n = len(order)
    cap = n // 3 if n >= 3 else (1 if n == 2 else 0)  # scenes per held-out split, leaving >= 1 for training
    splits = {s: "train" for s in order}
    messages = []
    pos = 0
    for name, wanted, limit in (("test", test, cap), ("val", val, cap if n >= 3 else 0)):
        got = taken = 0
        while wanted and got < wanted and taken < limit and pos < n:
            splits[order[pos]] = name
            got += scene_counts[order[pos]]
            taken += 1
            pos += 1
        if wanted and got < wanted:
            messages.append(f"{name} split: {got} pairs from {taken} scene(s) instead of {wanted} "
                            f"(only {n} scene(s); held-out splits take at most {limit} each)")
    return splits, messages
