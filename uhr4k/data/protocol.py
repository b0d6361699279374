"""One rule for what a dataset spec names: its folder, its pairs, its display name and its metric protocol.

Every command that reads a dataset (``bench``, ``train``, ``experiment``, the demo, ``split``) goes through
:func:`resolve_dataset` (or its first step, :func:`uhr4k.data.presets.resolve_root`, when it needs the folder
only), so that one folder is scored with one protocol wherever it is used.

The protocol of a dataset, first rule that applies (protocols: docs/paper.md, "Metrics"):

1. a public preset (``rain100h``, ``rain100h=/my/folder``) has its own;
2. a UHR4K root (or a ``uhr4k-*`` preset) takes the preset of the subset read: the one named with
   ``subset``, else the preset's, else the only one present (Syn and Real ``bandwise``, Rain ``y``);
3. a folder named like a preset or one of its folders (``rain100h-sample``, ``Rain100L_test``) takes that
   preset's;
4. otherwise the layout decides, by whole words of the folder name, the input folder and the first input
   file: ``blended``/``transmission`` -> ``bandwise``, ``hazy`` -> ``rgb``, ``rain`` -> ``y``;
5. anything else is scored ``rgb``.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from uhr4k import layout
from uhr4k.data.presets import PRESETS, Preset, resolve_root
from uhr4k.data.sources import Pair, find_pairs

# Rule 4: a word of the layout -> the protocol of the tables that report such data.
LAYOUT_PROTOCOLS = (("blended", "bandwise"), ("transmission", "bandwise"), ("hazy", "rgb"), ("rain", "y"))
DEFAULT_PROTOCOL = "rgb"


@dataclass(frozen=True)
class ResolvedDataset:
    """What a dataset spec names. Unpacks as ``name, pairs, protocol``.

    ``root`` is the folder the spec resolved to, ``preset`` its preset (or None) and ``subset`` the UHR4K
    subset key the pairs come from (or None for a public layout).
    """

    name: str
    pairs: list[Pair]
    protocol: str
    root: Path
    preset: Preset | None = None
    subset: str | None = None

    def __iter__(self):
        return iter((self.name, self.pairs, self.protocol))


def resolve_dataset(spec: str | os.PathLike, subset: str | None = None, split: str = "test") -> ResolvedDataset:
    """The pairs of ``split`` of a dataset spec, with its name and metric protocol (rules of the module).

    Args:
        spec: a folder (any layout :func:`find_pairs` knows), a preset name, or ``preset=PATH``.
        subset: UHR4K subset key or folder name (``syn``, ``UHR4K-Rain``, ...) for a UHR4K root.
        split: ``train``, ``val`` or ``test``. The protocol does not depend on it.

    Raises:
        InputError: the spec names nothing, or its pairs cannot be found (see :func:`find_pairs`).
    """
    root, preset = resolve_root(spec)
    pairs = find_pairs(spec, subset=subset, split=split)
    subset_key = _subset_key(subset, preset, pairs[0])
    if preset is not None:
        name = f"uhr4k-{subset_key}" if preset.subset else preset.name
    elif subset_key:
        name = f"{root.name}-{subset_key}"
    else:
        name = root.name
    return ResolvedDataset(name, pairs, dataset_protocol(root, preset, subset_key, pairs[0]), root, preset,
                           subset_key)


def dataset_protocol(root: Path, preset: Preset | None, subset_key: str | None, first: Pair) -> str:
    """The protocol of rules 1-5 for a dataset at ``root`` whose first pair is ``first``; ``subset_key`` is
    the UHR4K subset read (None for a public layout)."""
    if preset is not None and not preset.subset:
        return preset.protocol
    if subset_key:
        return PRESETS[f"uhr4k-{subset_key}"].protocol
    name = root.name.lower()
    for candidate in PRESETS.values():
        if name.startswith(candidate.name) or any(name.startswith(f.lower()) for f in candidate.folders):
            return candidate.protocol
    where = f"{name} {first.input.parent.name} {first.input.stem}".lower()
    # whole words only: "train" must not read as "rain"
    return next((p for word, p in LAYOUT_PROTOCOLS if re.search(rf"(^|[^a-z]){word}", where)), DEFAULT_PROTOCOL)


def _subset_key(subset: str | None, preset: Preset | None, first: Pair) -> str | None:
    """The UHR4K subset the pairs come from: named, the preset's, or found in the pair's path."""
    if preset is not None and not preset.subset:
        return None                 # a public preset: its layout has no UHR4K subsets
    if subset:
        return layout.subset(subset).key
    if preset is not None:
        return preset.subset
    names = {s.name: s.key for s in layout.SUBSETS.values()}
    return next((names[part] for part in first.input.parts if part in names), None)
