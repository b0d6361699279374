"""An experiment's results as a figure, for experiments the paper shows as one (``figure = true`` in the
file: Figure 9, PSNR and SSIM against the number of local pathways): ``OUT/figure.png`` (+ .svg, .pdf),
one panel per metric, one line per dataset over the rows, and the paper's figures as crosses where
the paper prints them."""
from __future__ import annotations

from pathlib import Path

from uhr4k.benchmark.plots import plt, save


def write_figure(result, smoke: bool = False) -> list[Path]:
    """Draw the restoration result's rows (x) against PSNR and SSIM (two panels); returns the files."""
    experiment = result.experiment
    labels = [r.row.label for r in result.rows]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, (index, metric) in zip(axes, enumerate(("PSNR (dB)", "SSIM")), strict=True):
        for d in experiment.datasets:
            ours = [r.scores.get(d.preset, {}).get(("psnr", "ssim")[index]) for r in result.rows]
            xs = [i for i, v in enumerate(ours) if v is not None]
            ax.plot(xs, [ours[i] for i in xs], marker="o", label=f"{d.label} (ours)")
            paper = [(i, r.row.paper[d.preset][index]) for i, r in enumerate(result.rows) if d.preset in r.row.paper]
            if paper:
                ax.plot(*zip(*paper, strict=True), "x", markersize=8, label=f"{d.label} (paper)")
        ax.set_xticks(range(len(labels)), labels, rotation=20)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(experiment.title + (" (smoke run: measures nothing)" if smoke else ""), fontsize=9)
    paths = save(fig, Path(result.out) / "figure")
    plt.close(fig)
    return paths
