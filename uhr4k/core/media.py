"""Finding images and videos in a folder, and saying what was passed over.
"""
from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Iterable

from uhr4k.core.errors import InputError
from uhr4k.core.images import is_image
from uhr4k.core.video import is_video


def list_media(folder: str | os.PathLike, kinds: Iterable[str] = ("image", "video")) -> list[Path]:
    """Images and/or videos directly in ``folder`` and below, sorted by path (a stable order).

    Raises:
        InputError: the folder does not exist or holds no file of the wanted kinds.
    """
    found, _ = scan_media(folder, kinds)
    if not found:
        raise InputError(f"no {' or '.join(kinds)} files found", folder)
    return found


def scan_media(folder: str | os.PathLike, kinds: Iterable[str] = ("image", "video")
               ) -> tuple[list[Path], dict[str, int]]:
    """(:func:`list_media`'s files, how many others were passed over and why): broken symlinks, symlink
    loops, hidden files, other types. Raises InputError: the folder does not exist."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("not a folder", folder)
    checks = {"image": is_image, "video": is_video}
    found: list[Path] = []
    skipped: dict[str, int] = {}
    for p in folder.rglob("*"):
        is_file, reason = p.is_file(), None
        if p.is_symlink() and not p.exists():
            try:
                os.stat(p)
            except OSError as exc:   # ELOOP: links pointing at each other (or at themselves)
                reason = "symlink loop" if exc.errno == errno.ELOOP else "broken symlink"
        if is_file and not p.name.startswith(".") and any(checks[k](p) for k in kinds):
            found.append(p)
            continue
        if reason is None and is_file:
            reason = "hidden file" if p.name.startswith(".") else "file of another type"
        if reason is not None:
            skipped[reason] = skipped.get(reason, 0) + 1
    return sorted(found), skipped


def describe_skipped(folder: str | os.PathLike, skipped: dict[str, int]) -> str | None:
    """One line saying what :func:`scan_media` passed over, or None when nothing was."""
    if not skipped:
        return None
    parts = ", ".join(f"{reason}: {n}" for reason, n in sorted(skipped.items()))
    return f"{folder}: skipped {sum(skipped.values())} file(s) ({parts})"

