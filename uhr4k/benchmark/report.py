"""What a benchmark run leaves for people to read: CSV and Markdown tables and comparison grids (plots are
in :mod:`uhr4k.benchmark.plots`, the page in :mod:`uhr4k.benchmark.html_report`).

Everything is written atomically. Images are (H, W, 3) uint8 RGB arrays.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from uhr4k.benchmark.paper_figures import PaperFigures, published
from uhr4k.core.tables import format_number, markdown_table

# ``precision`` (fp32, bf16, fp16: uhr4k.core.speed) keeps reduced-precision scores apart from fp32 ones.
SUMMARY_COLUMNS = ("model", "dataset", "protocol", "n", "psnr", "ssim", "runtime_s", "peak_mem_gb", "precision")
PER_IMAGE_COLUMNS = ("model", "dataset", "protocol", "id", "psnr", "ssim", "runtime_s", "peak_mem_gb", "status",
                     "precision")
COMPLEXITY_COLUMNS = ("model", "params_m", "trainable_params_m", "macs_g", "input_size", "runtime_s",
                      "runtime_spread_s", "peak_mem_gb", "device", "status", "precision", "channels_last", "compile")


def model_label(row: dict) -> str:
    """A row's model as tables show it: ``glsgn``, or ``glsgn (bf16)`` when not measured in fp32."""
    precision = row.get("precision") or "fp32"
    return row["model"] if precision == "fp32" else f"{row['model']} ({precision})"



def score_pair(psnr, ssim) -> str:
    """A ``PSNR / SSIM`` cell: ``30.12 / 0.901`` (``-`` for a missing figure)."""
    return f"{format_number(psnr, 2)} / {format_number(ssim, 3)}"


def model_runtime(summary: list[dict], model: str) -> float:
    """A model's runtime in the results tables: the median over the datasets of its per-image medians
    (NaN when none ran). summary.md and report.html both show this one figure."""
    times = [float(r["runtime_s"]) for r in summary if model_label(r) == model]
    finite = [t for t in times if math.isfinite(t)]
    return float(np.median(finite)) if finite else math.nan


def results_cells(summary: list[dict], paper_figures: PaperFigures | None = None
                  ) -> tuple[list[str], list[list[str]]]:
    """The paper's results table, the header and a row of cells per model (labels, in order of
    appearance): ``PSNR / SSIM`` per dataset (its protocol in the header; ``-`` where the model did not
    run it), then the runtime of :func:`model_runtime`. With ``paper_figures``, beside each dataset where any
    of the models has one, the paper's published figure and its source
    (:func:`uhr4k.benchmark.paper_figures.published`)."""
    models = list(dict.fromkeys(model_label(r) for r in summary))
    datasets = list(dict.fromkeys((r["dataset"], r["protocol"]) for r in summary))
    cell = {(model_label(r), r["dataset"]): r for r in summary}
    figures = paper_figures or {}
    paper = {d for d, p in datasets if figures and any(published(m, d, p, figures) for m in models)}
    header = ["model"]
    for d, p in datasets:
        header += [f"{d} ({p}) PSNR / SSIM", *([f"{d}: paper (its full test set)"] if d in paper else [])]
    rows = []
    for m in models:
        row = [m]
        for d, p in datasets:
            r = cell.get((m, d))
            row.append("-" if r is None else score_pair(r["psnr"], r["ssim"]))
            if d in paper:
                pub = published(m, d, p, figures)
                row.append("" if pub is None else f"{score_pair(pub['psnr'], pub['ssim'])} ({pub['source']})")
        rows.append([*row, format_number(model_runtime(summary, m), 3)])
    return [*header, "runtime (s/img)"], rows


def summary_markdown(summary: list[dict]) -> str:
    """:func:`results_cells` as a Markdown table (``summary.md``, without the paper's figures)."""
    return markdown_table(*results_cells(summary)) + "\n"


def complexity_cells(rows: list[dict], run_as: bool = True) -> tuple[list[str], list[list[str]]]:
    """Table I/IV shape, the header and a row of cells per model: parameters (M), MACs (G) at the profile
    size, runtime, peak memory, device, how it ran (``run_as``: precision and flags) and status."""
    header = ["model", "params (M)", "MACs (G)", "input", "runtime (s)", "peak mem (GB)", "device"]
    header += ["run as", "status"] if run_as else ["status"]
    body = [[model_label(r), format_number(r["params_m"], 3), format_number(r["macs_g"], 1), r["input_size"],
             format_number(r["runtime_s"], 3), format_number(r["peak_mem_gb"], 2), r["device"],
             *([_run_as(r)] if run_as else []), r["status"]] for r in rows]
    return header, body


def complexity_markdown(rows: list[dict]) -> str:
    """:func:`complexity_cells` as a Markdown table (``complexity.md``)."""
    return markdown_table(*complexity_cells(rows)) + "\n"


def _run_as(row: dict) -> str:
    flags = [name for name in ("channels_last", "compile") if row.get(name) in (True, "True")]
    return "+".join([row.get("precision") or "fp32", *flags])


# ------------------------------------------------------------------------------------------ images


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:                       # Pillow < 10.1 has only the bitmap font
        return ImageFont.load_default()


MAX_GRID_COLUMNS = 6   # input, four models and the target on one row; more models wrap after six panels


def comparison_grid(panels: Sequence[tuple[str, np.ndarray]], panel_width: int = 480,
                    columns: int | None = None) -> np.ndarray:
    """Side-by-side panels with captions under each (input, each model, target, as Figures 10-13).

    Args:
        panels: (caption, (H, W, 3) uint8 image); captions may hold several lines.
        panel_width: every image is resized to this width (aspect kept; all panels take the first's height).
        columns: panels per row before wrapping (default: all on one row up to ``MAX_GRID_COLUMNS``).

    Returns:
        (H', W', 3) uint8 image.
    """
    if not panels:
        raise ValueError("comparison_grid needs at least one panel")
    first = panels[0][1]
    if first.ndim != 3 or first.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) images, got shape {first.shape}")
    ph = max(1, round(first.shape[0] * panel_width / first.shape[1]))
    font = _font(max(12, panel_width // 28))
    line_h = font.getbbox("Ag")[3] + 4
    n_lines = max(len(c.splitlines()) or 1 for c, _ in panels)
    caption_h = n_lines * line_h + 8
    columns = max(1, min(columns or MAX_GRID_COLUMNS, len(panels)))
    rows = math.ceil(len(panels) / columns)
    gap = 6
    sheet = Image.new("RGB", (columns * panel_width + (columns + 1) * gap, rows * (ph + caption_h) + (rows + 1) * gap),
                      "white")
    draw = ImageDraw.Draw(sheet)
    for i, (caption, img) in enumerate(panels):
        r, c = divmod(i, columns)
        x, y = gap + c * (panel_width + gap), gap + r * (ph + caption_h + gap)
        tile = Image.fromarray(np.ascontiguousarray(img)).resize((panel_width, ph), Image.Resampling.LANCZOS)
        sheet.paste(tile, (x, y))
        for k, line in enumerate(caption.splitlines()):
            draw.text((x + 4, y + ph + 4 + k * line_h), line, fill="black", font=font)
    return np.asarray(sheet)
