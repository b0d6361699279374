"""The kernel-level figures behind this project's CPU speed choices, each beside its alternative, in one process.

1. GLSGN's attention gate in channels-last bf16: ``features * gate`` broadcasting a one-channel gate over
   the channels, against expanding the gate first (``uhr4k.models.archs.glsgn.blocks.apply_gate``).
2. bf16 against fp32 element-wise kernels (LeakyReLU, tanh, add) on a channels-last GLSGN-sized map.
3. OpenCV's separable filter from uint16, int16 and float32 maps (the SSIM tile's inputs).
4. SSIM of a 4K plane triple on one thread: 64 x 960 tiles against full-width strips of 128 rows.
5. What a DataLoader with two workers moves per second when an item is an empty 3 x 540 x 960 pair:
   float32 against uint8 (the cost of the transfer alone, without making the crops).

    PYTHONPATH=. python benchmarks/cpu_kernels.py [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from uhr4k.benchmark import metrics
from uhr4k.models.archs.glsgn.blocks import apply_gate


def ms(fn, repeats: int = 10) -> float:
    """Milliseconds per call, after one untimed call."""
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1e3


def cpu_s(fn) -> float:
    """CPU seconds of one call (the minimum of two)."""
    best = float("inf")
    for _ in range(2):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


class EmptyPairs(Dataset):
    def __init__(self, dtype):
        self.dtype = dtype

    def __len__(self):
        return 10_000

    def __getitem__(self, i):
        return {key: torch.empty(3, 540, 960, dtype=self.dtype) for key in ("input", "target")}


def items_per_second(dtype, workers: int = 2, batches: int = 30) -> float:
    loader = iter(DataLoader(EmptyPairs(dtype), batch_size=4, num_workers=workers))
    next(loader)
    start = time.perf_counter()
    for _ in range(batches):
        next(loader)
    return batches * 4 / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads; load average "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    cl = torch.channels_last
    with torch.inference_mode():
        a = torch.rand(4, 16, 272, 480).to(torch.bfloat16).contiguous(memory_format=cl)
        g = torch.rand(4, 1, 272, 480).to(torch.bfloat16).contiguous(memory_format=cl)
        print(f"1. gate, bf16 channels-last 4x16x272x480: broadcast {ms(lambda: a * g):.2f} ms, "
              f"apply_gate (expand, then multiply) {ms(lambda: apply_gate(a, g)):.2f} ms")
        for dtype in (torch.bfloat16, torch.float32):
            t = a.to(dtype)
            print(f"2. {str(dtype)[6:]:>8} channels-last: leaky_relu_ {ms(lambda t=t: F.leaky_relu_(t, 0.2)):.2f} ms, "
                  f"tanh {ms(lambda t=t: torch.tanh(t)):.2f} ms, add {ms(lambda t=t: t + t):.2f} ms")
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    plane = rng.integers(0, 256, (138, 3840)).astype(np.uint8)
    k = metrics._gaussian_1d().astype(np.float32)
    for name, src in (("uint16", plane.astype(np.uint16)), ("int16", plane.astype(np.int16) - 128),
                      ("float32", plane.astype(np.float32))):
        print(f"3. sepFilter2D 11 taps of a 138x3840 {name:>7} map -> float32: "
              f"{ms(lambda s=src: cv2.sepFilter2D(s, cv2.CV_32F, k, k), 50):.2f} ms")
    torch.set_num_threads(1)
    base = rng.integers(0, 256, (2160, 3840, 3)).astype(np.uint8)
    other = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
    planes = [(np.ascontiguousarray(other[..., c]), np.ascontiguousarray(base[..., c])) for c in range(3)]
    tiles = cpu_s(lambda: metrics._ssim_planes(planes, "gaussian", np.float32))
    saved = metrics._TILE_ROWS, metrics._TILE_COLS
    metrics._TILE_ROWS, metrics._TILE_COLS = 128, 3840          # full-width strips, as before
    try:
        strips = cpu_s(lambda: metrics._ssim_planes(planes, "gaussian", np.float32))
    finally:
        metrics._TILE_ROWS, metrics._TILE_COLS = saved
    print(f"4. SSIM (rgb window) of a 4K pair on one thread: tiles {tiles:.3f} s, strips {strips:.3f} s CPU: "
          f"{strips / tiles:.1f}x")
    torch.set_num_threads(args.threads)
    f32, u8 = items_per_second(torch.float32), items_per_second(torch.uint8)
    print(f"5. DataLoader, 2 workers, empty 3x540x960 pairs: float32 {f32:.0f} items/s, uint8 {u8:.0f} items/s")


if __name__ == "__main__":
    main()
