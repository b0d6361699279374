"""DCP at 4K on the CPU: the minimum filter and the whole method, our paths against the alternatives.

DCP's patch is 15 px at 400 px and scales with the image: 81 x 81 at 3840 x 2160. Compared in one
process on the same random (1, 1, 2160, 3840) image, results checked equal:

- ``running min``: the torch path of :func:`uhr4k.models.archs.dcp.min_filter` (GPU, meta): separable van
  Herk / Gil-Werman running minimum (cummin over blocks; O(1) per pixel);
- ``max-pool``: the obvious torch alternative, separable ``-max_pool2d(-x)`` (O(window) per pixel);
- ``cv2.erode``: OpenCV's erosion with an 81 x 81 rectangle, the path ``min_filter`` takes for CPU tensors.

Then the whole DCP on a 4K image, with its CPU (OpenCV) path and with the torch-only path.

    python benchmarks/dcp_min_filter.py [--size 81] [--repeats 3] [--threads 1]
"""
from __future__ import annotations

import argparse
import statistics
import time

import cv2
import torch
import torch.nn.functional as F

import uhr4k.models.archs.dcp as dcp_module
from uhr4k.models.archs.dcp import DarkChannelPrior, running_min


def maxpool_min_filter(x: torch.Tensor, size: int) -> torch.Tensor:
    """The alternative: separable minimum via max-pooling of the negated image, edges replicated."""
    r = size // 2
    x = F.pad(x, (0, 0, r, r), mode="replicate")
    x = -F.max_pool2d(-x, (size, 1), stride=1)
    x = F.pad(x, (r, r, 0, 0), mode="replicate")
    return -F.max_pool2d(-x, (1, size), stride=1)


def erode(x: torch.Tensor, size: int) -> torch.Tensor:
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    out = cv2.erode(x[0, 0].numpy(), kernel, borderType=cv2.BORDER_REPLICATE)
    return torch.from_numpy(out)[None, None]


def median_time(fn, repeats: int) -> tuple[float, torch.Tensor]:
    out = fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=81, help="window side (DCP at 4K: 81)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    x = torch.rand(1, 1, 2160, 3840, generator=torch.Generator().manual_seed(0))

    k = args.size
    t_run, ours = median_time(lambda: running_min(running_min(x, k, 2), k, 3), args.repeats)
    t_pool, pooled = median_time(lambda: maxpool_min_filter(x, k), args.repeats)
    t_cv, eroded = median_time(lambda: erode(x, k), args.repeats)
    assert torch.equal(ours, pooled) and torch.equal(ours, eroded), "the three minimum filters disagree"
    print(f"minimum filter {k}x{k} on 3840x2160, {args.threads} thread(s), median of {args.repeats}:")
    print(f"  cv2.erode (CPU path)    {t_cv:7.3f} s")
    print(f"  running min (torch)     {t_run:7.3f} s   {t_run / t_cv:.1f}x the CPU path")
    print(f"  max-pool (torch)        {t_pool:7.3f} s   {t_pool / t_run:.1f}x the running min")

    image = torch.rand(1, 3, 2160, 3840, generator=torch.Generator().manual_seed(1))
    dcp = DarkChannelPrior()
    with torch.inference_mode():
        t_cpu_path, fast = median_time(lambda: dcp(image), 1)
        eligible = dcp_module._opencv_eligible
        dcp_module._opencv_eligible = lambda t: False  # force the torch-only path
        try:
            t_torch_path, slow = median_time(lambda: dcp(image), 1)
        finally:
            dcp_module._opencv_eligible = eligible
    print(f"whole DCP on a 3840x2160 image: {t_cpu_path:.2f} s (OpenCV path), {t_torch_path:.2f} s (torch path), "
          f"{t_torch_path / t_cpu_path:.1f}x; max difference {(fast - slow).abs().max().item():.2e}")


if __name__ == "__main__":
    main()
