"""The Python entry points a notebook needs; the command line is a thin layer over them.

Each function does one job of the package, fills in the defaults that make the jobs chain (one dataset
home, ``$UHR4K_DATA``, default ``./data``: build-syn and align write into ``$UHR4K_DATA/UHR4K``, train
reads the subset its model's task implies and writes ``runs/NAME``, bench finds every dataset there and
the weights of ``runs/NAME/best.pt``) and returns data (summaries, DataFrames, modules); none prints.

    import uhr4k
    uhr4k.build_syn("videos/", count=8, size=(960, 540))
    uhr4k.align_pairs("raw_pairs/")
    result = uhr4k.bench(["identity", "glsgn"])
    result.per_image_frame().plot.bar(x="id", y="psnr")

(``uhr4k.align`` is the alignment subpackage, so its entry point is called ``align_pairs``.)
"""
from __future__ import annotations

import os
from pathlib import Path

from uhr4k.core.errors import InputError
from uhr4k.data import presets


def build_syn(frames: str | os.PathLike, out: str | os.PathLike | None = None, *,
              reflections: str | os.PathLike | None = None, progress: bool = False, **options):
    """Build UHR4K-Syn and UHR4K-Rain from the videos and images of ``frames``.

    Args:
        out: dataset root (default :func:`uhr4k.data.presets.default_root`).
        reflections: folder of reflection photos; default ``$UHR4K_DATA/DIV2K_train_HR`` (or ``DIV2K``)
            when it exists, else frames of other scenes (the summary says so).
        options: the other fields of :class:`uhr4k.synth.pipeline.BuildOptions` (count, size, test, val,
            seed, workers, shard, subsets, reflection_model, allow_upscale).
    Returns:
        :class:`uhr4k.synth.pipeline.BuildSummary`; ``summary.root`` is where it wrote.
    """
    from uhr4k.synth.pipeline import BuildOptions
    from uhr4k.synth.pipeline import build_syn as run_build

    if reflections is None:
        reflections = presets.default_reflections()
    elif not Path(reflections).is_dir():
        raise InputError("not a folder", reflections)
    out = Path(out) if out is not None else presets.default_root()
    opts = BuildOptions(frames=Path(frames), out=out, reflections=None if reflections is None else Path(reflections),
                        **options)
    return run_build(opts, progress=progress)


def align_pairs(raw_dir: str | os.PathLike, out: str | os.PathLike | None = None, **options):
    """Register the glass / no-glass photo pairs of ``raw_dir`` into ``OUT/UHR4K-Real``.

    Args:
        out: dataset root (default :func:`uhr4k.data.presets.default_root`, beside build-syn's subsets).
        options: keyword arguments of :func:`uhr4k.align.pipeline.align_dataset` (test, val, seed,
            workers, settings).
    Returns:
        :class:`uhr4k.align.pipeline.AlignSummary`.
    """
    from uhr4k.align.pipeline import align_dataset

    out = Path(out) if out is not None else presets.default_root()
    return align_dataset(raw_dir, out, **options)


