"""``uhr4k demo`` from Python: the whole pipeline end to end on built-in material, with report.html."""
from __future__ import annotations

import os
from pathlib import Path

from uhr4k.demo.run import DemoOptions, run_demo


def demo(out: str | os.PathLike = "demo-out", *, echo=None, **options) -> Path:
    """Build, align, train and benchmark on photographs bundled with scikit-image into ``out``; returns
    the path of ``out/report.html``. A rerun after an interruption reuses the finished steps.

    Args:
        echo: called with each progress line (None: silent).
        options: the other fields of :class:`uhr4k.demo.run.DemoOptions` (size, seed, workers,
            train_minutes, ...).
    """
    return run_demo(DemoOptions(out=Path(out), **options), echo=echo or (lambda line: None))
