"""Benchmark plots drawn with matplotlib (Agg, no display), each written as PNG (pages) and SVG + PDF
(papers): runtime against PSNR per model (the paper's Figure 7) and PSNR per image.

Functions take the runner's result rows (lists of dicts, or anything with ``to_dict("records")``) and
return the :class:`matplotlib.figure.Figure` they drew, so tests can read its axes.
"""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")                    # never a GUI backend: bench runs on servers
import matplotlib.pyplot as plt  # noqa: E402 - after the backend is chosen

from uhr4k.benchmark.report import model_label  # noqa: E402
from uhr4k.core.atomic import atomic_path  # noqa: E402

FORMATS = ("png", "svg", "pdf")
LOG_SPAN = 20.0                          # a runtime axis goes logarithmic only past this max/min ratio


def records(rows) -> list[dict]:
    """Rows as a list of dicts: a list as is, a pandas DataFrame through ``to_dict("records")``."""
    return rows.to_dict("records") if hasattr(rows, "to_dict") else list(rows)


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def save(fig, stem: Path) -> list[Path]:
    """``stem``.png (150 dpi), .svg and .pdf; returns the paths. Text stays text in SVG (searchable)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "uhr4k"}):   # reproducible SVG ids
        for fmt in FORMATS:
            path = stem.with_suffix(f".{fmt}")
            with atomic_path(path) as tmp:      # an interrupted run never leaves a cut plot the page links to
                fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight",
                            metadata={"Date": None} if fmt != "png" else None)
            paths.append(path)
    return paths


def runtime_psnr(summary, dataset: str, untrained=(), title: str = ""):
    """Runtime per image (s, x) against PSNR (dB, y), one labelled point per model of ``dataset``.

    The x axis is logarithmic only when the runtimes span more than 20x; a single model or close runtimes
    get a linear axis from 0, so one point is not drawn on a meaningless 6e-05 ... 1.6e-04 axis. Models
    with an infinite or undefined PSNR (identity on a clean set, a failed run) are named under the axes.
    Untrained models are drawn hollow.
    """
    rows = [r for r in records(summary) if r["dataset"] == dataset]
    good = [r for r in rows if _finite(r["runtime_s"]) and r["runtime_s"] > 0 and _finite(r["psnr"])]
    bad = [model_label(r) for r in rows if r not in good]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    protocol = rows[0]["protocol"] if rows else ""
    ax.set_title(title or f"{dataset} ({protocol}): runtime vs PSNR")
    ax.set_xlabel("runtime per image (s)")
    ax.set_ylabel("PSNR (dB)")
    ax.grid(True, alpha=0.3)
    if good:
        times = [r["runtime_s"] for r in good]
        if max(times) / min(times) > LOG_SPAN:
            ax.set_xscale("log")
            ax.set_xlim(min(times) / 2, max(times) * 2)
        else:
            ax.set_xlim(0, max(times) * 1.25)
        for r in good:
            hollow = r["model"] in untrained
            ax.scatter([r["runtime_s"]], [r["psnr"]], s=50, zorder=3, edgecolors="C3",
                       facecolors="none" if hollow else "C3")
            ax.annotate(model_label(r) + (" (untrained)" if hollow else ""), (r["runtime_s"], r["psnr"]),
                        textcoords="offset points", xytext=(6, 6), fontsize=9)
        psnrs = [r["psnr"] for r in good]
        pad = max(0.5, (max(psnrs) - min(psnrs)) * 0.15)
        ax.set_ylim(min(psnrs) - pad, max(psnrs) + pad)
    if bad:
        fig.text(0.01, -0.02, "not plotted (PSNR inf or undefined): " + ", ".join(bad), fontsize=8, color="0.4")
    fig.tight_layout()
    return fig


def psnr_per_image(per_image, dataset: str, untrained=()):
    """PSNR (dB) of every image of ``dataset``, one marker line per model (images in their set's order);
    infinite PSNRs (an output equal to its target) are drawn at the top edge as triangles."""
    rows = [r for r in records(per_image) if r["dataset"] == dataset]
    ids = list(dict.fromkeys(r["id"] for r in rows))
    fig, ax = plt.subplots(figsize=(max(6.4, min(16.0, 0.35 * len(ids) + 3)), 4.0))
    finite = [r["psnr"] for r in rows if _finite(r["psnr"])]
    top = (max(finite) + 2) if finite else 50.0
    for k, model in enumerate(dict.fromkeys(model_label(r) for r in rows)):
        mine = {r["id"]: r["psnr"] for r in rows if model_label(r) == model}
        xs = [i for i, n in enumerate(ids) if n in mine and _finite(mine[n])]
        ax.plot(xs, [mine[ids[i]] for i in xs], marker="o", ms=4, lw=1, color=f"C{k}",
                label=model + (" (untrained)" if model.split(" (")[0] in untrained else ""))
        inf = [i for i, n in enumerate(ids) if n in mine and mine[n] == math.inf]
        if inf:
            ax.scatter(inf, [top] * len(inf), marker="^", color=f"C{k}", zorder=3)
    ax.set_xticks(range(len(ids)))
    ax.set_xticklabels(ids, rotation=60 if len(ids) > 6 else 0, ha="right" if len(ids) > 6 else "center",
                       fontsize=8)
    protocol = rows[0]["protocol"] if rows else ""
    ax.set_title(f"{dataset} ({protocol}): PSNR per image")
    ax.set_ylabel("PSNR (dB)")
    ax.grid(True, alpha=0.3)
    if rows:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def close(fig) -> None:
    plt.close(fig)
