"""The scene-split policy every pipeline uses (build-syn, align, split): whole scenes to train, val and test,
in an order shuffled by ``(seed, scene name)``, so a frame's split never depends on which other frames exist.
"""
from __future__ import annotations

from uhr4k.core.errors import InputError
from uhr4k.core.seeds import shuffle_key


def assign_scene_splits(scene_sizes: dict[str, int], test: int, val: int, seed: int
                        ) -> tuple[dict[str, str], list[str]]:
    """Map each scene to ``"train"``, ``"val"`` or ``"test"``, whole scenes only.

    Scenes are visited in an order shuffled by ``(seed, scene name)`` (independent of dict order and of
    the other scenes). Test is filled first, then validation. A split reaches its count exactly whenever
    some set of the remaining scenes sums to it (a scene is taken when the later ones can still complete
    the sum, so the earliest scenes of the shuffled order are preferred); when none does, the scenes that
    fit are taken in order, then the one that brings the split closest to its count if that is closer
    than stopping (or if the split is still empty: a split asked for gets a scene), and a message says
    by how many pairs the split differs. With few scenes each held-out split takes at most a third of them (one of
    two; none of one), so training always keeps a scene.

    Args:
        scene_sizes: pairs per scene.
        test, val: wanted numbers of pairs (0 disables the split).
        seed: the draw's seed.
    Returns:
        (scene -> split, messages explaining every split whose count differs from the one asked).
    """
    if test < 0 or val < 0:
        raise InputError(f"--test and --val must be >= 0, got {test} and {val}")
    order = sorted(scene_sizes, key=lambda s: shuffle_key(seed, "split", s))
    n = len(order)
    cap = n // 3 if n >= 3 else (1 if n == 2 else 0)  # scenes per held-out split, leaving >= 1 to train
    splits = {s: "train" for s in order}
    messages = []
    for name, wanted, limit in (("test", test, cap), ("val", val, cap if n >= 3 else 0)):
        got, taken = _fill(order, scene_sizes, splits, name, wanted, limit)
        if not wanted or got == wanted:
            continue
        if taken >= limit and got < wanted:
            messages.append(f"{name} split: {got} pairs from {taken} scene(s) instead of {wanted} "
                            f"(only {n} scene(s); held-out splits take at most {limit} each)")
        else:
            messages.append(f"{name} split: {got} pairs instead of {wanted} ({got - wanted:+d}: whole scenes "
                            f"only, {taken} scene(s))")
    return splits, messages


def _fill(order: list[str], sizes: dict[str, int], splits: dict[str, str], name: str, wanted: int,
          limit: int) -> tuple[int, int]:
    """Move scenes of ``order`` from train to ``name`` (see :func:`assign_scene_splits`): (pairs, scenes)."""
    free = [s for s in order if splits[s] == "train"]
    exact = _exact_subset(free[:-1] if len(free) > 1 else [], sizes, wanted)  # never the last training scene
    if exact is not None and len(exact) <= limit:
        for scene in exact:
            splits[scene] = name
        return wanted, len(exact)
    got = taken = 0
    for scene in order:
        if got == wanted or taken >= limit:
            break
        if splits[scene] == "train" and got + sizes[scene] <= wanted:
            splits[scene] = name
            got += sizes[scene]
            taken += 1
    if got < wanted and taken < limit:
        rest = [s for s in order if splits[s] == "train"]
        if len(rest) > 1:  # never the last training scene
            best = min(rest, key=lambda s: abs(got + sizes[s] - wanted))  # first in order among equals
            if got == 0 or abs(got + sizes[best] - wanted) < wanted - got:  # a split asked for is never empty
                splits[best] = name
                got += sizes[best]
                taken += 1
    return got, taken



def _exact_subset(scenes: list[str], sizes: dict[str, int], wanted: int) -> list[str] | None:
    """Scenes summing to exactly ``wanted`` pairs, each taken when the rest can still complete the sum
    (so the earliest scenes of the shuffled order are preferred), or None when no subset sums to it.

    ``reach[k]`` is a bit set: bit ``t`` is 1 when scenes ``k..`` can sum to ``t`` (``t <= wanted``)."""
    mask = (1 << (wanted + 1)) - 1
    reach = [0] * (len(scenes) + 1)
    reach[-1] = 1
    for k in range(len(scenes) - 1, -1, -1):
        reach[k] = (reach[k + 1] | (reach[k + 1] << sizes[scenes[k]])) & mask
    if not (reach[0] >> wanted) & 1:
        return None
    chosen, rest = [], wanted
    for k, scene in enumerate(scenes):
        if rest == 0:
            break
        size = sizes[scene]
        if size <= rest and (reach[k + 1] >> (rest - size)) & 1:
            chosen.append(scene)
            rest -= size
    return chosen

