"""What every resumable pipeline shares (build-syn, align, cache, split, merge, train).

- :func:`fingerprint` of an input file (size and modification time: what changed since);
- :func:`inside` and :func:`verify`: every path read from a manifest, record or config stays inside its
  root, and a row's files still have their recorded SHA-256;
- :class:`RecordStore`: one JSON record per finished item, keyed by what decided it, written atomically;
- :func:`derive_seed`: the one way a seed is derived from ``(seed, part, ...)``;
- :class:`Failure` ``(stage, id, file, reason)`` and ``failures.csv``;
- :func:`run_jobs`: one worker runner (spawned processes); a worker that dies (killed, out of memory) is
  a failed job with a one-line reason, never a hang; the other jobs finish;
- :func:`lock_root`: one process per output root (``ROOT/.uhr4k/lock``); a second one stops at once with
  ``error: ROOT: in use by process PID (started ...)``; the lock of a dead process is taken over (it is
  an ``flock``, which the kernel drops when its holder dies);
- :func:`remove_stale_temporaries`: start-up clean-up of temporary files whose writer is gone.

Temporary files are named ``.<stem>.<pid>-<random><suffix>.part`` (:func:`uhr4k.files.atomic_path`), so
clean-up can tell a dead writer's file from a live one's.
"""
from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import io as _io
import json
import multiprocessing
import os
import re
import signal
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from uhr4k.errors import InputError
from uhr4k.files import sha256_file, write_text_atomic

STATE_DIR = ".uhr4k"          # private state of a root: records, plans, the lock
LOCK_NAME = "lock"
FAILURES_NAME = "failures.csv"
HASHED_COLUMNS = (("input", "sha256_input"), ("target", "sha256_target"), ("layer", "sha256_layer"))
_TEMP = re.compile(r"\.(\d+)-[0-9a-f]{8}(\.[^.]*)?\.part$")   # files.temp_name


# ------------------------------------------------------------------------------- inputs and outputs


