"""The Python entry points of the dataset jobs; the command line is a thin layer over them.

Each function does one job of the package, fills in the defaults that make the jobs chain (one dataset
home, ``$UHR4K_DATA``, default ``./data``: build-syn and align write into ``$UHR4K_DATA/UHR4K``, train
reads the subset its model's task implies and writes ``runs/NAME``, bench finds every dataset there and
the weights of ``runs/NAME/best.pt``) and returns data (summaries, DataFrames, modules); none prints.

    import uhr4k
    uhr4k.build_syn("videos/", count=8, size=(960, 540), license="cc-by-4.0", sources={"videos": "CC0-1.0"})
    uhr4k.align_pairs("raw_pairs/")
    result = uhr4k.bench(["identity", "glsgn"])
    result.per_image_frame().plot.bar(x="id", y="psnr")

(``uhr4k.align`` is the alignment subpackage, so its entry point is called ``align_pairs``.)

Every job that makes a dataset writes its card (``README.md``, :mod:`uhr4k.layout.card`) itself, so a
notebook's dataset has the same card as the command line's. ``license`` and ``sources`` declare what the
card says (kept from the root's card when not given); ``command`` is what it records as the command that
made the data: the command line passes its own, a Python call records itself
(:func:`uhr4k.app.provenance.python_call`), e.g. ``uhr4k.build_syn(frames='videos/', count=8, ...)``.
``split_dataset`` and ``build_cache`` are the library's own (:mod:`uhr4k.data.splits`, :mod:`uhr4k.data.cache`).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from uhr4k.align.gates import GateSettings
from uhr4k.align.pair import AlignSettings
from uhr4k.align.pipeline import AlignSummary, align_dataset
from uhr4k.app.provenance import python_call, source_list
from uhr4k.core.errors import InputError
from uhr4k.data import pack as packing
from uhr4k.data import presets
from uhr4k.data.cache import build_cache
from uhr4k.data.splits import split_dataset
from uhr4k.synth import merge
from uhr4k.synth.pipeline import BuildOptions, BuildSummary
from uhr4k.synth.pipeline import build_syn as run_build

__all__ = ["align_pairs", "build_cache", "build_syn", "merge_shards", "pack", "split_dataset"]

# BuildOptions fields that are build_syn's own arguments (the rest are its **options)
_BUILD_PATHS = ("frames", "out", "reflections")


def build_syn(frames: str | os.PathLike, out: str | os.PathLike | None = None, *,
              reflections: str | os.PathLike | None = None, progress: bool = False,
              license: str | None = None, sources=(), command: str | None = None,  # noqa: A002
              **options) -> BuildSummary:
    """Build UHR4K-Syn and UHR4K-Rain from the videos and images of ``frames``, and the root's card.

    Args:
        out: dataset root (default :func:`uhr4k.data.presets.default_root`).
        reflections: folder of reflection photos; default ``$UHR4K_DATA/DIV2K_train_HR`` (or ``DIV2K``)
            when it exists, else frames of other scenes (the summary says so).
        license, sources: the card's declarations (``sources``: ``{name: licence}`` or the card's list).
        command: the card's command (default: this call, see the module docstring).
        options: the other fields of :class:`uhr4k.synth.pipeline.BuildOptions` (count, size, test, val,
            seed, workers, shard, subsets, reflection_model, allow_upscale).
    Returns:
        :class:`uhr4k.synth.pipeline.BuildSummary`; ``summary.root`` is where it wrote.
    """
    given = {"frames": frames, "out": out, "reflections": reflections}
    if reflections is None:
        reflections = presets.default_reflections()
    elif not Path(reflections).is_dir():
        raise InputError("not a folder", reflections)
    root = Path(out) if out is not None else presets.default_root()
    opts = BuildOptions(frames=Path(frames), out=root, reflections=None if reflections is None else Path(reflections),
                        **options)
    sources = source_list(sources)
    if command is None:
        settings = {f.name: getattr(opts, f.name) for f in dataclasses.fields(opts) if f.name not in _BUILD_PATHS}
        command = python_call("uhr4k.build_syn", {**given, **settings, "progress": progress, "license": license,
                                                  "sources": sources})
    return run_build(opts, progress=progress, card={"license": license, "sources": sources, "command": command})


def align_pairs(raw_dir: str | os.PathLike, out: str | os.PathLike | None = None, *, test: int = 20,
                val: int = 20, seed: int = 0, workers: int = 1, method: str = AlignSettings.method,
                refine: str = AlignSettings.refine, size: tuple[int, int] | None = None,
                min_inliers: int = GateSettings.min_inliers, max_rmse: float = GateSettings.max_rmse,
                settings: AlignSettings | None = None, license: str | None = None, sources=(),  # noqa: A002
                command: str | None = None) -> AlignSummary:
    """Register the glass / no-glass photo pairs of ``raw_dir`` into ``OUT/UHR4K-Real``, and the root's card.

    Args:
        out: dataset root (default :func:`uhr4k.data.presets.default_root`, beside build-syn's subsets).
        test, val: pairs of the test and validation splits (whole scenes).
        seed: seeds the estimation and the split.
        method, refine, size, min_inliers, max_rmse: the alignment settings of ``uhr4k align`` (homography
            estimate ``ours`` or ``paper``, ``none`` or ``ecc``, centred crop ``(w, h)`` in px, fewest
            feature inliers, residual in px above which a pair is flagged).
        settings: every alignment setting at once, instead of method ... max_rmse.
        license, sources, command: the card's, as :func:`build_syn`.
    Returns:
        :class:`uhr4k.align.pipeline.AlignSummary`.
    """
    given = {"raw_dir": raw_dir, "out": out, "test": test, "val": val, "seed": seed, "workers": workers}
    if settings is None:
        given.update(method=method, refine=refine, size=size, min_inliers=min_inliers, max_rmse=max_rmse)
        gates = dataclasses.replace(GateSettings(), min_inliers=min_inliers, max_rmse=max_rmse)
        settings = AlignSettings(gates=gates, refine=refine, method=method, size=size, seed=seed)
    else:
        given["settings"] = settings
    sources = source_list(sources)
    if command is None:
        command = python_call("uhr4k.align_pairs", {**given, "license": license, "sources": sources})
    root = Path(out) if out is not None else presets.default_root()
    return align_dataset(raw_dir, root, test=test, val=val, seed=seed, workers=workers, settings=settings,
                         card={"license": license, "sources": sources, "command": command})


def merge_shards(shards, out: str | os.PathLike, *, command: str | None = None) -> merge.MergeSummary:
    """Merge the roots of ``build_syn(..., shard=(i, n))`` runs into ``out``, byte-identical to one run;
    the card keeps the shards' declarations and commands (see :func:`uhr4k.synth.merge.merge_shards`)."""
    shards = list(shards)
    if command is None:
        command = python_call("uhr4k.app.pipelines.merge_shards", {"shards": shards, "out": out})
    return merge.merge_shards(shards, out, card={"command": command})


def pack(root: str | os.PathLike, out: str | os.PathLike, fmt: str = "webdataset", *, subsets=(), splits=(),
         shard_bytes: int = packing.DEFAULT_SHARD_BYTES, progress: bool = False, license: str | None = None,  # noqa: A002
         sources=(), command: str | None = None) -> packing.PackResult:
    """Pack the UHR4K root ``root`` into ``out`` as WebDataset shards or a Hugging Face folder, with its
    card (see :func:`uhr4k.data.pack.pack`); ``license``, ``sources``, ``command`` as :func:`build_syn`
    (the root's declarations are kept)."""
    sources = source_list(sources)
    if command is None:
        command = python_call("uhr4k.app.pipelines.pack", {
            "root": root, "out": out, "fmt": fmt, "subsets": subsets, "splits": splits, "shard_bytes": shard_bytes,
            "progress": progress, "license": license, "sources": sources})
    return packing.pack(root, out, fmt, subsets=subsets, splits=splits, shard_bytes=shard_bytes, progress=progress,
                        card={"license": license, "sources": sources, "command": command})
