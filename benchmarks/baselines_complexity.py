"""Complexity of every registered model, side by side: parameters, MACs at 3840 x 2160, runtime and
peak memory of one forward pass, each beside GLSGN and beside the paper's Tables I and IV.

Every model is measured in its own child process (one run of this script measures them all), so that
the CPU peak resident set of one model is not inflated by the previous one. MACs are always counted at
4K on the meta device (FlopCounterMode / 2). Runtime and memory are measured at ``--size`` (4K by
default): on a GPU every model runs whole at 4K, and a model that runs out of memory is rerun with
overlapping tiles (``--tile-on-oom``) and marked as tiled; on a small shared CPU, 4K forwards of the
heavy baselines take minutes to hours and tens of GB, so run them at a stated smaller size (``--size``)
and list the models cheap enough for a whole 4K run in ``--also-4k``.

    python benchmarks/baselines_complexity.py --device cuda --markdown
    nice python benchmarks/baselines_complexity.py --device cpu --size 512x288 --also-4k dcp,zheng2021 --markdown
    python benchmarks/baselines_complexity.py --counts-only --models rmnet,errnet --markdown

The runtime column ``x GLSGN`` is the ratio to GLSGN measured in the same run at the same size.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import math
import multiprocessing as mp
import sys

import torch
import torch.nn as nn

# Tables I and IV of the GLSGN paper (4K image; runtimes on an RTX 3090 unless noted; "TFLOPS" there
# are multiply-accumulates). MPRNet's configuration is not stated there.
PAPER = {
    "glsgn": {"tmacs": 0.625, "params_m": 15.69, "runtime_s": 0.082, "memory_gb": 8.626},
    "dmgn": {"tmacs": 6.045, "params_m": 45.49, "runtime_s": 0.767, "memory_gb": 21.60},
    "zheng2021": {"tmacs": 0.182, "params_m": 34.54, "runtime_s": 0.464},
    "rmnet": {"tmacs": 6.785, "params_m": 65.43},
    "errnet": {"tmacs": 26.85, "params_m": 18.95},
    "ibcln": {"tmacs": 15.63, "params_m": 21.61},
    "mprnet-derain": {"runtime_s": 0.549, "memory_gb": 17.72},
    "msbdn": {"tmacs": 5.253, "params_m": 31.35, "runtime_s": 0.875},
    "mprnet-deblur": {"runtime_s": 0.549, "memory_gb": 17.72},
}
# Published parameter counts of the baselines (their own papers / releases).
RELEASED_PARAMS_M = {"restormer": 26.13, "mprnet-derain": 3.64, "mprnet-deblur": 20.13, "nafnet-w64": 67.89,
                     "prenet": 0.169, "cfdnet": 9.650, "zou2020": 66.99,
                     "vrgnet": 0.171, "rescan": 0.055, "rescan-gru": 0.150, "ffanet": 4.456, "msbdn": 31.35,
                     "aecrnet": 2.614, "derainrlnet": 5.822}
FOUR_K = (3840, 2160)


class Tiled(nn.Module):
    """``model`` run on overlapping tiles (uhr4k.benchmark.tiling), for models that cannot run whole."""

    def __init__(self, model: nn.Module, tile: int, overlap: int):
        super().__init__()
        self.model, self.tile, self.overlap = model, tile, overlap

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from uhr4k.benchmark.tiling import tiled_forward
        return tiled_forward(self.model, x, self.tile, self.overlap)


def measure(name: str, device: str, size: tuple[int, int], warmup: int, repeats: int, tile_on_oom: int | None,
            overlap: int, threads: int | None, counts_only: bool = False) -> dict:
    """One model, in a fresh process: counts, then (unless ``counts_only``) the timed forward at ``size`` (W, H)."""
    from uhr4k.benchmark.profiling import count_macs, count_parameters, time_forward
    from uhr4k.models.factory import create_model

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    with torch.device("meta"):
        meta_model = create_model(name)
    trainable, total = count_parameters(meta_model)
    macs = count_macs(meta_model)
    del meta_model
    if counts_only:
        return {"model": name, "trainable": trainable, "params": total, "macs_4k": macs, "size": "-",
                "counts_only": True, "torch": torch.__version__}
    model = create_model(name).to(device).eval()
    width, height = size
    x = torch.rand(1, 3, height, width, device=device)
    tiled, why = None, ""
    try:
        timing = time_forward(model, x, warmup=warmup, repeats=repeats)
        why = timing.note if timing.oom else ""
    except RuntimeError as exc:
        # Some kernels index tensors with 32 bits: DMGN's 1475-channel 4K hypercolumn (12.2 G values)
        # cannot be padded whole. Like running out of memory, that calls for tiles.
        if "32-bit index" not in str(exc):
            raise
        timing, why = None, str(exc).splitlines()[0]
    if (timing is None or timing.oom) and tile_on_oom:
        tiled = tile_on_oom
        timing = time_forward(Tiled(model, tile_on_oom, overlap), x, warmup=warmup, repeats=repeats)
    if timing is None:
        return {"model": name, "trainable": trainable, "params": total, "macs_4k": macs, "size": f"{width}x{height}",
                "oom": True, "note": why, "torch": torch.__version__}
    return {"model": name, "trainable": trainable, "params": total, "macs_4k": macs, "size": f"{width}x{height}",
            "tiled": tiled, "overlap": overlap if tiled else None, "median_s": timing.median_s,
            "min_s": timing.min_s, "max_s": timing.max_s, "runs": timing.runs, "peak_gb": timing.peak_mem_gb,
            "oom": timing.oom, "device": timing.device, "note": timing.note or why, "torch": torch.__version__}


def run_in_process(name: str, **kwargs) -> dict:
    """``measure`` here (GPU runs: CUDA peak statistics are reset per model), memory released after."""
    row = measure(name, **kwargs)
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return row


def run_isolated(name: str, **kwargs) -> dict:
    """``measure`` in a spawned child; a crash (e.g. the kernel's OOM killer) becomes a result row."""
    context = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        try:
            return pool.submit(measure, name, **kwargs).result()
        except cf.process.BrokenProcessPool:
            size = kwargs["size"]
            return {"model": name, "size": f"{size[0]}x{size[1]}", "oom": True,
                    "note": "the process was killed (out of memory?)"}


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def markdown(rows: list[dict]) -> str:
    """The complexity table, one row per (model, size)."""
    glsgn = {r["size"]: r["median_s"] for r in rows if r["model"] == "glsgn" and not r.get("oom")}
    head = ("| model | params (M) | published (M) | MACs @4K (T) | paper Table I (T) | measured at | "
            "runtime median (s) [min-max] | x GLSGN | peak memory (GB) | paper 4K runtime (s) / memory (GB) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        paper = PAPER.get(r["model"], {})
        published = paper.get("params_m", RELEASED_PARAMS_M.get(r["model"]))
        size = r["size"] + (f", tiled {r['tiled']} (overlap {r['overlap']})" if r.get("tiled") else ", whole")
        if r.get("counts_only"):
            size, runtime, ratio, memory = "-", "not timed", "-", "-"
        elif r.get("oom"):
            runtime, ratio, memory = f"out of memory: {r.get('note', '')}", "-", "-"
        else:
            runtime = f"{_fmt(r['median_s'])} [{_fmt(r['min_s'])}-{_fmt(r['max_s'])}]"
            base = glsgn.get(r["size"])
            ratio = f"{r['median_s'] / base:.2f}" if base else "-"
            memory = _fmt(r["peak_gb"], 2)
        params = f"{r['params'] / 1e6:.2f}" if "params" in r else "-"
        if "params" in r and r["trainable"] != r["params"]:
            params += f" ({r['trainable'] / 1e6:.2f} trainable)"
        macs = _fmt(r["macs_4k"] / 1e12) if "macs_4k" in r else "-"
        paper_run = (f"{_fmt(paper.get('runtime_s'))} / {_fmt(paper.get('memory_gb'), 2)}"
                     if paper.get("runtime_s") else "-")
        lines.append(f"| {r['model']} | {params} | {_fmt(published, 2)} | {macs} | {_fmt(paper.get('tmacs'))} | "
                     f"{size} | {runtime} | {ratio} | {memory} | {paper_run} |")
    return "\n".join(lines)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    return w, h


def main(argv=None) -> int:
    from uhr4k.models.registry import list_models
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", help="comma-separated names (default: every registered model)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=_size, default=FOUR_K, help="WIDTHxHEIGHT of the timed forward")
    parser.add_argument("--also-4k", default="", help="models to time whole at 3840x2160 as well (CPU runs)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tile-on-oom", type=int, default=1024, help="tile side for a rerun after OOM (0: none)")
    parser.add_argument("--overlap", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads in each child")
    parser.add_argument("--in-process", action="store_true",
                        help="measure every model in this process (default on CUDA; CPU peak RSS then accumulates)")
    parser.add_argument("--counts-only", action="store_true",
                        help="parameters and 4K MACs only (meta device, seconds per model), no timed forward")
    parser.add_argument("--json", help="write the rows to this JSON file (rewritten after every model)")
    parser.add_argument("--markdown", action="store_true", help="print the Markdown table at the end")
    args = parser.parse_args(argv)

    names = args.models.split(",") if args.models else list_models()
    jobs = [(n, args.size) for n in names]
    jobs += [(n, FOUR_K) for n in args.also_4k.split(",") if n and args.size != FOUR_K]
    rows = []
    try:
        from tqdm import tqdm
        progress = tqdm(jobs, desc="models", unit="model", file=sys.stderr)
    except ImportError:  # pragma: no cover
        progress = jobs
    runner = run_in_process if args.in_process or args.device.startswith("cuda") else run_isolated
    for name, size in progress:
        row = runner(name, device=args.device, size=size, warmup=args.warmup, repeats=args.repeats,
                     tile_on_oom=args.tile_on_oom or None, overlap=args.overlap, threads=args.threads,
                     counts_only=args.counts_only)
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.json:  # after every model: an interrupted run keeps what it measured
            from uhr4k.core.atomic import write_text_atomic
            write_text_atomic(args.json, json.dumps(rows, indent=1))
    if args.markdown:
        print()
        print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
