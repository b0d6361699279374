"""The demo's own ``report.html``: which sections it shows over the files the steps wrote (the page itself
is written by :mod:`uhr4k.core.html`)."""
from __future__ import annotations

import html
from pathlib import Path

from uhr4k import layout
from uhr4k.core.html import Figure, Section, Table, relative, write_report
from uhr4k.core.tables import format_number

MAX_FIGURES = 4  # per gallery: enough to judge, small enough to load


def _figures(out: Path, folder: Path, pattern: str, caption: str) -> list[Figure]:
    files = sorted(folder.glob(pattern))[:MAX_FIGURES]
    return [Figure(relative(p, out), f"{caption}: {p.stem}") for p in files]


def build_report(o, timings: dict, aligned: dict, trained: dict, benched: dict, total_seconds: float) -> Path:
    out = o.out
    dataset = out / "dataset"
    w, h = o.size
    steps = ", ".join(f"{name} {sec:.1f} s" + (" (reused)" if reused else "")
                      for name, (sec, reused) in timings.items())
    command = f"uhr4k demo --out {out} --size {w}x{h} --train-minutes {o.train_minutes:g} --seed {o.seed}"
    summary = [
        # the command is rebuilt from the options, not sys.argv: a demo run from Python has no argv of its own
        f"Ran <code>{html.escape(command)}</code> "
        f"at {w}x{h}, seed {o.seed}: built UHR4K-Syn and UHR4K-Rain from pan-and-zoom videos of "
        "scikit-image's bundled photographs, aligned simulated through-glass captures into UHR4K-Real, "
        "trained a small GLSGN, and benchmarked it beside <code>identity</code> (and <code>dcp</code> on a "
        "hazy set made from a real depth map).",
        f"Step times: {html.escape(steps)}; this run took {total_seconds:.1f} s in all.",
        "Files: the dataset is in <a href=\"dataset/\">dataset/</a> (manifest.csv, datasheet.md), the "
        "benchmark tables in <a href=\"bench/\">bench/</a>, the training run in <a href=\"train/\">train/</a>, "
        "the demo's inputs in <a href=\"material/\">material/</a>.",
    ]
    sections = [
        Section("UHR4K-Syn and UHR4K-Rain (uhr4k build-syn)",
                ["Contact sheet of input / target pairs; every drawn parameter is in "
                 "<a href=\"dataset/manifest.csv\">manifest.csv</a>, counts and ranges in "
                 "<a href=\"dataset/datasheet.md\">datasheet.md</a>."],
                figures=[Figure(relative(dataset / "preview.jpg", out), "build-syn contact sheet")]),
        Section("UHR4K-Real (uhr4k align)",
                ["Through-glass captures simulated from real photos with known homographies, registered by "
                 f"ORB + MAGSAC and refined; median corner error against the truth "
                 f"{_fmt(aligned.get('median_corner_error_px'))} px, "
                 f"worst {_fmt(aligned.get('max_corner_error_px'))} px."],
                tables=[Table("align_accuracy.csv", "Corner error of each pair against its true homography"),
                        Table("dataset/alignment.csv", "Alignment verdicts",
                              ("id", "scene", "status", "reason", "inliers", "inlier_ratio", "rmse_px",
                               "zncc_before", "zncc_after"))],
                figures=_figures(out, dataset / layout.subset("real").name / layout.QA_FOLDER, "*.*",
                                 "alignment check")),
        Section("A small GLSGN trained on this machine",
                [f"GLSGN at width {trained.get('width')} trained for {_fmt(trained.get('minutes'))} minutes on the "
                 f"{html.escape(str(trained.get('subset')))} training split ({trained.get('steps')} steps)."],
                tables=[Table(relative(Path(trained["log"]), out), "Training log")] if trained.get("log") else []),
        Section("Deraining benchmark (uhr4k bench)",
                ["The small GLSGN against <code>identity</code> on the UHR4K-Rain test split (Y-channel "
                 "protocol); runtimes on this machine. The benchmark's own page, with 1:1 crops and error maps: "
                 "<a href=\"bench/rain/report.html\">bench/rain/report.html</a>."],
                tables=[Table("bench/rain/summary.csv", "Deraining results"),
                        Table("bench/rain/complexity.csv", f"Complexity at {w}x{h}")],
                figures=(_figures(out, out / "bench" / "rain" / "plots", "runtime_psnr_*.png", "runtime vs PSNR")
                         + _figures(out, out / "bench" / "rain" / "grids", "*/*.png", "comparison"))),
        Section("Reflection test splits: the reference row",
                ["What the degraded inputs score against their targets (band-wise protocol): the row every "
                 "reflection-removal model has to beat. A few minutes on a CPU do not train one (see "
                 "docs/benchmarks.md, glsgn); <code>uhr4k train --subset syn</code> on a GPU does. Benchmark page: "
                 "<a href=\"bench/reflection/report.html\">bench/reflection/report.html</a>."],
                tables=[Table("bench/reflection/summary.csv", "Reflection results")],
                figures=_figures(out, out / "bench" / "reflection" / "grids", "*/*.png", "input and target")),
        Section("Dehazing: the dark channel prior on real depth",
                ["Haze added to the Middlebury motorcycle photo by the scattering model with its real stereo depth. "
                 "Benchmark page: <a href=\"bench/dehazing/report.html\">bench/dehazing/report.html</a>."],
                tables=[Table("bench/dehazing/summary.csv", "Dehazing results")],
                figures=_figures(out, out / "bench" / "dehazing" / "grids", "*/*.png", "comparison")),
    ]
    return write_report(out / "report.html", "uhr4k demo report", summary, sections)


def _fmt(value) -> str:
    return format_number(value, 3, missing="n/a")
