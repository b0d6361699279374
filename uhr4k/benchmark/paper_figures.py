"""The paper's published PSNR / SSIM, for the benchmark report to show beside a run that matches one.

The numbers live in the experiment files (``uhr4k/experiments/table*.toml``: each ``[[rows]]`` entry's
``model`` and ``paper.<preset> = [PSNR, SSIM]``), read here as data: the benchmark package never imports
the experiments' code. A run matches a published figure when its model is the registry name of a row
(``glsgn@runs/x.pt`` and ``glsgn (bf16)`` count as ``glsgn``) and its dataset is the preset of one of
that table's columns, scored under the preset's protocol (the one the paper's tables use). A tiny or
home-made UHR4K root is not the paper's test set and matches nothing.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
# the main result tables first: their row of a model is the one to quote when an ablation table repeats it
PREFERRED = ("table7", "table8", "table9")


def _toml():
    if sys.version_info >= (3, 11):
        import tomllib
        return tomllib
    try:  # pragma: no cover - Python 3.10
        import tomli
        return tomli
    except ModuleNotFoundError:  # pragma: no cover
        return None


@functools.lru_cache(maxsize=1)
def published_table() -> dict[tuple[str, str], dict]:
    """``{(model, preset): {"psnr", "ssim", "source"}}`` over every restoration experiment file."""
    toml = _toml()
    files = sorted(EXPERIMENTS.glob("*.toml"), key=lambda p: (p.stem not in PREFERRED, p.stem))
    table: dict[tuple[str, str], dict] = {}
    if toml is None:
        return table
    for path in files:
        spec = toml.loads(path.read_text(encoding="utf-8"))
        if spec.get("kind") != "restoration":
            continue
        source = "paper " + spec.get("title", path.stem).split(":")[0]
        for row in spec.get("rows", []):
            for preset, values in (row.get("paper") or {}).items():
                if isinstance(values, list) and len(values) == 2:
                    table.setdefault((row["model"], preset),
                                     {"psnr": float(values[0]), "ssim": float(values[1]), "source": source})
    return table


def method(model: str) -> str:
    """A bench label -> the registry name it runs: ``glsgn@runs/x.pt`` and ``glsgn (bf16)`` -> glsgn."""
    return model.split("@", 1)[0].split(" (", 1)[0].strip().lower()


def published(model: str, dataset: str, protocol: str) -> dict | None:
    """``{"psnr", "ssim", "source"}`` the paper reports for ``model`` on preset ``dataset``, or None."""
    from uhr4k.data import PRESETS

    preset = PRESETS.get(dataset)
    if preset is None or preset.protocol != protocol:
        return None
    return published_table().get((method(model), dataset))
