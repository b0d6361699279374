"""``report.html`` of a benchmark run: a function of the runner's result tables.

:func:`write_bench_report` takes the summary, per-image and complexity rows (lists of dicts, or pandas
DataFrames) and the per-sample comparisons the runner wrote (``comparisons.json``), draws the plots and
writes one page into ``out``:

- the results in the paper's table shape (a row per model, PSNR / SSIM per dataset, each dataset's
  protocol named), with the paper's published figure beside a run that matches one (same method, the
  paper's test set under its protocol; :mod:`uhr4k.benchmark.paper_figures`; the figures are handed in);
- the complexity table; runtime vs PSNR (Figure 7's shape) and PSNR per image, PNG on the page, SVG and PDF
  linked;
- per sample: downscaled full views with the chosen regions outlined, those regions at 1:1 (no resampling),
  and absolute-error maps on one shared scale;
- a warning banner when a model holds random weights.

Every image is referenced by a path relative to ``out``; the page loads nothing from the network.
"""
from __future__ import annotations

import html
from pathlib import Path

from uhr4k import __version__
from uhr4k.benchmark import plots
from uhr4k.benchmark.paper_figures import PaperFigures
from uhr4k.benchmark.report import complexity_cells, results_cells
from uhr4k.core.html import Section, figure_html, html_table, write_report
from uhr4k.layout.card import default_command

REPORT_NAME = "report.html"


def results_table(summary: list[dict], paper_figures: PaperFigures | None = None) -> str:
    """The paper's shape (:func:`uhr4k.benchmark.report.results_cells`), the paper's figures beside a
    dataset where one of ``paper_figures`` matches (see :mod:`uhr4k.benchmark.paper_figures`)."""
    header, rows = results_cells(summary, paper_figures or {})
    n = {d: max(r["n"] for r in summary if r["dataset"] == d) for d in dict.fromkeys(r["dataset"] for r in summary)}
    caption = ("Mean PSNR (dB) / SSIM over each set (" + ", ".join(f"{d}: {k} images" for d, k in n.items())
               + "); runtime: median per image, forward pass only (the median of the datasets' medians, as "
               "summary.md)")
    return html_table(header, rows, caption, "summary.csv")


def complexity_table(complexity: list[dict]) -> str:
    header, rows = complexity_cells(complexity, run_as=False)
    return html_table(header, rows, "MACs: FlopCounterMode total / 2; runtime: median of the timed runs on a "
                      "random input of the profile size", "complexity.csv")


def _row(figures) -> str:
    return '<div class="row">' + "".join(figures) + "</div>"


def comparison_block(c: dict) -> str:
    """One sample: full views, one row of 1:1 crops per region, the error maps."""
    panels = c["panels"]
    out = [f'<h3 id="{html.escape(c["dataset"])}-{html.escape(c["id"])}">{html.escape(c["id"])} '
           f'<small>({html.escape(c["size"])}, {html.escape(c["protocol"])} protocol)</small></h3>',
           _row(figure_html(p["view"], p["caption"], href=p.get("full")) for p in panels)]
    for k, r in enumerate(c["regions"]):
        out.append(f"<p>Region {k + 1} at x={r['x']}, y={r['y']}: {r['side']} x {r['side']} px at 1:1 (one image "
                   f"pixel per screen pixel), where the panels' errors differ most (mean spread "
                   f"{r['score']:.1f}/255).</p>")
        out.append(_row(figure_html(p["crops"][k], p["name"], cls="crop") for p in panels))
    maps = [p for p in panels if p["error"]]
    out.append(f"<p>Absolute error against the target, mean over RGB, one scale for every map: black 0, "
               f"pale yellow {c['error_max']:.0f}/255 or more (magma).</p>")
    out.append(_row(figure_html(p["error"], f"|{p['name']} - target|") for p in maps))
    return "\n".join(out)


