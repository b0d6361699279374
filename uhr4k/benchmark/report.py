"""What a benchmark run leaves for people to read: CSV and Markdown tables, comparison grids, the
runtime-vs-PSNR plot (the paper's Figure 7), drawn with PIL (no plotting library needed).

Everything is written atomically. Images are (H, W, 3) uint8 RGB arrays.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# ``precision`` (fp32, bf16, fp16: uhr4k.benchmark.speed) keeps reduced-precision scores apart from fp32 ones.
SUMMARY_COLUMNS = ("model", "dataset", "protocol", "n", "psnr", "ssim", "runtime_s", "peak_mem_gb", "precision")
PER_IMAGE_COLUMNS = ("model", "dataset", "protocol", "id", "psnr", "ssim", "runtime_s", "peak_mem_gb", "status",
                     "precision")
COMPLEXITY_COLUMNS = ("model", "params_m", "trainable_params_m", "macs_g", "input_size", "runtime_s",
                      "runtime_spread_s", "peak_mem_gb", "device", "status", "precision", "channels_last", "compile")


def model_label(row: dict) -> str:
    """A row's model as tables show it: ``glsgn``, or ``glsgn (bf16)`` when not measured in fp32."""
    precision = row.get("precision") or "fp32"
    return row["model"] if precision == "fp32" else f"{row['model']} ({precision})"


def _fmt(value, digits: int) -> str:
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def summary_markdown(summary: list[dict]) -> str:
    """The paper's results table: one row per model, ``PSNR / SSIM`` per dataset (protocol in the header)."""
    models = list(dict.fromkeys(model_label(r) for r in summary))
    datasets = list(dict.fromkeys((r["dataset"], r["protocol"]) for r in summary))
    cell = {(model_label(r), r["dataset"]): r for r in summary}
    header = ["model"] + [f"{d} ({p}) PSNR / SSIM" for d, p in datasets] + ["runtime (s/img)"]
    rows = []
    for m in models:
        row = [m]
        for d, _ in datasets:
            r = cell.get((m, d))
            row.append("-" if r is None else f"{_fmt(r['psnr'], 2)} / {_fmt(r['ssim'], 3)}")
        times = [cell[(m, d)]["runtime_s"] for d, _ in datasets if (m, d) in cell]
        row.append(_fmt(float(np.nanmedian(times)) if times and not all(map(math.isnan, times)) else math.nan, 3))
        rows.append(row)
    return markdown_table(header, rows)


def complexity_markdown(rows: list[dict]) -> str:
    """Table I/IV shape: parameters (M), MACs (G) at the profile size, runtime, peak memory."""
    header = ["model", "params (M)", "MACs (G)", "input", "runtime (s)", "peak mem (GB)", "device", "run as",
              "status"]
    body = [[model_label(r), _fmt(r["params_m"], 3), _fmt(r["macs_g"], 1), r["input_size"], _fmt(r["runtime_s"], 3),
             _fmt(r["peak_mem_gb"], 2), r["device"], _run_as(r), r["status"]] for r in rows]
    return markdown_table(header, body)


def _run_as(row: dict) -> str:
    flags = [name for name in ("channels_last", "compile") if row.get(name) in (True, "True")]
    return "+".join([row.get("precision") or "fp32", *flags])


# ------------------------------------------------------------------------------------------ images


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:                       # Pillow < 10.1 has only the bitmap font
        return ImageFont.load_default()


def comparison_grid(panels: Sequence[tuple[str, np.ndarray]], panel_width: int = 480, columns: int = 4) -> np.ndarray:
    """Side-by-side panels with captions under each (input, each model, target, as Figures 10-13).

    Args:
        panels: (caption, (H, W, 3) uint8 image); captions may hold several lines.
        panel_width: every image is resized to this width (aspect kept; all panels take the first's height).
        columns: panels per row before wrapping.

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
    columns = max(1, min(columns, len(panels)))
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


def _nice_ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw)
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step + 1e-9) + 1)]


def runtime_psnr_plot(points: Sequence[tuple[str, float, float]], title: str = "",
                      size: tuple[int, int] = (900, 600)) -> np.ndarray:
    """Scatter of runtime (s, x axis; logarithmic when it spans more than 20x) against PSNR (dB, y axis),
    each point labelled with its model's name. Points with a non-finite value are listed under the axes.

    Returns:
        (H, W, 3) uint8 image of ``size`` (width, height).
    """
    width, height = size
    good = [(n, t, p) for n, t, p in points if math.isfinite(t) and math.isfinite(p) and t > 0]
    bad = [n for n, t, p in points if (n, t, p) not in good]
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font, small = _font(16), _font(13)
    left, right, top, bottom = 80, width - 30, 70, height - 80
    draw.text((left, 10), title or "runtime vs PSNR", fill="black", font=font)
    draw.rectangle([left, top, right, bottom], outline="black")
    draw.text(((left + right) // 2 - 60, bottom + 35), "runtime per image (s)", fill="black", font=font)
    draw.text((10, top - 28), "PSNR (dB)", fill="black", font=font)
    if bad:
        draw.text((left, height - 22), "not plotted (inf/NaN): " + ", ".join(bad), fill="gray", font=small)
    if not good:
        return np.asarray(img)
    times = [t for _, t, _ in good]
    psnrs = [p for _, _, p in good]
    log_x = max(times) / min(times) > 20
    fx = (lambda t: math.log10(t)) if log_x else (lambda t: t)
    x_lo, x_hi = fx(min(times)), fx(max(times))
    pad_x = (x_hi - x_lo) * 0.1 or (abs(x_lo) * 0.5 if not log_x else 0.5) or 1.0
    x_lo, x_hi = x_lo - pad_x, x_hi + pad_x
    if not log_x:
        x_lo = max(0.0, x_lo)
    y_lo, y_hi = min(psnrs), max(psnrs)
    pad_y = (y_hi - y_lo) * 0.1 or 1.0
    y_lo, y_hi = y_lo - pad_y, y_hi + pad_y

    def px(t, p):
        return (left + (fx(t) - x_lo) / (x_hi - x_lo) * (right - left),
                bottom - (p - y_lo) / (y_hi - y_lo) * (bottom - top))

    if log_x:
        x_ticks = [10.0 ** e for e in range(math.floor(x_lo), math.ceil(x_hi) + 1) if x_lo <= e <= x_hi]
    else:
        x_ticks = [t for t in _nice_ticks(x_lo, x_hi) if x_lo <= t <= x_hi]
    for t in x_ticks:
        x = px(t, y_lo)[0]
        draw.line([x, bottom, x, bottom + 6], fill="black")
        draw.line([x, top, x, bottom], fill=(225, 225, 225))
        draw.text((x - 15, bottom + 10), f"{t:g}", fill="black", font=small)
    for p in _nice_ticks(y_lo, y_hi):
        if y_lo <= p <= y_hi:
            y = px(times[0], p)[1]
            draw.line([left - 6, y, left, y], fill="black")
            draw.line([left, y, right, y], fill=(225, 225, 225))
            draw.text((left - 60, y - 8), f"{p:g}", fill="black", font=small)
    for name, t, p in good:
        x, y = px(t, p)
        draw.ellipse([x - 5, y - 5, x + 5, y + 5], fill=(200, 40, 40), outline="black")
        label_w = draw.textlength(name, font=small)
        lx = x + 8 if x + 8 + label_w < right else x - 8 - label_w     # keep labels inside the frame
        draw.text((lx, y - 18), name, fill="black", font=small)
    return np.asarray(img)
