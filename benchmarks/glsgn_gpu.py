"""GLSGN at 3840 x 2160 on a GPU: runtime and peak memory, next to the paper's Table IV (RTX 3090:
0.082 s, 8.626 GB).

Runs ``glsgn`` (random weights: speed and memory do not depend on them) in eval mode under
``torch.inference_mode``: warm-up runs at the same shape, then ``--runs`` timed runs, each closed by
``torch.cuda.synchronize``; prints the median and the spread. Peak memory is
``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats`` (the input included). Two
chunkings of the local pathways' patches (4 per chunk, the default, and all 16 at once, which is what
an unchunked implementation does) and three precisions (fp32, bf16 and fp16 autocast). An
out-of-memory is reported as a result, not a crash.

With ``--speeds`` (labels of :class:`uhr4k.core.speed.Speed`, e.g.
``fp16+channels_last,fp16+channels_last+compile``) also those switches at the default chunking, through
the wrapper ``uhr4k bench --precision/--channels-last/--compile`` uses (compilation before the warm-up).

With ``--train``, also one training step of the paper's set-up: batch 4 of 960 x 540 crops, the full
loss of eq. 11 (VGG-19 perceptual distance with random weights: the cost is that of the pretrained
ones; spectral-normalized discriminator), Adam for the generator, then the discriminator's hinge step.

    PYTHONPATH=. python benchmarks/glsgn_gpu.py [--runs 7] [--warmup 3] [--train]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from uhr4k.benchmark.profiling import count_parameters
from uhr4k.models.archs.glsgn.model import GLSGN
from uhr4k.models.archs.vgg import VGG19Features
from uhr4k.models.losses.glsgn import GLSGNLoss

PAPER = "paper Table IV (RTX 3090, fp32 presumably): 0.082 s, 8.626 GB"


def measure(model, x, runs: int, warmup: int, dtype):
    """Returns (median s, min s, max s, peak GiB) or raises torch.cuda.OutOfMemoryError."""
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    times = []
    with torch.inference_mode(), torch.autocast("cuda", dtype=dtype, enabled=dtype is not None):
        for i in range(warmup + runs):
            torch.cuda.synchronize()
            start = time.perf_counter()
            model(x)
            torch.cuda.synchronize()
            if i >= warmup:
                times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() / 2 ** 30
    return statistics.median(times), min(times), max(times), peak


def measure_training(runs: int, warmup: int, dtype) -> tuple[float, float, float, float]:
    """One generator + discriminator step, batch 4 of 960x540: (median s, min s, max s, peak GiB)."""
    torch.manual_seed(0)
    model = GLSGN().cuda().train()
    loss = GLSGNLoss(vgg=VGG19Features()).cuda()
    g_opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    d_opt = torch.optim.Adam(loss.discriminator.parameters(), lr=2e-4)
    x, y = torch.rand(4, 3, 540, 960, device="cuda"), torch.rand(4, 3, 540, 960, device="cuda")
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(warmup + runs):
        torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast("cuda", dtype=dtype, enabled=dtype is not None):
            outputs = model(x)
            total, _ = loss(outputs, y, inputs=x)
        g_opt.zero_grad(set_to_none=True)
        total.backward()
        g_opt.step()
        d_opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=dtype, enabled=dtype is not None):
            d_loss = loss.discriminator_loss(outputs, y, inputs=x)
        d_loss.backward()
        d_opt.step()
        torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times), torch.cuda.max_memory_allocated() / 2 ** 30


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--height", type=int, default=2160)
    parser.add_argument("--width", type=int, default=3840)
    parser.add_argument("--train", action="store_true", help="also time a training step (batch 4, 960x540)")
    parser.add_argument("--speeds", default="", help="comma-separated Speed labels to time as well")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device")
    torch.backends.cudnn.benchmark = True
    print(f"device: {torch.cuda.get_device_name(0)}; torch {torch.__version__}; CUDA {torch.version.cuda}; "
          f"cuDNN {torch.backends.cudnn.version()}")
    torch.manual_seed(0)
    model = GLSGN().cuda().eval()
    print(f"glsgn: {count_parameters(model)[1] / 1e6:.3f} M parameters; input 1x3x{args.height}x{args.width}; {PAPER}")
    x = torch.rand(1, 3, args.height, args.width, device="cuda")
    reference = None
    for chunk in (4, 16):
        model.patch_chunk = chunk
        with torch.inference_mode():
            out = model(x)[0].float()
        if reference is None:
            reference = out
        else:
            print(f"  max |difference| chunk 4 vs chunk {chunk}: {(out - reference).abs().max().item():.2e}")
        for label, dtype in (("fp32", None), ("bf16 autocast", torch.bfloat16), ("fp16 autocast", torch.float16)):
            try:
                med, lo, hi, peak = measure(model, x, args.runs, args.warmup, dtype)
                print(f"chunk {chunk:2d} {label:14s} median {med:.4f} s (min {lo:.4f}, max {hi:.4f}, "
                      f"{args.runs} runs)  peak {peak:.2f} GiB ({peak * 2 ** 30 / 1e9:.2f} GB)", flush=True)
            except torch.cuda.OutOfMemoryError:
                print(f"chunk {chunk:2d} {label:14s} out of memory", flush=True)
    for label in filter(None, args.speeds.split(",")):
        from uhr4k.core.speed import Speed, SpeedWrapper
        parts = label.split("+")
        model.patch_chunk = None
        wrapped = SpeedWrapper(model, Speed(parts[0], "channels_last" in parts, "compile" in parts))
        try:
            start = time.perf_counter()
            with torch.inference_mode():
                wrapped(x)                       # compiles, when asked
            torch.cuda.synchronize()
            first = time.perf_counter() - start
            med, lo, hi, peak = measure(wrapped, x, args.runs, args.warmup, None)
            print(f"{label:28s} median {med:.4f} s (min {lo:.4f}, max {hi:.4f}; first call {first:.1f} s)  "
                  f"peak {peak:.2f} GiB", flush=True)
        except torch.cuda.OutOfMemoryError:
            print(f"{label:28s} out of memory", flush=True)
        model.to(memory_format=torch.contiguous_format)
    if args.train:
        del model, x, reference, out
        for label, dtype in (("fp32", None), ("bf16 autocast", torch.bfloat16)):
            try:
                med, lo, hi, peak = measure_training(args.runs, args.warmup, dtype)
                print(f"train step, batch 4 x 960x540, eq. 11 loss, {label:14s} median {med:.4f} s "
                      f"(min {lo:.4f}, max {hi:.4f})  peak {peak:.2f} GiB", flush=True)
            except torch.cuda.OutOfMemoryError:
                print(f"train step {label}: out of memory", flush=True)


if __name__ == "__main__":
    main()
