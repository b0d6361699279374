"""Named demo steps whose results are recorded, so an interrupted demo rerun reuses finished steps.

A step's record ``<out>/.demo/<name>.json`` holds its result, its duration and the key of the options
it ran with; it is written atomically after the step's files are complete. A rerun with the same key
reuses the record (the step's own pipeline is resumable too, so a step killed half-way restarts cheaply).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from uhr4k.core.records import RecordStore, digest


class StepRunner:
    """Runs steps in order; ``timings`` maps each step to (seconds, reused). Records live in a
    :class:`uhr4k.core.records.RecordStore` keyed by the :func:`uhr4k.core.records.digest` of the demo's
    options."""

    def __init__(self, out: Path, options: dict):
        self.out = Path(out)
        self.records = RecordStore(self.out / ".demo")
        self.key = digest(options)
        self.timings: dict[str, tuple[float, bool]] = {}

    def run(self, name: str, fn: Callable[[], dict], echo: Callable[[str], None] = print) -> dict:
        record = self.records.get(name, self.key)
        if record is not None:
            self.timings[name] = (record["seconds"], True)
            echo(f"[{name}] reused ({record['seconds']:.1f} s when it ran)")
            return record["result"]
        echo(f"[{name}] running")
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
        self.records.put(name, self.key, json.loads(json.dumps({"seconds": seconds, "result": result},
                                                               default=str)))
        self.timings[name] = (seconds, False)
        echo(f"[{name}] done in {seconds:.1f} s")
        return result
