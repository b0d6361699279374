"""One process per output root: ``ROOT/.uhr4k/lock``, an ``flock`` the kernel drops when its holder dies.

A second process stops at once with ``error: ROOT: in use by process PID (started ...)``; the lock of a
dead process is taken over.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from uhr4k.core.errors import InputError

_HELD: dict[str, RootLock] = {}   # locks this process holds: one left by an exception is taken over

STATE_DIR = ".uhr4k"          # private state of a root: records, plans, the lock


LOCK_NAME = "lock"


class RootLock:
    """The held lock of one output root; :meth:`release` (or the process's end, even by SIGKILL) frees it."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)   # releases the flock
            self._fd = None
            held = globals().get("_HELD")   # None while the interpreter shuts down
            if held and held.get(os.path.abspath(self.path)) is self:
                del held[os.path.abspath(self.path)]

    __del__ = release


def acquire_lock(root: str | os.PathLike, command: str = "") -> RootLock:
    """Take ``ROOT/.uhr4k/lock`` (creating ROOT): one writing process per output root.

    Raises:
        InputError: ``"ROOT: in use by process PID (started ...)"`` when a live process holds it, or
        ``ROOT`` is a file.
    """
    import fcntl

    root = Path(root)
    if root.exists() and not root.is_dir():
        raise InputError("not a folder (--out must be a folder)", root)
    folder = root / STATE_DIR
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InputError("not a folder", folder) from None
    except OSError as exc:
        raise InputError(os.strerror(exc.errno).lower() if exc.errno else str(exc), folder) from None
    path = folder / LOCK_NAME
    if os.path.abspath(path) in _HELD:
        _HELD[os.path.abspath(path)].release()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        raise InputError(f"in use by {_holder(path)}", root) from None
    # the holder's identity, for the message a second process prints (the flock is what locks; a dead
    # holder's file stays behind and is simply taken over)
    info = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    lock = _HELD[os.path.abspath(path)] = RootLock(path, fd)
    return lock


@contextlib.contextmanager
def lock_root(root: str | os.PathLike, command: str = "") -> Iterator[Path]:
    """Hold the root's lock (:func:`acquire_lock`) while the block runs."""
    lock = acquire_lock(root, command)
    try:
        yield lock.path
    finally:
        lock.release()


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text())
        where = f" on {info['host']}" if info.get("host") and info["host"] != socket.gethostname() else ""
        what = f", {info['command']}" if info.get("command") else ""
        return f"process {info['pid']}{where} (started {info['started']}{what})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


