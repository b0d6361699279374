"""CSV tables: written atomically with fixed columns (byte-stable, diffable), read back as typed
pandas DataFrames or as plain rows.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from uhr4k.core.atomic import write_text_atomic
from uhr4k.core.errors import InputError


def write_csv(path: str | os.PathLike, rows: Iterable[dict], columns: Sequence[str]) -> None:
    """Rows (dicts; floats with full precision, keys outside ``columns`` ignored) as CSV with the header
    ``columns``, written atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buf.getvalue())



def read_csv_table(path: str | os.PathLike, required: tuple[str, ...] = ()) -> pd.DataFrame:
    """One CSV file as a DataFrame: every column read as text, then each column whose non-empty cells all
    parse as numbers converted (``Int64`` for whole numbers, ``float64`` otherwise); empty cells are missing.

    Raises:
        InputError: no such file, not a CSV table, or one of ``required`` columns missing.
    """
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



def read_csv_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)

