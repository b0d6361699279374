"""What the state toolkit's checks cost at 3840 x 2160, next to the work they guard.

    python benchmarks/state_cost.py            # makes a 4K test video and 2K reflections (as synth_speed.py)

It prints, in one process:
1. build-syn: one 4K sample made by ``make_sample`` (decode, synthesis, five PNG encodes, writes; CPU seconds) against
   every check this toolkit adds per sample: the fingerprints of its frame and reflections, its share of
   the start-up work of a paper-sized root (lock, clean-up walk over 2,167 samples' files, manifest row
   checks, recorded splits, the skipped-file scan), the pipe-based worker hand-off, and the SHA-256
   verification a rerun does. Target: at most 5 % of the sample.
2. bench: hashing a 4K PNG's bytes (the manifest check, done on the bytes that are decoded) against
   decoding it.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import shutil
import statistics
import sys
import time
from pathlib import Path

PAPER_SAMPLES = 2167


def cpu_with_children() -> float:
    """CPU seconds of this process and the children it waited for (ffmpeg), at os.times' 10 ms ticks."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed(fn, *args, repeats: int = 5, children: bool = False) -> float:
    """Median CPU seconds of ``fn(*args)`` (the machine is shared: wall time would measure the others);
    ``children`` counts the ffmpeg processes too (coarse clock), else this process's fine-grained one."""
    clock = cpu_with_children if children else time.process_time
    times = []
    for _ in range(repeats):
        start = clock()
        fn(*args)
        times.append(clock() - start)
    return statistics.median(times)


def paper_sized_root(root: Path, row: dict) -> None:
    """A root with the file count and manifest of a 2,167-background build (empty image files)."""
    from uhr4k import layout

    rows = []
    for k in range(PAPER_SAMPLES):
        for sub in ("syn", "rain"):
            paths = layout.pair_paths(sub, "train", f"s{k:05d}")
            for rel in paths.values():
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).touch()
            rows.append({**row, "id": f"s{k:05d}", "subset": layout.subset(sub).name, "split": "train", **paths})
    layout.write_manifest(root, rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, removed)")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).parent))
    from synth_speed import make_material, scratch_folder

    from uhr4k import layout
    from uhr4k.core.atomic import remove_stale_temporaries
    from uhr4k.core.images import read_file_bytes, read_image
    from uhr4k.core.locks import lock_root
    from uhr4k.core.media import scan_media
    from uhr4k.core.paths import verify
    from uhr4k.core.records import fingerprint
    from uhr4k.synth import pipeline

    with scratch_folder(args.work, "uhr4k-state-cost-") as scratch:
        if (scratch / "material" / "frames" / "pan.mp4").is_file():   # --work of an earlier run
            frames_dir, refl_dir = scratch / "material" / "frames", scratch / "material" / "reflections"
        else:
            frames_dir, refl_dir = make_material(scratch / "material", seconds=3.0)
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
        opts = pipeline.BuildOptions(frames=frames_dir, reflections=refl_dir, out=scratch / "out", count=3,
                                     size=(3840, 2160), test=0, val=0)
        shutil.rmtree(opts.out, ignore_errors=True)
        shutil.rmtree(scratch / "paper-root", ignore_errors=True)
        opts.out.mkdir(parents=True)
        tasks, *_ = pipeline.plan(opts, progress=False)
        task = tasks[0]

        # 1. one sample, made from scratch each time (its record removed so nothing is reused)
        def make():
            pipeline._records(opts.out).path(task["id"]).unlink(missing_ok=True)
            return pipeline.make_sample((task, str(opts.out), str(frames_dir), str(refl_dir)))
        result = make()
        sample_s = timed(make, repeats=3, children=True)

        refs = [frames_dir / task["frame"]["rel"]] + [refl_dir / r["rel"] for r in task["syn"]["reflections"]]
        fingerprints_s = timed(lambda: [[fingerprint(p) for p in refs] for _ in range(100)], repeats=5) / 100
        rows = result["rows"]
        verify_s = timed(lambda: [verify(opts.out, r) for r in rows], repeats=3)
        handoff_s = timed(lambda: [pickle.loads(pickle.dumps((task, result))) for _ in range(100)], repeats=5) / 100

        big = scratch / "paper-root"
        paper_sized_root(big, rows[0])

        def startup():
            with lock_root(big, "bench"):
                remove_stale_temporaries(big)
                layout.read_manifest(big)                        # the row checks
                pipeline._recorded_splits(big, ("syn", "rain"))   # reads it once more
                scan_media(frames_dir)
        startup_s = timed(startup, repeats=3)
        per_sample = fingerprints_s + handoff_s + startup_s / PAPER_SAMPLES
        print("\n1. build-syn, one 3840x2160 background (Syn + Rain pairs):")
        print(f"   make_sample                                     {sample_s * 1e3:9.1f} ms CPU")
        print(f"   fingerprints of frame + {len(refs) - 1} reflections              {fingerprints_s * 1e6:9.1f} us")
        print(f"   worker hand-off (pickle task and result)        {handoff_s * 1e6:9.1f} us")
        print(f"   start-up of a {PAPER_SAMPLES}-sample root (lock, clean-up walk, "
              f"manifest checks, splits, scan): {startup_s * 1e3:.0f} ms, per sample "
              f"{startup_s / PAPER_SAMPLES * 1e3:.3f} ms")
        print(f"   => checks per sample {per_sample * 1e3:.3f} ms = {100 * per_sample / sample_s:.4f} % of the "
              "sample (target <= 5 %)")
        print(f"   rerun: SHA-256 verification of the sample's 6 files {verify_s * 1e3:.1f} ms = "
              f"{100 * verify_s / sample_s:.1f} % of making it again (that is what a rerun saves)")

        # 2. bench: hash the bytes being decoded
        png = opts.out / rows[0]["target"]
        data = read_file_bytes(png)
        hash_s = timed(lambda: [hashlib.sha256(data).hexdigest() for _ in range(10)], repeats=5) / 10
        decode_s = timed(lambda: read_image(png), repeats=5)
        print(f"\n2. bench: a 4K PNG of {data.size / 1e6:.1f} MB: decode {decode_s * 1e3:.1f} ms, SHA-256 of its bytes "
              f"{hash_s * 1e3:.1f} ms = {100 * hash_s / decode_s:.1f} % of the decode")
    return 0


if __name__ == "__main__":
    sys.exit(main())
