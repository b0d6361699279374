"""``report.html`` pages (the demo's, the benchmark's): self-contained, every file referenced relatively.

Tables are rendered from CSV files on disk (cell text copied verbatim) or from rows handed in, and each
table names its source in a ``data-source`` attribute, so the numbers a person reads are exactly the ones
on disk (the demo's and the benchmark's tests check that). Images are referenced by paths relative to the
report, so the folder can be zipped and shared; the page loads nothing from the network (no fonts, no
scripts).
"""
from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from uhr4k.core.atomic import write_text_atomic
from uhr4k.core.tables import read_csv_rows


@dataclass
class Table:
    """A table rendered from ``csv_path`` (relative to the report); ``columns`` picks and orders them."""

    csv_path: str
    caption: str = ""
    columns: tuple[str, ...] | None = None


@dataclass
class Figure:
    path: str          # relative to the report
    caption: str = ""


@dataclass
class Section:
    """A titled part of the page: paragraphs (trusted HTML), tables, figures, then ``blocks`` of trusted
    HTML built by the caller (comparisons with their own layout)."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
header { background: #f3f5f8; padding: 1em 1.2em; border-radius: 6px; }
h1 { margin-top: 0; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: 90%; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th { background: #eef; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ccc; }
figcaption { color: #555; font-size: 90%; } code { background: #f4f4f4; padding: 0 .2em; }
.banner { background: #fff3cd; border: 1px solid #e0b100; padding: .6em 1em; border-radius: 6px; margin: 1em 0; }
.paper { color: #666; }
.row { display: flex; gap: 6px; overflow-x: auto; align-items: flex-start; padding-bottom: 4px; }
.row figure { margin: 0; flex: none; } .row figure img { max-width: none; }
.crop img { image-rendering: pixelated; } .plot img { width: 560px; }
"""


def html_table(header: list[str], rows: list[list[str]], caption: str = "", source: str = "") -> str:
    """A ``<table>`` of plain-text cells (escaped here); ``source`` names where the numbers come from."""
    out = [f'<table data-source="{html.escape(source)}">' if source else "<table>"]
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    out.append("<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in header) + "</tr>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def render_table(report_dir: Path, table: Table) -> str:
    header, rows = read_csv_rows(report_dir / table.csv_path)
    columns = list(table.columns) if table.columns else header
    missing = [c for c in columns if c not in header]
    if missing:
        raise ValueError(f"{table.csv_path}: no columns {missing}")
    return html_table(columns, [[row[c] for c in columns] for row in rows], table.caption, table.csv_path)


def figure_html(src: str, caption: str, *, cls: str = "", href: str | None = None,
                caption_html: str | None = None) -> str:
    """A ``<figure>``: the image ``src`` (a path relative to the report) as a link to ``href`` (default: the
    image itself), ``caption`` its alt text and its caption (both escaped here); ``caption_html`` (trusted
    HTML, e.g. with links) is shown as the caption instead; ``cls`` its CSS class (``crop``, ``plot``)."""
    attr = f' class="{html.escape(cls)}"' if cls else ""
    shown = html.escape(caption) if caption_html is None else caption_html
    return (f'<figure{attr}><a href="{html.escape(href or src)}"><img src="{html.escape(src)}" '
            f'alt="{html.escape(caption)}"></a><figcaption>{shown}</figcaption></figure>')


def render_figure(report_dir: Path, fig: Figure) -> str:
    if not (report_dir / fig.path).is_file():
        raise FileNotFoundError(f"{report_dir / fig.path}: figure missing")
    return figure_html(Path(fig.path).as_posix(), fig.caption)


def write_report(report_path: Path, title: str, summary_lines: list[str], sections: list[Section],
                 banners: Sequence[str] = ()) -> Path:
    """Write ``report_path`` atomically. Paths in ``sections`` are relative to its folder; ``banners``
    (trusted HTML) are warnings shown above everything else.

    Raises:
        FileNotFoundError / ValueError: a referenced figure or CSV column does not exist (a report that
        points at nothing is a bug, not a page to ship).
    """
    report_path = Path(report_path)
    report_dir = report_path.parent
    body = [f"<header><h1>{html.escape(title)}</h1>"]
    body += [f"<p>{line}</p>" for line in summary_lines]  # summary lines are trusted HTML built by run.py
    body.append("</header>")
    body += [f'<div class="banner" role="alert">{b}</div>' for b in banners]
    for section in sections:
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        body += [f"<p>{p}</p>" for p in section.paragraphs]
        body += [render_table(report_dir, t) for t in section.tables]
        body += [render_figure(report_dir, f) for f in section.figures]
        body += section.blocks
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")
    write_text_atomic(report_path, page)
    return report_path


def relative(path: Path, start: Path) -> str:
    """``path`` relative to ``start``, POSIX style (for links inside the report)."""
    return Path(os.path.relpath(path, start)).as_posix()
