"""The paper's published PSNR / SSIM beside a benchmark run that matches one, for the report.

The figures are data handed in, ``{(model, preset): {"psnr", "ssim", "source"}}``
(:data:`PaperFigures`): the app layer and the experiments pass those of the experiment files
(:func:`uhr4k.experiments.published.paper_figures`); the benchmark package reads no experiment file. A
run matches a published figure when its model is the registry name of a row (``glsgn@runs/x.pt`` and
``glsgn (bf16)`` count as ``glsgn``) and its dataset is the preset of one of that table's columns, scored
under the preset's protocol (the one the paper's tables use). A tiny or home-made UHR4K root is not the
paper's test set and matches nothing.
"""
from __future__ import annotations

from collections.abc import Mapping

from uhr4k.data import PRESETS

# (registry name, preset) -> {"psnr", "ssim", "source"}: what the paper reports, and in which table
PaperFigures = Mapping[tuple[str, str], dict]


def method(model: str) -> str:
    """A bench label -> the registry name it runs: ``glsgn@runs/x.pt`` and ``glsgn (bf16)`` -> glsgn."""
    return model.split("@", 1)[0].split(" (", 1)[0].strip().lower()


def published(model: str, dataset: str, protocol: str, figures: PaperFigures) -> dict | None:
    """``{"psnr", "ssim", "source"}`` that ``figures`` hold for ``model`` on preset ``dataset``, or None
    (another protocol than the preset's, or a dataset that is no preset)."""
    preset = PRESETS.get(dataset)
    if preset is None or preset.protocol != protocol:
        return None
    return figures.get((method(model), dataset))
