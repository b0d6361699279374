"""The benchmark runner: every model on every dataset, scored, timed, and reported.

:func:`run_benchmark` takes any ``torch.nn.Module`` objects by name (this module imports no model code)
and writes into ``out``::

    per_image.csv   one row per model, dataset and image (PSNR, SSIM, runtime, peak memory, status)
    summary.csv     one row per model and dataset: model, dataset, protocol, n, psnr, ssim, runtime_s, peak_mem_gb
    summary.md      the paper's table shape: one row per model, PSNR / SSIM per dataset
    complexity.csv/.md  parameters, MACs at the profile size (3840 x 2160 by default), runtime, peak memory
    images/<dataset>/<model>/<id>.png   the restored images
    grids/<dataset>/<id>.png            input | each model | target on one row, PSNR/SSIM in the captions
    compare/<dataset>/<id>/             per sample: full views, 1:1 crops where models differ most, error maps
    comparisons.json                    what compare/ holds (panels, captions, crop regions)
    plots/{runtime_psnr,psnr_per_image}_<dataset>.{png,svg,pdf}   Figure 7's shape; PSNR per image
    report.html                         all of it on one page (images referenced relatively)

Scores follow docs/paper.md ("Metric protocols"): outputs clamped to [0, 1], rounded to uint8, scored per image under
the dataset's protocol, averaged over the set. Per-image runtime is the wall time of the forward pass
(device synchronized, disk excluded); the summary reports its median. The complexity table times a random
input of the profile size with warm-up and the median of ``repeats`` runs.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from uhr4k.benchmark import comparison, metrics, report
from uhr4k.benchmark.paper_figures import PaperFigures
from uhr4k.benchmark.profiling import (
    count_macs,
    count_parameters,
    device_name,
    is_out_of_memory,
    peak_memory,
    reset_peak_memory,
    synchronize,
    time_forward,
)
from uhr4k.benchmark.tiling import tiled_forward
from uhr4k.core.atomic import write_text_atomic
from uhr4k.core.errors import InputError
from uhr4k.core.images import check_image_header, to_uint8, write_image
from uhr4k.core.speed import Speed, SpeedWrapper
from uhr4k.core.tables import format_number, write_csv
from uhr4k.data import Pair, ResolvedDataset, read_pair, resolve_dataset, to_tensor

# What the runner scores: a named list of pairs and the metric protocol its table uses (``name``, ``pairs``,
# ``protocol``), as :func:`uhr4k.data.resolve_dataset` gives it.
BenchDataset = ResolvedDataset


def load_dataset(root_or_preset: str, subset: str | None = None, split: str = "test",
                 protocol: str = "auto") -> BenchDataset:
    """Pairs of a folder or preset with its name and protocol: :func:`uhr4k.data.resolve_dataset`, with
    ``protocol`` other than ``auto`` in place of the dataset's own.

    ``protocol="auto"`` takes the dataset's, by the one rule of :mod:`uhr4k.data.protocol` that training
    uses too (UHR4K-Rain and the rain sets: ``y``; reflection sets: ``bandwise``; dehazing: ``rgb``).
    """
    if protocol != "auto" and protocol not in metrics.PROTOCOLS:
        raise InputError(f"unknown protocol {protocol!r}; expected auto or one of {', '.join(metrics.PROTOCOLS)}")
    resolved = resolve_dataset(root_or_preset, subset=subset, split=split)
    return resolved if protocol == "auto" else replace(resolved, protocol=protocol)


@dataclass
class BenchResult:
    out: Path
    summary: list[dict]
    per_image: list[dict]
    complexity: list[dict]
    files: list[Path] = field(default_factory=list)
    untrained: list[str] = field(default_factory=list)   # models scored with random weights
    notes: list[str] = field(default_factory=list)       # said before the scores (where weights came from)
    speed: Speed = field(default_factory=Speed)          # how the models ran (precision, channels_last, compile)
    comparisons: list[dict] = field(default_factory=list)  # per-sample views (comparison.py), for the report

    @property
    def summary_frame(self) -> pd.DataFrame:
        """The summary as a DataFrame: one row per (model, dataset), the columns of summary.csv."""
        return pd.DataFrame(self.summary, columns=list(report.SUMMARY_COLUMNS))

    @property
    def per_image_frame(self) -> pd.DataFrame:
        """Per-image scores as a DataFrame: one row per (model, dataset, image), the columns of per_image.csv."""
        return pd.DataFrame(self.per_image, columns=list(report.PER_IMAGE_COLUMNS))

    @property
    def complexity_frame(self) -> pd.DataFrame:
        """Parameters, MACs, runtime and memory per model, the columns of complexity.csv."""
        return pd.DataFrame(self.complexity, columns=list(report.COMPLEXITY_COLUMNS))

    def lines(self) -> list[str]:
        out = [untrained_warning(self.untrained)] if self.untrained else []
        out += list(self.notes)
        if self.speed.label != "fp32":
            out.append(f"models ran as {self.speed.label}: scores under {self.speed.precision} are not fp32 scores")
        out += [f"{report.model_label(r):>14s}  {r['dataset']:<16s} {r['protocol']:<8s} n={r['n']:<4d} "
               f"PSNR {format_number(r['psnr'], 2):>6s}  SSIM {format_number(r['ssim'], 4)}  "
               f"{format_number(r['runtime_s'], 3)} s/img" for r in self.summary]
        failed = [r for r in self.per_image if r["status"] != "ok"]
        if failed:
            out.append(f"{len(failed)} evaluation(s) did not complete (status in per_image.csv)")
        return out + [f"wrote {self.out}/report.html (summary.csv, summary.md, per_image.csv, complexity.csv)"]


def untrained_warning(names) -> str:
    """The line every output of a run with untrained models starts with."""
    return (f"warning: untrained (random weights): {', '.join(names)}: their scores measure the initialisation, "
            "not the method; pass --checkpoint NAME=PATH for trained weights")


SSIM_WINDOW = 11   # the side of SSIM's Gaussian window (benchmark.metrics): smaller pairs have no SSIM


def check_sizes(pairs: list[Pair]) -> None:
    """Read only the headers (and the end markers) of every pair: a missing, unreadable, truncated,
    too small or size-mismatched pair fails before any model runs (a long run never dies on its last
    image for a reason visible at the start)."""
    for pair in pairs:
        sizes = [check_image_header(path) for path in (pair.input, pair.target)]
        if sizes[0] != sizes[1]:
            raise InputError(f"input is {sizes[0][0]}x{sizes[0][1]} but its target {pair.target} is "
                             f"{sizes[1][0]}x{sizes[1][1]}", pair.input)
        if min(sizes[0]) < SSIM_WINDOW:
            raise InputError(f"{sizes[0][0]}x{sizes[0][1]} is smaller than SSIM's {SSIM_WINDOW}x"
                             f"{SSIM_WINDOW} window: pairs must be at least that large", pair.input)


def refuse_out_inside_datasets(out: Path, datasets: list[BenchDataset]) -> None:
    """``--out`` inside a dataset folder would write images among the dataset's own (and be read back)."""
    out = out.resolve()
    for d in datasets:
        files = [str(p.resolve()) for pair in d.pairs for p in (pair.input, pair.target)]
        if not files:
            continue
        folder = Path(os.path.commonpath(files))
        roots = [folder] + [p for p in folder.parents if (p / "manifest.csv").is_file()]
        for root in roots:
            if out == root or root in out.parents:
                raise InputError(f"--out must not lie inside the dataset folder {root}", out)


