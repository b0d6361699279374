"""Tables, the one place they are written and read: CSV files (atomic, fixed columns, byte-stable and
diffable), read back as typed pandas DataFrames or as plain rows; Markdown tables; numbers as tables
show them.

pandas is imported by :func:`read_csv_table` alone: build-syn, align and their worker processes write and
read CSV through this module and stay free of its import time.
"""
from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from uhr4k.core.atomic import write_text_atomic
from uhr4k.core.errors import InputError

if TYPE_CHECKING:
    import pandas as pd


# ------------------------------------------------------------------------------------------ CSV


def columns_of(rows: Iterable[dict]) -> list[str]:
    """Every key of ``rows``, in the order they first appear (the header of rows that grow columns)."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns)


def format_csv(rows: Iterable[dict], columns: Sequence[str] | None = None, *, strict: bool = False) -> str:
    """Rows (dicts) as CSV text: the header ``columns`` (default :func:`columns_of` the rows), one line per
    row, ``\\n`` line ends, fields quoted only where they need it (a comma, a quote, a line end); a
    missing key is an empty cell, keys outside ``columns`` are ignored (``strict``: a ``ValueError``, for
    files whose columns are a contract: a misspelt key must not vanish), floats keep full precision
    (``repr``). Every CSV file uhr4k writes has exactly these bytes."""
    rows = list(rows)
    buf = io.StringIO()
    fields = list(columns) if columns is not None else columns_of(rows)
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n", restval="",
                            extrasaction="raise" if strict else "ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_csv(path: str | os.PathLike, rows: Iterable[dict], columns: Sequence[str] | None = None, *,
              strict: bool = False) -> None:
    """:func:`format_csv` of ``rows`` written atomically to ``path``."""
    write_text_atomic(path, format_csv(rows, columns, strict=strict))


@contextmanager
def open_csv(path: str | os.PathLike) -> Iterator[csv.DictReader]:
    """A ``csv.DictReader`` over ``path`` (UTF-8), for readers that check the header before the rows or
    name a row's line (``reader.line_num``). Errors are the file's and the csv module's, unchanged."""
    with open(path, newline="", encoding="utf-8") as f:
        yield csv.DictReader(f)


def read_csv_rows(path: str | os.PathLike) -> tuple[list[str], list[dict[str, str]]]:
    """The header and every row (dicts of text) of a CSV file."""
    with open_csv(path) as reader:
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def read_csv_table(path: str | os.PathLike, required: tuple[str, ...] = ()) -> pd.DataFrame:
    """One CSV file as a DataFrame: every column read as text, then each column whose non-empty cells all
    parse as numbers converted (``Int64`` for whole numbers, ``float64`` otherwise); empty cells are missing.

    Raises:
        InputError: no such file, not a CSV table, or one of ``required`` columns missing.
    """
    import pandas as pd  # the notebook view only (see the module docstring)

    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"not a CSV table ({reason})", path) from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", path)
    return frame.apply(_typed_column)


def _typed_column(column: pd.Series) -> pd.Series:
    import pandas as pd

    present = column.dropna()
    if present.empty:
        return column
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.isna().any():
        return column.astype("string")
    values = pd.to_numeric(column, errors="coerce")
    if (numbers == numbers.round()).all() and not present.str.contains(r"[.eE]|inf|nan", case=False).any():
        return values.astype("Int64")
    return values.astype("float64")


# ------------------------------------------------------------------------------- Markdown, numbers


def markdown_table(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A Markdown table: the header line, a ``|---|`` rule, one line per row (cells as ``str``, not
    escaped: a cell holds no ``|``); lines joined by ``\\n``, no newline at the end."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def format_number(value, digits: int, *, missing: str = "-", signed: bool = False, significant: bool = False) -> str:
    """A number as a table cell: ``digits`` decimals (``significant``: that many significant digits, the
    ``g`` format), a ``+`` before positive numbers when ``signed``; ``inf`` as ``inf``. ``missing`` stands
    for None, an empty string or NaN (no result, not a number)."""
    if value is None or (isinstance(value, str) and not value):
        return missing
    number = float(value)
    if math.isnan(number):
        return missing
    return f"{number:{'+' if signed else ''}.{digits}{'g' if significant else 'f'}}"
