"""Paths read from a manifest, record or config kept inside their root, and a row's files checked
against their recorded SHA-256.
"""
from __future__ import annotations

import os
from pathlib import Path

from uhr4k.core.atomic import sha256_file
from uhr4k.core.errors import InputError

HASHED_COLUMNS = (("input", "sha256_input"), ("target", "sha256_target"), ("layer", "sha256_layer"))


def inside(root: str | os.PathLike, rel: str, where: str = "") -> Path:
    """``root / rel`` resolved, refused unless it stays inside ``root`` (no ``..``, no absolute path, no
    symlink leading out): a dataset from someone else must not make us write or delete elsewhere.

    Raises:
        InputError: ``"<where>: path 'rel' leads outside ROOT"``.
    """
    root = Path(root).resolve()
    if not rel or os.path.isabs(rel) or "\\" in rel:
        raise InputError(f"path {rel!r} is not a relative path inside {root}", where or root)
    path = (root / rel).resolve()
    if path != root and root not in path.parents:
        raise InputError(f"path {rel!r} leads outside {root}", where or root)
    return path


def verify(root: str | os.PathLike, row: dict, where: str = "") -> str | None:
    """Why a manifest row's files are not what it records (missing, changed), or None when all match.

    Every path is checked to stay inside ``root`` first (:func:`inside`; that raises InputError).
    """
    for column, digest in HASHED_COLUMNS:
        if not row.get(column):
            continue
        path = inside(root, row[column], where)
        if not path.is_file():
            return f"{row[column]}: missing"
        if row.get(digest) and sha256_file(path) != row[digest]:
            return f"{row[column]}: checksum differs from the manifest"
    return None

