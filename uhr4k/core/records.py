"""What a resumable pipeline remembers: digests of what decided an item (:func:`digest`), stamps of its
input files (:func:`fingerprint`: what changed since), one JSON record per finished item
(:class:`RecordStore`), and the failures of a run (:class:`Failure`, ``failures.csv``). Seeds are
:mod:`uhr4k.core.seeds`.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from uhr4k.core.atomic import write_text_atomic
from uhr4k.core.errors import InputError
from uhr4k.core.runs import FAILURES_NAME
from uhr4k.core.tables import open_csv, write_csv


def fingerprint(path: str | os.PathLike) -> list[int]:
    """``[size in bytes, modification time in ns]`` of a file: changes whenever the file is replaced."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def canonical_json(obj) -> str:
    """``obj`` as JSON with sorted keys (tuples as lists; anything else JSON lacks, such as a path, as its
    text): equal options give equal text whatever their dict order."""
    return json.dumps(obj, sort_keys=True, default=str)


def digest_bytes(chunks: Iterable[bytes], length: int = 16) -> str:
    """The first ``length`` hex digits of the SHA-256 of ``chunks`` one after the other."""
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()[:length]


def digest(obj, length: int = 16) -> str:
    """The first ``length`` hex digits of the SHA-256 of :func:`canonical_json` of ``obj``: the key of
    whatever ``obj`` decides (a record, a cached plan, a training folder)."""
    return digest_bytes([canonical_json(obj).encode()], length)


def safe_id(item_id: str) -> str:
    """``item_id`` when it can be a file name of its own (records are named by it), else InputError."""
    if not item_id or item_id in (".", "..") or "/" in item_id or "\\" in item_id or "\x00" in item_id:
        raise InputError(f"id {item_id!r} cannot name a file")
    return item_id


class RecordStore:
    """One JSON record per finished item under ``folder``: ``FOLDER/<id>.json`` holding
    ``{"key": ..., "data": ...}``.

    ``key`` is whatever decided the item (inputs' fingerprints, options, code version); :meth:`get`
    returns the data only while the key still matches, so a changed input is redone. A record that cannot
    be read (cut by a kill, edited by hand) is no record: the item is redone.

    Args:
        indent: JSON indentation of the records written (None: one line), for records people read.
        flat: also read records written flat, ``{"key": ..., field: ...}`` (``uhr4k experiment``'s steps
            before they were records of this store): their fields but the key are the data.
    """

    def __init__(self, folder: str | os.PathLike, indent: int | None = None, flat: bool = False):
        self.folder = Path(folder)
        self.indent, self.flat = indent, flat

    def path(self, item_id: str) -> Path:
        return self.folder / f"{safe_id(item_id)}.json"

    def get(self, item_id: str, key) -> dict | None:
        try:
            record = json.loads(self.path(item_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("key") != json.loads(json.dumps(key)):
            return None
        if self.flat and "data" not in record:
            return {k: v for k, v in record.items() if k != "key"}
        return record.get("data")

    def put(self, item_id: str, key, data) -> None:
        write_text_atomic(self.path(item_id), json.dumps({"key": key, "data": data}, indent=self.indent,
                                                         sort_keys=True))

    def ids(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.json")) if self.folder.is_dir() else []

    def copy_to(self, item_id: str, other: RecordStore) -> bool:
        """Carry ``item_id``'s record over to ``other`` as it is, key and all (a merge of shards keeps what
        each shard knew); False when there is none."""
        try:
            text = self.path(item_id).read_text(encoding="utf-8")
        except FileNotFoundError:
            return False
        write_text_atomic(other.path(item_id), text)
        return True

    def keep_only(self, ids: Iterable[str]) -> None:
        """Remove the records of items no longer planned."""
        keep = set(ids)
        for item_id in self.ids():
            if item_id not in keep:
                self.path(item_id).unlink(missing_ok=True)


@dataclass(frozen=True, order=True)
class Failure:
    """One bad input: where it happened, the item, the file and why; one line ``<file>: <reason>``."""

    stage: str
    id: str
    file: str
    reason: str

    def line(self) -> str:
        return f"{self.file}: {self.reason}" if self.file else f"{self.id}: {self.reason}"


FAILURE_COLUMNS = ("stage", "id", "file", "reason")  # failures.csv: Failure's fields, in order


def write_failures(root: str | os.PathLike, failures: Iterable[Failure]) -> Path:
    """``ROOT/failures.csv``: stage, id, file, reason; de-duplicated and sorted (stable bytes)."""
    path = Path(root) / FAILURES_NAME
    write_csv(path, (asdict(f) for f in sorted(set(failures))), FAILURE_COLUMNS)
    return path


def read_failures(root: str | os.PathLike) -> list[Failure]:
    path = Path(root) / FAILURES_NAME
    if not path.is_file():
        return []
    with open_csv(path) as reader:
        if reader.fieldnames is None or not set(FAILURE_COLUMNS) <= set(reader.fieldnames):
            raise InputError("not a uhr4k failures file (columns stage, id, file, reason)", path)
        return [Failure(r["stage"] or "", r["id"] or "", r["file"] or "", r["reason"] or "") for r in reader]

