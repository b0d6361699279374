"""The experiment's table in the paper's shape: for every figure, ours | paper | difference.

``OUT/table.md`` (a Markdown table, the experiment's reading below it) and ``OUT/table.csv`` (one row per
method, dataset and metric: ``method, model, dataset, metric, ours, paper, difference, status``). The
paper's numbers come from the experiment's file; a cell we have no result for stays empty, and so does
the difference.
"""
from __future__ import annotations

import math
from pathlib import Path

from uhr4k.core.atomic import write_text_atomic
from uhr4k.core.tables import format_number, markdown_table, write_csv

TABLE_COLUMNS = ("method", "model", "dataset", "metric", "ours", "paper", "difference", "status")
METRIC_DIGITS = {"psnr": 2, "ssim": 3, "tmacs": 3, "params_m": 2, "runtime_s": 3, "memory_gb": 3}
METRIC_NAMES = {"psnr": "PSNR", "ssim": "SSIM", "tmacs": "TMACs", "params_m": "Params (M)",
                "runtime_s": "Runtime (s)", "memory_gb": "Memory (GB)"}


def _number(value) -> float | None:
    if value is None or value == "":
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _fmt(value: float | None, metric: str) -> str:
    return format_number(value, METRIC_DIGITS.get(metric, 3), missing="")


def _diff(ours: float | None, paper: float | None, metric: str) -> str:
    if ours is None or paper is None:
        return ""
    return format_number(ours - paper, METRIC_DIGITS.get(metric, 3), signed=True)


def _paper_runtime(paper: dict, device_type: str) -> tuple[float | None, str]:
    """Table IV: the paper's runtime on the kind of device we ran on (CPU, else its RTX 3090 figure)."""
    runtimes = paper.get("runtime_s", {})
    if not isinstance(runtimes, dict):
        return _number(runtimes), ""
    device = "CPU" if device_type == "cpu" else "RTX3090"
    return _number(runtimes.get(device)), device


def table_cells(result) -> list[dict]:
    """One record per (row, dataset, metric) with ours, the paper's figure and the difference."""
    experiment = result.experiment
    cells = []
    for r in result.rows:
        status = r.status if r.status != "ok" else ("" if not r.note else r.note)
        if r.status not in ("ok",) and r.note:
            status = f"{r.status}: {r.note}"
        if experiment.kind == "restoration":
            for d in experiment.datasets:
                score = r.scores.get(d.preset, {})
                paper = r.row.paper.get(d.preset, [None, None])
                for metric, paper_value in zip(("psnr", "ssim"), paper, strict=True):
                    cells.append({"method": r.row.label, "model": r.row.model, "dataset": d.label, "metric": metric,
                                  "ours": _number(score.get(metric)), "paper": _number(paper_value),
                                  "status": status})
        else:
            metrics = ("tmacs", "params_m", "runtime_s") if experiment.kind == "complexity" else ("runtime_s",
                                                                                               "memory_gb")
            for metric in metrics:
                if metric == "runtime_s" and experiment.kind == "runtime":
                    paper, device = _paper_runtime(r.row.paper, r.scores.get("device_type", "cpu"))
                    label = f"runtime ({device or 'no paper figure'})"
                else:
                    paper, label = _number(r.row.paper.get(metric)), ""
                cells.append({"method": r.row.label, "model": r.row.model, "dataset": label, "metric": metric,
                              "ours": _number(r.scores.get(metric)), "paper": paper,
                              "status": status or r.scores.get("note", "")})
    for c in cells:
        c["difference"] = _diff(c["ours"], c["paper"], c["metric"])
    return cells


def markdown(result, smoke: bool = False) -> str:
    """The Markdown table: one line per method, ours | paper | difference under every figure."""
    experiment = result.experiment
    cells = table_cells(result)
    if experiment.kind == "restoration":
        groups = [(d.label, m) for d in experiment.datasets for m in ("psnr", "ssim")]
    else:
        groups = list(dict.fromkeys(("", c["metric"]) for c in cells))
    header = ["Method"] + [f"{(g + ' ') if g else ''}{METRIC_NAMES[m]} {part}" for g, m in groups
                           for part in ("ours", "paper", "diff")] + ["Status"]
    lines = [f"# {experiment.title}", ""]
    if smoke:
        lines += ["**Smoke run** (tiny widths, a few steps, generated data): the *ours* column checks the "
                  "pipeline, it measures nothing.", ""]
    devices = sorted({r.scores.get("device") for r in result.rows if r.scores.get("device")})
    if devices:
        lines += [f"Measured on: {', '.join(devices)}.", ""]
    body = []
    for r in result.rows:
        mine = [c for c in cells if c["method"] == r.row.label]
        row = [r.row.label + (" *(registry)*" if r.row.from_registry else "")]
        status = mine[0]["status"] if mine else r.status
        for group in groups:
            cell = next((c for c in mine if (c["dataset"], c["metric"]) == group
                         or (experiment.kind != "restoration" and c["metric"] == group[1])), None)
            if cell is None:
                row += ["", "", ""]
                continue
            row += [_fmt(cell["ours"], cell["metric"]), _fmt(cell["paper"], cell["metric"]), cell["difference"]]
        body.append(row + [status])
    lines.append(markdown_table(header, body))
    if experiment.kind == "runtime":
        lines += ["", "Runtime's paper column: " + "; ".join(
            f"{c['method']}: {c['dataset']}" for c in cells if c["metric"] == "runtime_s")]
    if experiment.reading:
        lines += ["", "**Our reading.** " + " ".join(experiment.reading.split())]
    if experiment.kind == "restoration":
        lines += ["", "Benchmark outputs (per-image scores, images, grids" + ("" if smoke else ", report.html")
                  + "): `bench/<row>@<dataset>/`."]
    lines += ["", f"Source: {experiment.source}; steps reused {result.reused}, run {result.done}."]
    return "\n".join(lines) + "\n"


def write_table(result, smoke: bool = False) -> list[Path]:
    """Write ``table.md`` and ``table.csv`` into the result's folder; returns their paths."""
    out = Path(result.out)
    cells = table_cells(result)
    csv_rows = [{**c, "ours": _fmt(c["ours"], c["metric"]), "paper": _fmt(c["paper"], c["metric"])} for c in cells]
    write_csv(out / "table.csv", csv_rows, TABLE_COLUMNS)
    write_text_atomic(out / "table.md", markdown(result, smoke))
    return [out / "table.md", out / "table.csv"]
