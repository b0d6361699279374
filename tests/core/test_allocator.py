"""uhr4k.core.allocator: after reuse_freed_memory, a freed 4K-sized block is reused instead of page-faulted in again.

Each check runs in a fresh interpreter: the setting changes the whole process for good.
"""
import os
import subprocess
import sys

import pytest

from uhr4k.core.allocator import OPT_OUT, _glibc

# Page faults of a 96 MB tensor written once after a 128 MB one was written and freed: with system malloc
# the first block went back to the kernel on free and the second comes as fresh pages (24,576 faults of
# 4 KB); with the setting it is carved from the freed block. (A second block of the same size may not fit
# the freed one, which alignment slack and small allocations in between can shorten.)
SECOND_ALLOCATION_FAULTS = r"""
import resource, sys
import torch
from uhr4k.core.allocator import reuse_freed_memory
applied = reuse_freed_memory() if sys.argv[1] == "reuse" else False
def faults_of_one_allocation(megabytes):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = torch.empty(megabytes * 2**20, dtype=torch.uint8)
    block.fill_(1)
    del block
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults_of_one_allocation(128)
print(applied, faults_of_one_allocation(96))
"""


def second_allocation(mode: str, env: dict | None = None) -> tuple[str, int]:
    done = subprocess.run([sys.executable, "-c", SECOND_ALLOCATION_FAULTS, mode], capture_output=True, text=True,
                          check=True, env={**os.environ, **(env or {})})
    applied, faults = done.stdout.split()
    return applied, int(faults)


@pytest.mark.skipif(not _glibc(), reason="the setting is for glibc's malloc")
def test_freed_block_is_reused_instead_of_faulted_in_again():
    applied, system_faults = second_allocation("system")
    assert applied == "False" and system_faults > 20_000       # 96 MB of fresh 4 KB pages
    applied, reused_faults = second_allocation("reuse")
    assert applied == "True" and reused_faults < 1_000


@pytest.mark.skipif(not _glibc(), reason="the setting is for glibc's malloc")
def test_environment_opt_out_leaves_malloc_alone():
    applied, faults = second_allocation("reuse", {OPT_OUT: "1"})
    assert applied == "False" and faults > 20_000


def test_cli_applies_it_before_a_command(monkeypatch):
    from click.testing import CliRunner

    import uhr4k.cli as cli

    calls = []
    monkeypatch.setattr(cli, "reuse_freed_memory", lambda: calls.append(1) or True)
    result = CliRunner().invoke(cli.cli, ["models", "--help"])
    assert result.exit_code == 0 and calls == [1]


PEAK_AFTER_RESET = r"""
import torch
from uhr4k.core.allocator import reuse_freed_memory
from uhr4k.benchmark.profiling import peak_memory, reset_peak_memory
def rss():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
reuse_freed_memory()
block = torch.empty(512 * 2**20, dtype=torch.uint8)
block.fill_(1)
del block
kept = rss()                                  # the freed 512 MB stay resident
reset_peak_memory(torch.device("cpu"))        # a plain reset keeps them (the timed runs reuse them)
held = peak_memory(torch.device("cpu"))
reset_peak_memory(torch.device("cpu"), release_heap=True)
small = torch.ones(16 * 2**20, dtype=torch.uint8)
print(kept, held, peak_memory(torch.device("cpu")))
"""


@pytest.mark.skipif(not _glibc() or not os.path.exists("/proc/self/clear_refs"), reason="glibc on Linux")
def test_a_new_peak_does_not_count_what_earlier_work_left_free():
    done = subprocess.run([sys.executable, "-c", PEAK_AFTER_RESET], capture_output=True, text=True, check=True)
    kept, held, peak = (int(v) for v in done.stdout.split())
    assert held >= kept - 16 * 2**20
    assert peak < kept - 400 * 2**20