def _first(output):
    return output[0] if isinstance(output, (tuple, list)) else output


class _Tiled(nn.Module):
    def __init__(self, model, tile, overlap):
        super().__init__()
        self.model, self.tile, self.overlap = model, tile, overlap

    def forward(self, x):
        return tiled_forward(self.model, x, self.tile, self.overlap)


def run_benchmark(models: dict[str, nn.Module], datasets: list[BenchDataset], out: str | os.PathLike,
                  device: str = "cpu", tile: int | None = None, overlap: int = 32, save_images: bool = True,
                  max_grids: int | None = None, profile_size: tuple[int, int] | None = (3840, 2160),
                  repeats: int = 5, warmup: int = 1, untrained: Sequence[str] = (), notes: Sequence[str] = (),
                  precision: str = "fp32", channels_last: bool = False, compile: bool = False,
                  html_report: bool = True, paper_figures: PaperFigures | None = None) -> BenchResult:
    """Evaluate ``models`` (name -> module) on ``datasets`` and write the tables and images into ``out``.

    Args:
        device: ``cpu`` or ``cuda`` (``cuda:N``).
        tile: run models tile by tile (:func:`tiled_forward`) with this tile side and ``overlap``.
        save_images: write restored images and comparison grids (at most ``max_grids`` per dataset).
        profile_size: (width, height) of the complexity table's MACs and runtime; None counts parameters only.
        untrained: names of ``models`` that hold random weights: flagged in every output.
        notes: lines said before the scores and on the report (where each model's weights came from).
        precision, channels_last, compile: how the models run (:class:`uhr4k.core.speed.Speed`); every
            table carries the precision, summary.md labels reduced-precision models, complexity.csv all three.
        html_report: write report.html and its plots (False: the tables only, as smoke runs want).
        paper_figures: the paper's published figures, shown on report.html beside a run that matches one
            (:mod:`uhr4k.benchmark.paper_figures`; ``uhr4k bench`` passes the experiment files' figures).
    """
    if not models:
        raise InputError("no model to evaluate")
    if not datasets:
        raise InputError("no dataset to evaluate on")
    out = Path(out)
    refuse_out_inside_datasets(out, datasets)
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available")
    seen: dict[str, int] = {}
    renamed = []
    for d in datasets:
        # two folders of the same name (two "test" folders) must not share images/ or a summary row
        seen[d.name] = seen.get(d.name, 0) + 1
        renamed.append(d if seen[d.name] == 1 else replace(d, name=f"{d.name}-{seen[d.name]}"))
        check_sizes(d.pairs)
    datasets = renamed
    try:
        speed = Speed(precision, channels_last, compile)
    except ValueError as exc:
        raise InputError(str(exc), "--precision") from None
    runnable = {name: SpeedWrapper(_Tiled(m, tile, overlap) if tile else m, speed).to(dev).eval()
                for name, m in models.items()}
    unknown = [n for n in untrained if n not in models]
    if unknown:
        raise ValueError(f"untrained names {unknown} are not among the models {list(models)}")
    result = BenchResult(out, [], [], [], untrained=list(untrained), notes=list(notes), speed=speed)
    total = sum(len(d.pairs) for d in datasets) * len(models)
    with tqdm(total=total, desc="bench", unit="eval") as bar:
        for d in datasets:
            rows, comparisons = _evaluate_dataset(runnable, d, out, dev, save_images, max_grids, bar)
            result.per_image += [{**r, "precision": speed.precision} for r in rows]
            result.comparisons += comparisons
            result.summary += [{**r, "precision": speed.precision} for r in _summarize(rows, models, d)]
            # written as they are made: a failure later (another dataset, the profile) loses no scores
            write_csv(out / "per_image.csv", result.per_image, report.PER_IMAGE_COLUMNS)
            write_csv(out / "summary.csv", result.summary, report.SUMMARY_COLUMNS)
    result.complexity = [{**r, "precision": speed.precision, "channels_last": speed.channels_last,
                          "compile": speed.compile}
                         for r in _complexity(models, runnable, dev, profile_size, repeats, warmup)]
    _write_outputs(result, datasets, html_report, paper_figures)
    return result