def _plot_section(out: Path, summary, per_image, untrained, datasets) -> tuple[Section, list[Path]]:
    figures, written = [], []
    for d in datasets:
        for kind, fig in (("runtime_psnr", plots.runtime_psnr(summary, d, untrained)),
                          ("psnr_per_image", plots.psnr_per_image(per_image, d, untrained))):
            stem = Path("plots") / f"{kind}_{d}"
            written += plots.save(fig, out / stem)
            plots.close(fig)
            links = " ".join(f'<a href="{html.escape(stem.with_suffix("." + f).as_posix())}">{f.upper()}</a>'
                             for f in plots.FORMATS[1:])
            title = {"runtime_psnr": "runtime vs PSNR", "psnr_per_image": "PSNR per image"}[kind]
            figures.append(figure_html(stem.with_suffix(".png").as_posix(), f"{title}, {d}", cls="plot",
                                       caption_html=f"{title}, {html.escape(d)} ({links})"))
    paragraph = ("Runtime is the median forward pass per image of the set on this run's device; the runtime "
                 "axis is logarithmic only when the models' runtimes span more than 20x.")
    return Section("Plots", [paragraph], blocks=[_row(figures)]), written


def invocation() -> str:
    """How this run was started: the ``uhr4k ...`` command line, or a Python call."""
    command = default_command()
    return "run_benchmark(...) called from Python" if command == "called from Python" else command


def untrained_banner(untrained) -> str:
    names = ", ".join(f"<code>{html.escape(n)}</code>" for n in untrained)
    return (f"<strong>Untrained models:</strong> {names} ran with random weights. Their scores measure the "
            "initialisation, not the method; benchmark trained weights with <code>--checkpoint NAME=PATH</code>.")


def write_bench_report(out, summary, per_image, complexity, comparisons=(), untrained=(),
                       command: str | None = None, notes=(), paper_figures: PaperFigures | None = None) -> list[Path]:
    """Write ``out/report.html`` and its plots from the runner's tables; returns the files written.

    ``command`` is shown in the header (default: this process's command line); ``notes`` (where each
    model's weights came from) under it; ``paper_figures`` are the published figures to show beside a
    matching run (none: no paper column).
    """
    out = Path(out)
    summary, per_image, complexity = plots.records(summary), plots.records(per_image), plots.records(complexity)
    comparisons = list(comparisons)
    datasets = list(dict.fromkeys(r["dataset"] for r in summary))
    command = command if command is not None else invocation()
    counts = {(r["dataset"]): (r["protocol"], r["n"]) for r in summary}
    header = [f"<code>{html.escape(command)}</code> (uhr4k {html.escape(__version__)})",
              "Datasets: " + ", ".join(f"{html.escape(d)} ({html.escape(p)} protocol, {n} images)"
                                       for d, (p, n) in counts.items()) + ". Tables as CSV: "
              '<a href="summary.csv">summary.csv</a>, <a href="per_image.csv">per_image.csv</a>, '
              '<a href="complexity.csv">complexity.csv</a>.']
    if notes:
        header.append("Weights: " + "; ".join(html.escape(n) for n in notes) + ".")
    plot_section, written = _plot_section(out, summary, per_image, untrained, datasets)
    sections = [Section("Results", ["Scores follow each dataset's protocol: <code>y</code> (MATLAB luma), "
                                    "<code>rgb</code> or <code>bandwise</code> (per RGB band, scikit-image "
                                    "SSIM). The paper's figures are shown where this run's dataset is the "
                                    "preset of one of the paper's test sets, under its protocol; they are "
                                    "comparable when this run holds that whole test set."],
                        blocks=[results_table(summary, paper_figures)]),
                Section("Complexity", blocks=[complexity_table(complexity)]),
                plot_section]
    for d in datasets:
        mine = [c for c in comparisons if c["dataset"] == d]
        if mine:
            merged = any(p.get("merged") for c in mine for p in c["panels"])
            sections.append(Section(f"Comparisons: {d}", [
                "Each sample: the full views (downscaled; the outlined squares are the regions below; click "
                "a model's view for its full-size output), then each region at 1:1, then the error maps. "
                + ("Identical outputs share one panel (<code>input = identity</code>). " if merged else "")
                + f'The whole-image grids are in <a href="grids/{html.escape(d)}/">grids/{html.escape(d)}/</a>.'],
                blocks=[comparison_block(c) for c in mine]))
    banners = [untrained_banner(untrained)] if untrained else []
    path = write_report(out / REPORT_NAME, "uhr4k bench report", header, sections, banners)
    return [*written, path]
