"""The one worker pool: jobs run in spawned processes; a worker that dies (killed, out of memory) is a failed
job with a one-line reason, never a hang, and the other jobs finish.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import signal
import time
from collections.abc import Callable, Iterator

from uhr4k.core.records import Failure


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

