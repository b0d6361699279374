"""Atomic writes and hashing: every file goes to a temporary name in its folder and is renamed into place,
so a file under its final name is always complete.

Temporary files are named ``.<stem>.<pid>-<random><suffix>.part`` (:func:`temp_name`), so the start-up
clean-up (:func:`remove_stale_temporaries`) can tell a dead writer's file from a live one's.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from pathlib import Path
from typing import Iterator

from uhr4k.core.errors import DISK_ERRORS, InputError


def temp_name(path: Path) -> Path:
    """``.<stem>.<pid>-<random><suffix>.part`` beside ``path``: hidden, recognisable as a temporary, and
    naming its writer so that start-up clean-up (:func:`uhr4k.core.atomic.remove_stale_temporaries`) can tell
    a dead run's leftovers from a live one's files."""
    return path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(4)}{path.suffix}.part")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds.

    The temporary file exists (empty) when the block starts; it is created with the permissions the
    umask gives (as ``open`` would), not ``mkstemp``'s 0600, so a dataset on a shared server can be read
    by others. It keeps the real suffix before ``.part`` so that writers looking at the suffix work.

    Raises:
        InputError: ``"<path>: no space left on device"`` (or permission denied, read-only file system)
        when the disk refuses the write; nothing is left under either name.
    """
    path = Path(path)
    tmp = None
    try:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InputError("not a folder (a file is in the way)", _first_file(path.parent)) from None
        tmp = temp_name(path)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno in DISK_ERRORS:
            raise InputError(DISK_ERRORS[exc.errno], path) from None
        raise
    finally:
        if tmp is not None and tmp.exists():
            tmp.unlink()


def _first_file(folder: Path) -> Path:
    """The first component of ``folder`` that exists and is not a folder."""
    for p in (*reversed(folder.parents), folder):
        if p.exists() and not p.is_dir():
            return p
    return folder


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, then rename)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()



_TEMP = re.compile(r"\.(\d+)-[0-9a-f]{8}(\.[^.]*)?\.part$")   # temp_name's pattern


def remove_stale_temporaries(*folders: str | os.PathLike) -> int:
    """Remove temporary ``.*.part`` files under ``folders`` whose writer process is gone; return how many.

    A file of a live process (ours, a worker, another run) is left alone, so no run deletes another's
    files in flight. A name without a process id (older versions) counts as gone.
    """
    removed = 0
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for dirpath, _, names in os.walk(folder):
            for name in names:
                if not (name.startswith(".") and name.endswith(".part")):
                    continue
                match = _TEMP.search(name)
                if match and process_alive(int(match.group(1))):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(dirpath, name))
                    removed += 1
    return removed



def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