def _run_one(model, name: str, x: torch.Tensor, dev, row: dict) -> np.ndarray | None:
    """One forward pass, timed into ``row``; the (H, W, 3) uint8 output, or None when out of memory.

    Models take turns image by image, so the heap is emptied of the previous model's free memory first
    (its peak is this forward's own); the time then includes this forward's page faults, as without
    :mod:`uhr4k.core.allocator`. The complexity table's runtime (``time_forward``) is the warm one."""
    try:
        synchronize(dev)
        reset_peak_memory(dev, release_heap=True)
        start = time.perf_counter()
        with torch.inference_mode():
            y = _first(model(x))
        synchronize(dev)
        row["runtime_s"] = time.perf_counter() - start
        row["peak_mem_gb"] = peak_memory(dev) / 1e9
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        return None
    if tuple(y.shape) != tuple(x.shape):
        raise ValueError(f"model {name!r} returned shape {tuple(y.shape)} for input {tuple(x.shape)}")
    return metrics.tensor_to_uint8(y)


def _evaluate_dataset(models, d: BenchDataset, out: Path, dev, save_images, max_grids, bar):
    """Every model on every pair of ``d``: per-image rows, and (``save_images``) restored images, grids and
    per-sample comparisons (the first ``max_grids`` pairs). Returns (rows, comparisons)."""
    rows, comparisons = [], []
    for index, pair in enumerate(d.pairs):
        inp, tgt = read_pair(pair)
        inp8, tgt8 = to_uint8(inp), to_uint8(tgt)
        x = to_tensor(inp)[None].to(dev)
        shown = [{"name": "input", "image": inp8, "psnr": metrics.psnr(inp8, tgt8, d.protocol),
                  "ssim": metrics.ssim(inp8, tgt8, d.protocol)}]
        for name, model in models.items():
            row = {"model": name, "dataset": d.name, "protocol": d.protocol, "id": pair.id,
                   "psnr": math.nan, "ssim": math.nan, "runtime_s": math.nan, "peak_mem_gb": math.nan}
            pred = _run_one(model, name, x, dev, row)
            bar.update()
            if pred is None:
                rows.append({**row, "status": "out of memory"})
                shown.append({"name": name, "image": None, "psnr": math.nan, "ssim": math.nan})
                continue
            row["psnr"] = metrics.psnr(pred, tgt8, d.protocol)
            row["ssim"] = metrics.ssim(pred, tgt8, d.protocol)
            rows.append({**row, "status": "ok"})
            shown.append({"name": name, "image": pred, "psnr": row["psnr"], "ssim": row["ssim"]})
            if save_images:
                write_image(out / "images" / d.name / name / f"{pair.id}.png", pred)
        if save_images and (max_grids is None or index < max_grids):
            shown = merge_identical(shown)
            write_image(out / "grids" / d.name / f"{pair.id}.png", report.comparison_grid(_grid_panels(shown, tgt8)))
            comparisons.append(_comparison(out, d, pair.id, shown, tgt8))
    return rows, comparisons


