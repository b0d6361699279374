"""The paper's published PSNR / SSIM of every restoration experiment, keyed by (model, preset): the figures
the benchmark report shows beside a run that matches one (:mod:`uhr4k.benchmark.paper_figures` matches;
the app layer and :func:`uhr4k.experiments.run.bench_row` hand these figures to the runner).

They are the ``paper.<preset> = [PSNR, SSIM]`` entries of the experiment files' rows, read through
:func:`uhr4k.experiments.spec.load_experiment` like every other part of those files.
"""
from __future__ import annotations

import functools

from uhr4k.benchmark.paper_figures import PaperFigures
from uhr4k.experiments.spec import experiment_names, load_experiment

# the main result tables first: their row of a model is the one to quote when an ablation table repeats it
PREFERRED = ("table7", "table8", "table9")


@functools.lru_cache(maxsize=1)
def paper_figures() -> PaperFigures:
    """``{(model, preset): {"psnr", "ssim", "source"}}`` over every restoration experiment; ``source``
    names the paper's table (``paper Table VIII``)."""
    table: dict[tuple[str, str], dict] = {}
    for name in sorted(experiment_names(), key=lambda n: (n not in PREFERRED, n)):
        experiment = load_experiment(name)
        if experiment.kind != "restoration":
            continue
        source = "paper " + experiment.title.split(":")[0]
        for row in experiment.rows:
            for preset, (psnr, ssim) in row.paper.items():     # [PSNR, SSIM]: checked by parse_experiment
                table.setdefault((row.model, preset), {"psnr": float(psnr), "ssim": float(ssim), "source": source})
    return table
