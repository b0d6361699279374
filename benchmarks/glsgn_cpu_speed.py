"""GLSGN inference on this CPU: fp32 eager against bf16 / channels-last / torch.compile, at 3840 x 2160,
and what bf16 costs in PSNR on real restored images.

**Speed.** Each variant (``--variants``, labels of :class:`uhr4k.core.speed.Speed`; ``@system`` after a
label: glibc's malloc as it is, without :func:`uhr4k.core.allocator.reuse_freed_memory`) runs the paper's
GLSGN (random weights: the cost does not depend on them) on one 3840 x 2160 image in its own process
(peak RSS is a per-process high-water mark), under ``inference_mode``, through the same wrapper
``uhr4k bench --precision/--channels-last/--compile`` uses. A compiled variant is called once to compile
(reported apart) and then timed; the others are timed on their first call (a 4K forward takes minutes
here). Reported per variant: wall time, CPU time of the process during the timed forward (user + system:
on a shared machine wall time swings with the load, CPU time much less), peak RSS, the largest difference
of the output from the first variant's, and the speed-up over the first variant (default ``fp32@system``,
the fp32 eager path of uhr4k 0.1.0).

**Against older code.** ``--baseline REF`` times every variant on this tree and on the ``uhr4k`` package of
git ``REF`` (extracted with ``git archive``) in one process: both packages are imported side by side (each
model keeps its own modules), given the same weights, called once each to warm up and then ``--repeats``
times each, alternating (REF, tree, tree, REF, ...), so that a swing of a shared machine's load falls on
both alike. Reported: the median and the least wall and CPU time of a forward for each (the least is the
one a busy machine disturbs least), this tree's over REF's (below 1: faster), the median of the paired
calls' wall ratios and the largest difference of their outputs. Peak
RSS is not, one process holding both.

**PSNR.** A small GLSGN (``--width``, every mechanism on) trained for ``--train-minutes`` on 8 pairs of the
Rain100H sample (``../shared/data/rain100h-sample``, 128 x 128 crops, multi-stage L1), its best validation
epoch's weights then run on all 10
pairs in fp32 and under each reduced-precision variant: Y-channel PSNR (uint8, as ``bench`` scores) of
both against the target, and the per-image difference in dB.

    PYTHONPATH=. nice python benchmarks/glsgn_cpu_speed.py [--threads 2] [--size 3840x2160]
        [--variants fp32@system,fp32,bf16+channels_last] [--baseline main --repeats 3]
        [--train-minutes 4] [--data ../shared/data/rain100h-sample]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time, torch
label, threads, width, height, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
torch.set_num_threads(threads)
from uhr4k.core.allocator import reuse_freed_memory
from uhr4k.core.speed import Speed, SpeedWrapper
from uhr4k.models.archs.glsgn.model import GLSGN
label, _, allocator = label.partition("@")
if allocator != "system":
    reuse_freed_memory()             # what the uhr4k command does before every command
parts = label.split("+")
speed = Speed(parts[0], "channels_last" in parts, "compile" in parts)
torch.manual_seed(0)
model = SpeedWrapper(GLSGN().eval(), speed)
x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(1))

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

compile_s = None
with torch.inference_mode():
    if speed.compile:
        start = time.perf_counter()
        model(x)
        compile_s = time.perf_counter() - start
    start, cpu_start = time.perf_counter(), cpu()
    y = model(x)[0]
    seconds, cpu_s = time.perf_counter() - start, cpu() - cpu_start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
torch.save(y[0, :, ::8, ::8].clone(), out)
print(json.dumps({"seconds": seconds, "cpu_s": cpu_s, "peak_gb": peak, "compile_s": compile_s}))
"""