def merge_identical(shown: list[dict]) -> list[dict]:
    """One panel per distinct picture: an output equal to the input (identity) or to an earlier output is
    named in that panel's title (``input = identity``) instead of being shown twice. Each panel keeps the
    list of its ``names`` (a model may be called ``N = 1``: the title is not split back)."""
    kept = []
    for entry in shown:
        same = next((k for k in kept if entry["image"] is not None and k["image"] is not None
                     and np.array_equal(k["image"], entry["image"])), None)
        if same is None:
            kept.append({**entry, "names": [entry["name"]]})
        else:
            same["names"].append(entry["name"])
            same["name"] = " = ".join(same["names"])
    return kept


def score_caption(psnr: float, ssim: float) -> str:
    if not math.isfinite(ssim):
        return "out of memory"
    return f"{format_number(psnr, 2)} dB / {ssim:.4f}"


def _grid_panels(shown: list[dict], target: np.ndarray) -> list[tuple[str, np.ndarray]]:
    panels = [(f"{e['name']}\n{score_caption(e['psnr'], e['ssim'])}",
               e["image"] if e["image"] is not None else np.zeros_like(target)) for e in shown]
    return panels + [("target\n(reference)", target)]


def _comparison(out: Path, d: BenchDataset, pair_id: str, shown: list[dict], target: np.ndarray) -> dict:
    """Full views, 1:1 crops where the panels differ most and error maps of one pair (see comparison.py)."""
    ran = [e for e in shown if e["image"] is not None]
    folder = Path("compare") / d.name / pair_id
    written = comparison.write_sample_comparison(out / folder, [(e["name"], e["image"]) for e in ran], target)
    for panel, entry in zip(written["panels"], [*ran, None], strict=True):
        panel["caption"] = "target (reference)" if entry is None else (
            f"{entry['name']}: {score_caption(entry['psnr'], entry['ssim'])}")
        for key in ("view", "error"):
            if panel[key]:
                panel[key] = (folder / panel[key]).as_posix()
        panel["crops"] = [(folder / c).as_posix() for c in panel["crops"]]
        panel["merged"] = entry is not None and len(entry.get("names", ())) > 1
        first = entry.get("names", [entry["name"]])[0] if entry is not None else None
        # a model's restored image is saved at full size: the downscaled view links to it
        panel["full"] = f"images/{d.name}/{first}/{pair_id}.png" if entry is not None and first != "input" else None
    return {"dataset": d.name, "protocol": d.protocol, "id": pair_id, "size": f"{target.shape[1]}x{target.shape[0]}",
            "regions": [vars(r) for r in written["regions"]], "error_max": written["error_max"],
            "panels": written["panels"]}


