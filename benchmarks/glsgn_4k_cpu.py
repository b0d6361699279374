"""GLSGN on one 3840 x 2160 image on the CPU: runtime and peak resident memory, chunked patches
(the default under ``inference_mode``: 4 patches of a pathway at a time) against all 16 at once.

Each variant runs in its own subprocess (peak RSS is a per-process high-water mark), under
``torch.inference_mode``, one warm-up-free run each (a 4K forward takes minutes here; the first run is
the one a user waits for). Prints both and their ratio, and the largest difference between the outputs
(chunking must not change the result).

    python benchmarks/glsgn_4k_cpu.py [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time, torch
torch.set_num_threads(int(sys.argv[2]))
from uhr4k.models.archs.glsgn.model import GLSGN
torch.manual_seed(0)
model = GLSGN(patch_chunk=int(sys.argv[1])).eval()
x = torch.rand(1, 3, 2160, 3840, generator=torch.Generator().manual_seed(1))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
start = time.perf_counter()
with torch.inference_mode():
    out = model(x)[0]
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
torch.save(out[0, :, ::8, ::8].clone(), sys.argv[3])
print(json.dumps({"seconds": seconds, "peak_gb": peak, "before_gb": before}))
"""


def run(chunk: int, threads: int, out: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(chunk), str(threads), out], capture_output=True,
                          text=True)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"rc {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    import tempfile

    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {args.threads} threads, input 1x3x2160x3840 fp32")
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for label, chunk in (("chunked (4 patches)", 4), ("all 16 patches at once", 16)):
            results[label] = run(chunk, args.threads, f"{tmp}/{chunk}.pt")
            r = results[label]
            if "error" in r:
                print(f"{label:24s} failed: {r['error']}")
            else:
                print(f"{label:24s} {r['seconds']:7.1f} s  peak RSS {r['peak_gb']:.2f} GB "
                      f"(model + input: {r['before_gb']:.2f} GB)", flush=True)
        a, b = results["chunked (4 patches)"], results["all 16 patches at once"]
        if "error" not in a and "error" not in b:
            diff = (torch.load(f"{tmp}/4.pt") - torch.load(f"{tmp}/16.pt")).abs().max().item()
            print(f"peak RSS ratio unchunked / chunked: {b['peak_gb'] / a['peak_gb']:.2f}; "
                  f"time ratio: {b['seconds'] / a['seconds']:.2f}; max |difference| of outputs: {diff:.2e}")


if __name__ == "__main__":
    main()
