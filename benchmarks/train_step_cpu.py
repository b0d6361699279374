"""One CPU training step of a small GLSGN, fp32 against bf16 autocast (with channels-last; compiled with
``--compile``), in one process.

The step is what ``uhr4k train`` does (``uhr4k.models.train.loop.train_step``): forward under the run's
autocast, the multi-stage L1 loss of eq. 8 (perceptual and adversarial weights 0: no VGG download, and a
pixel-loss step is the part whose precision matters), backward, Adam. GLSGN at ``--width`` channels on a
batch of ``--batch`` random crops of ``--crop``; the variants alternate step by step (so a change in the
machine's load hits all of them alike), ``--warmup`` untimed rounds, then the median of ``--steps``.
Prints wall and CPU time (user + system of this process) per step and the speed-ups over fp32. Like
``uhr4k train``, the process keeps freed memory for reuse (:mod:`uhr4k.core.allocator`) unless ``--system-malloc``.

    PYTHONPATH=. nice python benchmarks/train_step_cpu.py [--width 8] [--batch 2] [--crop 256x256] [--steps 5]
        [--compile]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

import torch

from uhr4k.core.allocator import reuse_freed_memory
from uhr4k.core.speed import Speed
from uhr4k.models.archs.glsgn.model import GLSGN
from uhr4k.models.losses import build_loss, loss_value

VARIANTS = {"fp32": Speed(), "bf16": Speed("bf16"), "bf16+channels_last": Speed("bf16", channels_last=True)}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def make_step(speed: Speed, width: int):
    torch.manual_seed(0)
    model = GLSGN(width=width).train()
    if speed.channels_last:
        model.to(memory_format=torch.channels_last)
    criterion = build_loss("glsgn", perceptual_weight=0.0, adversarial_weight=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
    forward = torch.compile(model) if speed.compile else model      # as uhr4k train --compile (not frozen)

    def step(x, y):
        x, y = speed.prepare_input(x), speed.prepare_input(y)
        with speed.autocast("cpu"):
            total, _ = loss_value(criterion, forward(x), y, x)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        return total.item()
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--crop", default="256x256")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compile", action="store_true",
                        help="also bf16 + channels-last compiled by inductor (its first step, the compilation, "
                             "is timed apart: minutes)")
    parser.add_argument("--system-malloc", action="store_true",
                        help="leave glibc's malloc as it is (uhr4k train keeps freed memory for reuse)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    allocator = "system malloc" if args.system_malloc or not reuse_freed_memory() else "freed memory reused"
    w, h = (int(v) for v in args.crop.split("x"))
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(args.batch, 3, h, w, generator=g), torch.rand(args.batch, 3, h, w, generator=g)
    variants = dict(VARIANTS)
    if args.compile:
        variants["bf16+channels_last+compile"] = Speed("bf16", channels_last=True, compile=True)
    steps = {name: make_step(speed, args.width) for name, speed in variants.items()}
    print(f"GLSGN width {args.width}, batch {args.batch} of {w}x{h}, multi-stage L1 + Adam, {args.threads} threads, "
          f"torch {torch.__version__}, {allocator}; load average "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}", flush=True)
    if args.compile:
        start = time.perf_counter()
        steps["bf16+channels_last+compile"](x, y)
        print(f"compiling the bf16 + channels-last step took {time.perf_counter() - start:.0f} s", flush=True)
    wall = {name: [] for name in steps}
    cpu = {name: [] for name in steps}
    losses = {name: [] for name in steps}
    for i in range(args.warmup + args.steps):
        for name, step in steps.items():
            start, cpu_start = time.perf_counter(), cpu_seconds()
            losses[name].append(step(x, y))
            if i >= args.warmup:
                wall[name].append(time.perf_counter() - start)
                cpu[name].append(cpu_seconds() - cpu_start)
    base_wall, base_cpu = statistics.median(wall["fp32"]), statistics.median(cpu["fp32"])
    for name in steps:
        mw, mc = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"{name:26s} wall {mw:6.2f} s/step  CPU {mc:6.2f} s/step  speed-up wall {base_wall / mw:.2f}x, "
              f"CPU {base_cpu / mc:.2f}x  loss {losses[name][0]:.4f} -> {losses[name][-1]:.4f}", flush=True)
    print(f"load average at the end: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
