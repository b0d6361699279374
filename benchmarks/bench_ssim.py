"""SSIM at 4K: uhr4k's torch SSIM (per image) against scikit-image and our numpy/OpenCV path, one process.

Run: python benchmarks/bench_ssim.py [--repeats 3] [--size 3840x2160]
Prints per-call times (median), the speed-up over scikit-image, and the largest difference in value.
The pair is a real photo (Kodak kodim03 from ../shared/data, else scikit-image's astronaut) resized to
4K and a noisy copy of it: a restored image's worth of texture, not random noise.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from skimage.metrics import structural_similarity

from uhr4k.benchmark import metrics

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "media" / "kodim03_768x512.png"


def make_pair(width, height):
    if SHARED.is_file():
        from uhr4k.core.images import read_image
        base = read_image(SHARED)
    else:
        from skimage import data
        base = data.astronaut()
    target = cv2.resize(base, (width, height), interpolation=cv2.INTER_CUBIC)
    noise = np.random.default_rng(0).normal(0, 8, target.shape)
    pred = np.clip(target + noise, 0, 255).astype(np.uint8)
    return pred, target


def timed(fn, repeats):
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", default="3840x2160")
    parser.add_argument("--device", default="cpu", help="device of the torch SSIM (cuda to time a GPU)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    pred, target = make_pair(width, height)
    tp = (torch.from_numpy(pred).permute(2, 0, 1)[None].float() / 255).to(args.device)
    tt = (torch.from_numpy(target).permute(2, 0, 1)[None].float() / 255).to(args.device)
    print(f"SSIM of one {width}x{height} RGB pair, median of {args.repeats}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, torch SSIM on {args.device}")
    rows = []
    for protocol, sk_kwargs in (("rgb", dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)),
                                ("bandwise", {})):
        # default arguments bind this iteration's values (timed() calls the lambdas right away anyway)
        t_sk, v_sk = timed(lambda kw=sk_kwargs: structural_similarity(pred, target, channel_axis=2, data_range=255,
                                                                      **kw), args.repeats)
        t_np, v_np = timed(lambda p=protocol: metrics.ssim(pred, target, p), args.repeats)
        with torch.inference_mode():
            metrics.ssim_torch(tp, tt, protocol)                    # warm-up
            t_th, v_th = timed(lambda p=protocol: metrics.ssim_torch(tp, tt, p).item(), args.repeats)
        rows.append((protocol, t_sk, t_np, t_th, max(abs(v_np - v_sk), abs(v_th - v_sk))))
    print(f"{'protocol':<10}{'scikit-image':>14}{'uhr4k numpy':>14}{'uhr4k torch':>14}{'torch speed-up':>16}"
          f"{'max |diff|':>12}")
    for protocol, t_sk, t_np, t_th, diff in rows:
        print(f"{protocol:<10}{t_sk:>13.3f}s{t_np:>13.3f}s{t_th:>13.3f}s{t_sk / t_th:>15.1f}x{diff:>12.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
