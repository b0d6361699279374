"""How long `uhr4k models` takes: the old way (build every model with real weights, count MACs at 4K)
against the new one (build on the meta device, parameters only; then the same from the cache).

Run: python benchmarks/models_listing.py   (prints seconds per way and the ratio; the import of torch
and of the model modules, common to both, is done once before timing). Then whole fresh processes with an
empty user cache, as after an install: answered from the package's shipped facts, and with those hidden.
"""
import contextlib
import os
import subprocess
import sys
import tempfile
import time

from uhr4k.benchmark.profiling import count_macs, count_parameters
from uhr4k.commands.model_facts import ModelFacts
from uhr4k.commands.models import model_rows
from uhr4k.models import create_model, list_models


def old_way(names):
    for name in names:
        model = create_model(name)
        count_parameters(model)
        with contextlib.suppress(Exception):   # as the old command: a model that cannot be counted is n/a
            count_macs(model, (1, 3, 2160, 3840))


def main():
    names = list_models()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["UHR4K_CACHE"] = tmp
        start = time.perf_counter()
        old_way(names)
        old = time.perf_counter() - start
        start = time.perf_counter()
        model_rows(names, None, ModelFacts())
        cold = time.perf_counter() - start
        start = time.perf_counter()
        model_rows(names, None, ModelFacts())
        warm = time.perf_counter() - start
    print(f"{len(names)} models: old (real build + 4K MACs) {old:.2f} s; meta build, parameters {cold:.2f} s "
          f"({old / cold:.0f}x); cached {warm:.3f} s ({old / warm:.0f}x); plus ~1.5 s of imports in a fresh process")


# a fresh `uhr4k models` process; HIDE points the shipped facts at a file that does not exist
PROBE = """import sys, time
start = time.perf_counter()
import uhr4k.commands.model_facts as facts
if sys.argv[1] == 'hide':
    facts.SHIPPED = facts.SHIPPED.with_name('absent.json')
from click.testing import CliRunner
from uhr4k.cli import cli
result = CliRunner().invoke(cli, ['models'])
assert result.exit_code == 0, result.output
print(time.perf_counter() - start, 'torch' in sys.modules)
"""


def fresh_process(mode: str) -> tuple[float, float, bool]:
    """(wall seconds of the whole process, seconds inside it, whether it imported torch)."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True,
                             env={**os.environ, "UHR4K_CACHE": tmp}).stdout.split()
        return time.perf_counter() - start, float(out[0]), out[1] == "True"


def fresh_processes():
    shipped, hidden = fresh_process("use"), fresh_process("hide")
    print(f"first `uhr4k models` after an install (fresh process, empty cache): shipped facts {shipped[0]:.2f} s "
          f"(torch imported: {shipped[2]}); without them {hidden[0]:.2f} s (torch imported: {hidden[2]}); "
          f"{hidden[0] / shipped[0]:.0f}x; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
    fresh_processes()