# One process, two uhr4k trees: argv = label threads width height repeats baseline_folder tree_folder.
AB_CHILD = r"""
import json, resource, statistics, sys, time, torch
label, threads, width, height, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), \
    int(sys.argv[5])
folders = {"baseline": sys.argv[6], "tree": sys.argv[7]}
torch.set_num_threads(threads)
label, _, allocator = label.partition("@")
parts = label.split("+")

def load(folder):
    # A fresh import of uhr4k from folder: what it builds keeps its own modules' globals, so the package
    # imported before stays usable once its modules leave sys.modules.
    for name in [n for n in sys.modules if n == "uhr4k" or n.startswith("uhr4k.")]:
        del sys.modules[name]
    sys.path.insert(0, folder)
    try:
        from uhr4k.core.allocator import reuse_freed_memory
        from uhr4k.core.speed import Speed, SpeedWrapper
        from uhr4k.models.archs.glsgn.model import GLSGN
    finally:
        sys.path.remove(folder)
    torch.manual_seed(0)
    return GLSGN().eval(), lambda model: SpeedWrapper(model, Speed(parts[0], "channels_last" in parts,
                                                                   "compile" in parts)), reuse_freed_memory

models = {code: load(folder) for code, folder in folders.items()}
if allocator != "system":
    models["tree"][2]()              # what the uhr4k command does before every command
models["baseline"][0].load_state_dict(models["tree"][0].state_dict())
runners = {code: wrap(model) for code, (model, wrap, _) in models.items()}
x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(1))

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

seconds, cpu_s = {code: [] for code in runners}, {code: [] for code in runners}
with torch.inference_mode():
    outputs = {code: runner(x)[0] for code, runner in runners.items()}      # warm-up (and compilation)
    for repeat in range(repeats):
        for code in (["baseline", "tree"] if repeat % 2 == 0 else ["tree", "baseline"]):
            start, cpu_start = time.perf_counter(), cpu()
            runners[code](x)
            seconds[code].append(time.perf_counter() - start)
            cpu_s[code].append(cpu() - cpu_start)
print(json.dumps({"seconds": seconds, "cpu_s": cpu_s,
                  "max_diff": (outputs["tree"] - outputs["baseline"]).abs().max().item()}))
"""