def fingerprint(path: str | os.PathLike) -> list[int]:
    """``[size in bytes, modification time in ns]`` of a file: changes whenever the file is replaced."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


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


def derive_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed from ``seed`` and ``parts`` only (never the order of processing or the worker)."""
    text = "/".join(str(p) for p in (seed, *parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def safe_id(item_id: str) -> str:
    """``item_id`` when it can be a file name of its own (records are named by it), else InputError."""
    if not item_id or item_id in (".", "..") or "/" in item_id or "\\" in item_id or "\x00" in item_id:
        raise InputError(f"id {item_id!r} cannot name a file")
    return item_id


class RecordStore:
    """One JSON record per finished item under ``folder``: ``{"key": ..., "data": ...}``.

    ``key`` is whatever decided the item (inputs' fingerprints, options, code version); :meth:`get`
    returns the data only while the key still matches, so a changed input is redone.
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def path(self, item_id: str) -> Path:
        return self.folder / f"{safe_id(item_id)}.json"

    def get(self, item_id: str, key) -> dict | None:
        try:
            record = json.loads(self.path(item_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("key") != json.loads(json.dumps(key)):
            return None
        return record.get("data")

    def put(self, item_id: str, key, data) -> None:
        write_text_atomic(self.path(item_id), json.dumps({"key": key, "data": data}, sort_keys=True))

    def ids(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.json")) if self.folder.is_dir() else []

    def keep_only(self, ids: Iterable[str]) -> None:
        """Remove the records of items no longer planned."""
        keep = set(ids)
        for item_id in self.ids():
            if item_id not in keep:
                self.path(item_id).unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------ failures


@dataclass(frozen=True, order=True)
class Failure:
    """One bad input: where it happened, the item, the file and why; one line ``<file>: <reason>``."""

    stage: str
    id: str
    file: str
    reason: str

    def line(self) -> str:
        return f"{self.file}: {self.reason}" if self.file else f"{self.id}: {self.reason}"


def write_failures(root: str | os.PathLike, failures: Iterable[Failure]) -> Path:
    """``ROOT/failures.csv``: stage, id, file, reason; de-duplicated and sorted (stable bytes)."""
    buf = _io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["stage", "id", "file", "reason"])
    writer.writerows((f.stage, f.id, f.file, f.reason) for f in sorted(set(failures)))
    path = Path(root) / FAILURES_NAME
    write_text_atomic(path, buf.getvalue())
    return path


def read_failures(root: str | os.PathLike) -> list[Failure]:
    path = Path(root) / FAILURES_NAME
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or not {"stage", "id", "file", "reason"} <= set(reader.fieldnames):
            raise InputError("not a uhr4k failures file (columns stage, id, file, reason)", path)
        return [Failure(r["stage"] or "", r["id"] or "", r["file"] or "", r["reason"] or "") for r in reader]


# --------------------------------------------------------------------------------------- the runner


def _worker_main(conn, fn) -> None:
    """Loop of one worker process: receive ``(index, job)``, send back ``(index, ok, value)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        index, job = message
        try:
            conn.send((index, True, fn(job)))
        except BaseException as exc:  # sent back and raised in the main process
            try:
                conn.send((index, False, exc))
            except Exception:
                conn.send((index, False, RuntimeError(f"{type(exc).__name__}: {exc}")))


def _death_reason(process) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (killed; out of memory?)" if -code == signal.SIGKILL else ""
        return f"worker process died with {name}{hint}"
    return f"worker process died (exit status {code})"


def run_jobs(fn: Callable, jobs: list, workers: int = 1, *, desc: str = "", unit: str = "job",
             progress: bool = True, stage: str = "", ids: list[str] | None = None
             ) -> Iterator[tuple[int, object]]:
    """Run ``fn(job)`` for every job; yield ``(index, result)`` as each finishes (in completion order).

    ``workers`` > 1 runs the jobs in that many spawned processes (``fn`` and jobs must be picklable). A
    worker that dies while running a job (SIGKILL, the OOM killer, a crash in native code) yields a
    :class:`Failure` ``(stage, ids[index], "", reason)`` for that job instead of its result, a new
    worker takes its place and the other jobs finish. An exception raised by ``fn`` is raised here.
    """
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc=desc, unit=unit, disable=not progress or not jobs, leave=False)
    try:
        if workers <= 1 or len(jobs) <= 1:
            for index, job in enumerate(jobs):
                yield index, fn(job)
                bar.update(1)
            return
        yield from _run_in_processes(fn, jobs, min(workers, len(jobs)), bar, stage, ids)
    finally:
        bar.close()


class _Workers:
    """Spawned worker processes, each fed one job at a time through its own pipe; the main process
    waits on the pipes and on the processes' sentinels, so a worker's death is seen at once."""

    def __init__(self, fn, jobs: list, count: int, stage: str, ids: list[str] | None):
        self.fn, self.jobs, self.stage, self.ids = fn, jobs, stage, ids
        self.ctx = multiprocessing.get_context("spawn")
        self.pending = list(range(len(jobs)))[::-1]
        self.busy: dict = {}   # process -> [pipe, index of its job or None]
        for _ in range(count):
            self._feed(self._start())

    def _start(self):
        parent, child = self.ctx.Pipe()
        process = self.ctx.Process(target=_worker_main, args=(child, self.fn), daemon=True)
        process.start()
        child.close()
        self.busy[process] = [parent, None]
        return process

    def _feed(self, process) -> None:
        """The next job to ``process`` (None: no more). A worker that died after its last answer cannot be
        fed: the job goes back to the queue, and the death is reaped (and replaced) like any other."""
        entry = self.busy[process]
        index = self.pending.pop() if self.pending else None
        try:
            entry[0].send(None if index is None else (index, self.jobs[index]))
            entry[1] = index
        except (BrokenPipeError, ConnectionResetError):
            if index is not None:
                self.pending.append(index)
            entry[1] = None

    def _answer(self, process):
        """The (index, value) a worker sent, or None when it has nothing (it died); raises its exception."""
        entry = self.busy[process]
        try:
            index, ok, value = entry[0].recv()
        except (EOFError, OSError):
            return None
        entry[1] = None
        if not ok:
            raise value
        return index, value

    def finished(self) -> Iterator[tuple[int, object]]:
        """Wait for the next answers and deaths; yield ``(index, result or Failure)`` for each."""
        from multiprocessing.connection import wait

        pipes = {entry[0]: p for p, entry in self.busy.items()}
        for ready in wait(list(pipes) + [p.sentinel for p in self.busy]):
            if ready in pipes and (answer := self._answer(pipes[ready])) is not None:
                yield answer
                self._feed(pipes[ready])
        for process in [p for p in self.busy if not p.is_alive()]:
            if self.busy[process][0].poll() and (answer := self._answer(process)) is not None:
                yield answer     # it answered before it died
            pipe, index = self.busy.pop(process)
            pipe.close()
            if index is not None:
                yield index, Failure(self.stage, self.ids[index] if self.ids else str(index), "",
                                     _death_reason(process))
            if self.pending:
                self._feed(self._start())

    def close(self) -> None:
        for pipe, _ in self.busy.values():
            with contextlib.suppress(OSError, ValueError):
                pipe.send(None)
            pipe.close()
        deadline = time.monotonic() + 5
        for process in self.busy:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()


def _run_in_processes(fn, jobs, workers, bar, stage, ids):
    pool = _Workers(fn, jobs, workers, stage, ids)
    left = len(jobs)
    try:
        while left:
            for answer in pool.finished():
                left -= 1
                bar.update(1)
                yield answer
    finally:
        pool.close()


# ----------------------------------------------------------------------------------------- the lock


class RootLock:
    """The held lock of one output root; :meth:`release` (or the process's end, even by SIGKILL) frees it."""

    def __init__(self, path: Path, fd: int):
        self.path, self._fd = path, fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)   # releases the flock
            self._fd = None
            held = globals().get("_HELD")   # None while the interpreter shuts down
            if held and held.get(os.path.abspath(self.path)) is self:
                del held[os.path.abspath(self.path)]

    __del__ = release


_HELD: dict[str, RootLock] = {}   # locks this process holds: one left by an exception is taken over


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


# ------------------------------------------------------------------------------------------ clean-up


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
                if match and _alive(int(match.group(1))):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(dirpath, name))
                    removed += 1
    return removed
