"""The CSV files uhr4k writes, read back as pandas DataFrames with typed columns (the notebook view).

The CSV files stay the on-disk record (byte-stable, diffable); these readers are for analysis::

    import uhr4k.layout.tables as tables
    rows = tables.manifest("data/UHR4K")          # one row per pair; params parsed to dicts
    rows.groupby(["subset", "split"]).size()
    tables.training_log("runs/glsgn").plot(x="epoch", y="val_psnr")

Numbers become numbers (integers stay integers, an empty cell is missing), text stays text, and a file
that is not what its reader expects is an ``InputError`` naming it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from uhr4k import layout
from uhr4k.core.runs import ALIGNMENT_NAME, FAILURES_NAME
from uhr4k.core.runs import TRAINING_LOG as LOG_NAME
from uhr4k.core.tables import read_csv_table

# Manifest columns read as integers (the rest stay text; params are parsed to dicts).
MANIFEST_INT_COLUMNS = ("width", "height", "seed")


def manifest(root: str | os.PathLike) -> pd.DataFrame:
    """``ROOT/manifest.csv`` as a DataFrame: one row per pair, every column of the dataset contract;
    ``width``, ``height``, ``seed`` as integers and ``params`` parsed from JSON into dicts.

    An existing root with no manifest yet gives an empty frame with the contract's columns.

    Raises:
        InputError: a header that is not a manifest's, or a row that is not a valid one, as
        :func:`uhr4k.layout.read_manifest` names them (a ``params`` cell that is not a JSON object among them).
    """
    rows = layout.read_manifest(root)
    frame = pd.DataFrame(rows, columns=list(layout.MANIFEST_COLUMNS)).astype("string")
    for column in MANIFEST_INT_COLUMNS:
        frame[column] = pd.to_numeric(frame[column].replace("", pd.NA)).astype("Int64")
    frame["params"] = [_parse_params(text) for text in frame["params"]]
    return frame


def _parse_params(text) -> dict:
    """A ``params`` cell as a dict (read_manifest has checked that it is a JSON object or empty)."""
    return {} if pd.isna(text) or not text else json.loads(text)


def failures(root: str | os.PathLike) -> pd.DataFrame:
    """``ROOT/failures.csv`` (build-syn): one row per failed item with ``stage, id, file, reason``; an empty
    frame with those columns when nothing failed (no file)."""
    path = Path(root) / FAILURES_NAME
    if not path.exists():
        return pd.DataFrame(columns=["stage", "id", "file", "reason"]).astype("string")
    return read_csv_table(path, required=("stage", "id", "file", "reason"))


def alignment(root: str | os.PathLike) -> pd.DataFrame:
    """``ROOT/alignment.csv`` written by ``uhr4k align``: one row per capture pair with its status,
    homography entries and quality figures (columns of :data:`uhr4k.align.pair.ALIGNMENT_COLUMNS`)."""
    return read_csv_table(Path(root) / ALIGNMENT_NAME, required=("id", "status"))


def training_log(run: str | os.PathLike) -> pd.DataFrame:
    """``RUN/log.csv`` of ``uhr4k train``: one row per epoch (loss parts, validation PSNR/SSIM, times)."""
    return read_csv_table(Path(run) / LOG_NAME, required=("epoch",))