def _summarize(rows: list[dict], models, d: BenchDataset) -> list[dict]:
    summary = []
    for name in models:
        mine = [r for r in rows if r["model"] == name]
        ok = [r for r in mine if r["status"] == "ok"]
        complete = len(ok) == len(mine) and ok
        # A set with a failed image has no mean: averaging the rest would silently change the set.
        summary.append({
            "model": name, "dataset": d.name, "protocol": d.protocol, "n": len(ok),
            "psnr": float(np.mean([r["psnr"] for r in ok])) if complete else math.nan,
            "ssim": float(np.mean([r["ssim"] for r in ok])) if complete else math.nan,
            "runtime_s": statistics.median(r["runtime_s"] for r in ok) if ok else math.nan,
            "peak_mem_gb": max(r["peak_mem_gb"] for r in ok) if ok else math.nan,
        })
    return summary


def _complexity(models, runnable, dev, profile_size, repeats, warmup) -> list[dict]:
    """Parameters of every model; with a ``profile_size`` (width, height) also its MACs, runtime and peak
    memory at that size. None counts parameters only: no MACs at a size nobody asked for."""
    rows = []
    shape = None if profile_size is None else (1, 3, profile_size[1], profile_size[0])
    desc = "complexity (parameters only)" if shape is None else f"profile {profile_size[0]}x{profile_size[1]}"
    # at 4K on a CPU each timed run of a large model takes a minute: show where the time goes
    for name, model in tqdm(models.items(), desc=desc, unit="model"):
        trainable, total = count_parameters(model)
        row = {"model": name, "params_m": total / 1e6, "trainable_params_m": trainable / 1e6,
               "macs_g": math.nan, "input_size": "-" if shape is None else f"{profile_size[0]}x{profile_size[1]}",
               "runtime_s": math.nan, "runtime_spread_s": math.nan, "peak_mem_gb": math.nan,
               "device": device_name(dev),
               "status": "ok" if shape is not None else "not profiled (--profile-size none)"}
        if shape is not None:
            try:
                row["macs_g"] = count_macs(model, shape) / 1e9
            except Exception as exc:          # noqa: BLE001 - a model the meta device cannot trace: say so
                row["status"] = f"MACs not counted ({type(exc).__name__})"
            timing = time_forward(runnable[name], torch.rand(shape, device=dev), warmup=warmup, repeats=repeats)
            row.update(runtime_s=timing.median_s, runtime_spread_s=timing.max_s - timing.min_s,
                       peak_mem_gb=timing.peak_mem_gb)
            if timing.oom:
                row["status"] = "out of memory"
        rows.append(row)
    return rows


def _write_outputs(result: BenchResult, datasets: list[BenchDataset], html_report: bool = True,
                   paper_figures: PaperFigures | None = None) -> None:
    from uhr4k.benchmark.html_report import write_bench_report

    out = result.out
    write_csv(out / "per_image.csv", result.per_image, report.PER_IMAGE_COLUMNS)
    write_csv(out / "summary.csv", result.summary, report.SUMMARY_COLUMNS)
    write_text_atomic(out / "summary.md", report.summary_markdown(result.summary))
    write_csv(out / "complexity.csv", result.complexity, report.COMPLEXITY_COLUMNS)
    write_text_atomic(out / "complexity.md", report.complexity_markdown(result.complexity))
    write_text_atomic(out / "comparisons.json", json.dumps(result.comparisons, indent=1))
    result.files += [out / n for n in ("per_image.csv", "summary.csv", "summary.md", "complexity.csv",
                                       "complexity.md", "comparisons.json")]
    if html_report:
        result.files += write_bench_report(out, result.summary, result.per_image, result.complexity,
                                           result.comparisons, untrained=result.untrained, notes=result.notes,
                                           paper_figures=paper_figures)