def run_variant(label: str, threads: int, size: tuple[int, int], out: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, label, str(threads), str(size[0]), str(size[1]), out],
                          capture_output=True, text=True, env=os.environ.copy())
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()
        return {"error": tail[-1] if tail else f"exit status {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def extract_package(ref: str, folder: Path) -> Path:
    """The ``uhr4k`` package of git ``ref`` of this repository, written under ``folder``; returns ``folder``."""
    archive = subprocess.run(["git", "-C", str(REPOSITORY), "archive", "--format=tar", ref, "uhr4k"],
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def against_table(variants: list[str], threads: int, size: tuple[int, int], ref: str, repeats: int) -> None:
    """Each variant on this tree and on git ``ref`` in one process, alternating (see the module docstring)."""
    from statistics import median

    print(f"## this tree against {ref}: one {size[0]}x{size[1]} image, {threads} threads, one process per variant, "
          f"{repeats} alternating forwards each after a warm-up", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        baseline = extract_package(ref, Path(tmp))
        for label in variants:
            done = subprocess.run([sys.executable, "-c", AB_CHILD, label, str(threads), str(size[0]), str(size[1]),
                                   str(repeats), str(baseline), str(REPOSITORY)], capture_output=True, text=True)
            if done.returncode != 0:
                tail = done.stderr.strip().splitlines()
                print(f"{label:32s} failed: {tail[-1] if tail else f'exit status {done.returncode}'}", flush=True)
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            paired = median(t / b for t, b in zip(r["seconds"]["tree"], r["seconds"]["baseline"], strict=True))
            row = [f"{label:24s}"]
            for key, name in (("seconds", "wall"), ("cpu_s", "CPU")):
                old, new = r[key]["baseline"], r[key]["tree"]
                row.append(f"{name} {ref} {median(old):.2f} s (min {min(old):.2f}), tree {median(new):.2f} s "
                           f"(min {min(new):.2f}): tree / {ref} {median(new) / median(old):.3f} "
                           f"(min {min(new) / min(old):.3f})")
            print("; ".join(row) + f"; paired wall ratio {paired:.3f}; max |output difference| {r['max_diff']:.2e}",
                  flush=True)


def speed_table(variants: list[str], threads: int, size: tuple[int, int]) -> None:
    import torch

    print(f"## speed: GLSGN (15.69 M parameters), one {size[0]}x{size[1]} image, {threads} threads, "
          f"torch {torch.__version__}, inference_mode", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for label in variants:
            results[label] = r = run_variant(label, threads, size, f"{tmp}/{label}.pt")
            if "error" in r:
                print(f"{label:32s} failed: {r['error']}", flush=True)
                continue
            first = variants[0]
            diff, ratio = "", ""
            if "error" not in results[first] and label != first:
                d = (torch.load(f"{tmp}/{label}.pt") - torch.load(f"{tmp}/{first}.pt")).abs().max().item()
                diff = f"  max |output - {first}| {d:.2e}"
            if "error" not in results[first]:
                base = results[first]
                ratio = (f"  speed-up wall {base['seconds'] / r['seconds']:.2f}x, "
                         f"CPU {base['cpu_s'] / r['cpu_s']:.2f}x")
            compiled = f" (compile {r['compile_s']:.0f} s)" if r.get("compile_s") else ""
            print(f"{label:32s} wall {r['seconds']:7.1f} s  CPU {r['cpu_s']:7.1f} s  peak RSS {r['peak_gb']:.2f} GB"
                  f"{compiled}{ratio}{diff}", flush=True)


def rain_root(data: Path, work: Path) -> Path:
    """A UHR4K-style root of symbolic links: pairs 1-8 for training, 9-10 for validation."""
    ids = sorted((p.stem for p in (data / "input").glob("*.png")), key=int)
    for split, chosen in (("train", ids[:8]), ("val", ids[8:])):
        for side in ("input", "target"):
            folder = work / "UHR4K-Syn" / split / side
            folder.mkdir(parents=True, exist_ok=True)
            for i in chosen:
                link = folder / f"{i}.png"
                if not link.exists():
                    link.symlink_to((data / side / f"{i}.png").resolve())
    return work


def psnr_table(variants: list[str], threads: int, data: Path, minutes: float, width: int) -> None:
    import numpy as np
    import torch

    from uhr4k.benchmark.metrics import psnr, tensor_to_uint8
    from uhr4k.core.images import to_uint8
    from uhr4k.core.speed import Speed, SpeedWrapper
    from uhr4k.data import read_pair, resolve_dataset, to_tensor
    from uhr4k.models.factory import load_model
    from uhr4k.models.train.loop import TrainConfig, train

    torch.set_num_threads(threads)
    labels = dict.fromkeys(v.partition("@")[0] for v in variants)       # the allocator does not change values
    reduced = [v for v in labels if not v.startswith("fp32") and "compile" not in v]
    with tempfile.TemporaryDirectory() as tmp:
        root = rain_root(data, Path(tmp) / "data")
        summary = train(TrainConfig(model="glsgn", data=str(root), subset="syn", out=f"{tmp}/run",
                                    model_kwargs={"width": width, "mask_width": 4}, epochs=10_000, batch=4,
                                    crop=(128, 128), lr=5e-4, protocol="y", time_limit_s=minutes * 60,
                                    loss_kwargs={"perceptual_weight": 0.0, "adversarial_weight": 0.0}),
                        echo=lambda line: None)
        # the best validation epoch's weights, as bench would use them (the last epoch's may be a bad one)
        model = (load_model(summary.best_checkpoint)[0] if summary.best_checkpoint else summary.model).eval()
        print(f"\n## PSNR: GLSGN width {width} trained {summary.epochs} epochs ({minutes:g} min) on 8 Rain100H "
              f"sample pairs; scored on all 10 (Y, uint8); validation PSNR {summary.best_psnr:.2f} dB", flush=True)
        pairs = resolve_dataset(str(data), None, "test").pairs
        scores = {label: [] for label in ["fp32", *reduced]}
        for pair in pairs:
            inp, tgt = read_pair(pair)
            x, target = to_tensor(inp)[None], to_uint8(tgt)
            for label in scores:
                parts = label.split("+")
                runner = SpeedWrapper(model, Speed(parts[0], "channels_last" in parts))
                with torch.inference_mode():
                    y = runner(x)[0]
                pred = tensor_to_uint8(y)
                scores[label].append(psnr(pred, target, "y"))
            model.to(memory_format=torch.contiguous_format)
        base = np.array(scores["fp32"])
        print(f"fp32: mean {base.mean():.4f} dB over {len(base)} images", flush=True)
        for label in reduced:
            values = np.array(scores[label])
            delta = values - base
            print(f"{label}: mean {values.mean():.4f} dB; per image minus fp32: mean {delta.mean():+.4f} dB, "
                  f"largest |difference| {np.abs(delta).max():.4f} dB", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", default="3840x2160")
    parser.add_argument("--variants", default="fp32@system,fp32,bf16+channels_last,bf16+channels_last+compile",
                        help="comma-separated Speed labels, the first the reference; @system: plain malloc")
    parser.add_argument("--baseline", metavar="REF",
                        help="time every variant against the uhr4k of git REF in one process (no PSNR table)")
    parser.add_argument("--repeats", type=int, default=3, help="with --baseline: timed forwards per tree")
    parser.add_argument("--train-minutes", type=float, default=4.0)
    parser.add_argument("--width", type=int, default=4)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" /
                                              "rain100h-sample"))
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-psnr", action="store_true")
    args = parser.parse_args()
    variants = args.variants.split(",")
    width, height = (int(v) for v in args.size.split("x"))
    print(f"load average at start: {', '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} cores",
          flush=True)
    if args.baseline:
        against_table(variants, args.threads, (width, height), args.baseline, args.repeats)
    elif not args.skip_speed:
        speed_table(variants, args.threads, (width, height))
    if not args.skip_psnr and not args.baseline:
        psnr_table(variants, args.threads, Path(args.data), args.train_minutes, args.width)
    print(f"load average at end: {', '.join(f'{v:.1f}' for v in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
