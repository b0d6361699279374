"""Model size and cost: parameters, multiply-accumulates, runtime, peak memory.

Conventions (docs/paper.md, "Measuring"): MACs are ``FlopCounterMode`` total / 2 (it counts 2 FLOPs per
multiply-accumulate; papers that say "FLOPs" usually mean thop/ptflops MACs), counted at the true input
size because the global pathway and bilateral-grid models are not size-linear.
"""
from __future__ import annotations

import copy
import statistics
import time
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from uhr4k.core.allocator import release_free_memory


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """Returns (trainable, total) parameter counts; shared tensors are counted once."""
    seen, trainable, total = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
    return trainable, total


def count_macs(model: nn.Module, shape: tuple[int, int, int, int] = (1, 3, 2160, 3840),
               device: str | torch.device = "meta") -> int:
    """Multiply-accumulates of one forward pass on an input of ``shape`` (B, C, H, W).

    On the ``meta`` device no activation is allocated, so a 4K count costs no memory; the model is
    copied there and left untouched. Models whose forward needs real values (data-dependent control
    flow) can pass ``device="cpu"``.
    """
    device = torch.device(device)
    counted = copy.deepcopy(model).to(device) if device.type == "meta" else model
    counted.eval()
    x = torch.zeros(shape, device=device)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        counted(x)
    return counter.get_total_flops() // 2


# ------------------------------------------------------------------------------- runtime and memory


@dataclass
class Timing:
    """Runtime of one forward pass (seconds) and the peak memory it needed (bytes).

    ``peak_mem_bytes`` is CUDA ``max_memory_allocated`` on a GPU, the peak resident set of the whole
    process on a CPU (weights and data included). ``oom`` is True when the forward ran out of memory:
    then the times are NaN, a result rather than a crash.
    """

    median_s: float
    min_s: float
    max_s: float
    runs: int
    peak_mem_bytes: int
    device: str
    oom: bool = False
    note: str = ""

    @property
    def peak_mem_gb(self) -> float:
        return self.peak_mem_bytes / 1e9


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA OOM and for the CPU allocator's "can't allocate memory" errors."""
    if isinstance(exc, (torch.cuda.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device, release_heap: bool = False) -> None:
    """Start a new peak: CUDA peak stats, or the process's VmHWM (Linux ``/proc/self/clear_refs``).

    ``release_heap`` first hands free heap memory back (the command line keeps it otherwise, see
    :mod:`uhr4k.core.allocator`), so that the peak does not include what an earlier model left behind; the
    next forward then pays its own page faults again.
    """
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    if release_heap:
        release_free_memory()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")                      # resets the peak RSS counter to the current RSS
    except OSError:
        pass                              # other systems: the peak since the process started


def peak_memory(device: torch.device) -> int:
    """Bytes: CUDA max allocated since the last reset, or the process's peak resident set."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024   # kB on Linux


def time_forward(model: nn.Module, x: torch.Tensor, warmup: int = 1, repeats: int = 5) -> Timing:
    """Time ``model(x)`` under ``inference_mode``: ``warmup`` untimed runs, then the median of ``repeats``.

    The heap is emptied of earlier models' free memory before the warm-up (its peak is this model's alone),
    not before the timed runs, which reuse the warm-up's memory as a long job does.

    ``x`` (B, C, H, W) sits on the device to measure (the model is expected there too); GPU work is
    synchronized before each clock read, and disk I/O is not part of the figure.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    device = x.device
    model.eval()
    times = []
    try:
        with torch.inference_mode():
            release_free_memory()
            for _ in range(warmup):
                model(x)
            synchronize(device)
            reset_peak_memory(device)
            for _ in range(repeats):
                start = time.perf_counter()
                model(x)
                synchronize(device)
                times.append(time.perf_counter() - start)
    except Exception as exc:               # noqa: BLE001 - only out-of-memory is a result; the rest re-raises
        if not is_out_of_memory(exc):
            raise
        if device.type == "cuda":
            torch.cuda.empty_cache()
        nan = float("nan")
        return Timing(nan, nan, nan, 0, peak_memory(device), str(device), oom=True, note=str(exc).splitlines()[0])
    return Timing(statistics.median(times), min(times), max(times), len(times), peak_memory(device),
                  device_name(device))


def device_name(device: torch.device) -> str:
    """``cpu (N threads)`` or the CUDA device's name: the machine a figure was measured on."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"
