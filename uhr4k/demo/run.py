"""The demo pipeline: material -> build-syn -> simulated glass + align -> haze set -> train -> bench -> report.

Everything runs on photographs that scikit-image ships, at ``--size`` (960 x 540 by default), in one
output folder::

    <out>/
      material/{videos,reflections,glass_raw}/   the inputs made from bundled photos
      dataset/                                   a UHR4K root: UHR4K-Syn, UHR4K-Rain, UHR4K-Real, manifest
      haze/{hazy,GT}/                            hazy photos made from a real stereo depth map
      align_accuracy.csv                         corner error of each aligned pair against the truth
      train/                                     the small GLSGN's checkpoints and log
      bench/{rain,reflection,dehazing}/          uhr4k bench outputs
      report.html                                the page that ties it together
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from uhr4k.align.estimate import corner_error
from uhr4k.align.pipeline import align_dataset
from uhr4k.align.simulate import draw_glass_params, random_homography, simulate_glass_photo
from uhr4k.core import seeds
from uhr4k.core.images import from_float, to_float_divided, write_image
from uhr4k.core.tables import write_csv
from uhr4k.demo.report_page import build_report
from uhr4k.demo.steps import StepRunner
from uhr4k.demo.train_small import train_small_glsgn
from uhr4k.synth.material import REFLECTION_PHOTOS, SCENE_PHOTOS, load_photo, make_reflections, make_videos
from uhr4k.synth.pipeline import BuildOptions, build_syn


@dataclass
class DemoOptions:
    out: Path
    size: tuple[int, int] = (960, 540)
    seed: int = 0
    workers: int = 2
    train_minutes: float = 5.0
    frames_per_video: int = 24
    backgrounds: int = 30

    def key_options(self) -> dict:
        """What decides the demo's outputs (workers do not)."""
        return {"size": self.size, "seed": self.seed, "train_minutes": self.train_minutes,
                "frames_per_video": self.frames_per_video, "backgrounds": self.backgrounds}


# ------------------------------------------------------------------------------------------ steps


def step_material(o: DemoOptions) -> dict:
    videos = make_videos(o.out / "material" / "videos", o.size, o.frames_per_video, o.seed)
    reflections = make_reflections(o.out / "material" / "reflections")
    return {"videos": len(videos), "reflections": len(reflections)}


def step_build_syn(o: DemoOptions) -> dict:
    summary = build_syn(BuildOptions(
        frames=o.out / "material" / "videos", reflections=o.out / "material" / "reflections",
        out=o.out / "dataset", count=o.backgrounds, size=o.size, test=6, val=6, seed=o.seed,
        workers=o.workers, allow_upscale=True))
    if not summary.ok:
        raise RuntimeError(f"build-syn failed on built-in material: {summary.failures[0]}")
    splits = {f"{sub}/{split}": n for (sub, split), n in sorted(summary.split_pairs.items())}
    return {"pairs": summary.rows, "splits": splits, "messages": summary.messages}


def step_glass_pairs(o: DemoOptions) -> dict:
    """Two simulated through-glass captures per photo, each with its true homography saved."""
    import cv2

    raw = o.out / "material" / "glass_raw"
    w, h = o.size
    truth = []
    for i, name in enumerate(SCENE_PHOTOS):
        photo = load_photo(name)
        # the scene must be larger than the pair: a real through-glass photo sees beyond the edges
        scale = max(1.1 * w / photo.shape[1], 1.1 * h / photo.shape[0])
        scene = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        reflection = load_photo(REFLECTION_PHOTOS[i % len(REFLECTION_PHOTOS)])
        for k in range(2):
            rng = seeds.rng(o.seed, i, k)
            H = random_homography(w, h, rng)
            glass, background = simulate_glass_photo(scene, H, draw_glass_params(rng), rng,
                                                     reflection=reflection, size=(w, h))
            write_image(raw / name / f"{k}_glass.png", glass)
            write_image(raw / name / f"{k}_noglass.png", background)
            truth.append({"scene": name, "file": f"{k}", "H": H.tolist()})
    return {"pairs": len(truth), "truth": truth}


def step_align(o: DemoOptions, glass: dict) -> dict:
    summary = align_dataset(o.out / "material" / "glass_raw", o.out / "dataset", test=2, val=0,
                            seed=o.seed, workers=o.workers)
    truth = {(t["scene"], t["file"]): np.array(t["H"]) for t in glass["truth"]}
    rows = []
    for pair_id, result in sorted(summary.results.items()):
        key = (result.scene, Path(result.glass).name.split("_")[0])
        entry = {"id": pair_id, "status": result.status, "corner_error_px": ""}
        if key in truth and result.H is not None:
            H = np.array(result.H).reshape(3, 3)
            entry["corner_error_px"] = f"{corner_error(H, truth[key], *o.size):.3f}"
        rows.append(entry)
    write_csv(o.out / "align_accuracy.csv", rows, ("id", "status", "corner_error_px"))
    errors = [float(r["corner_error_px"]) for r in rows if r["corner_error_px"]]
    return {"counts": summary.counts, "splits": summary.splits,
            "median_corner_error_px": float(np.median(errors)) if errors else None,
            "max_corner_error_px": float(np.max(errors)) if errors else None}


def step_haze(o: DemoOptions) -> dict:
    """Hazy versions of the Middlebury motorcycle photo from its real stereo depth (scikit-image ships both)."""
    from uhr4k.synth.haze import add_haze, motorcycle_with_depth

    photo, depth_m = motorcycle_with_depth()
    clean = to_float_divided(photo)
    settings = [(0.2, (0.85, 0.85, 0.85)), (0.3, (0.9, 0.9, 0.92)), (0.45, (0.8, 0.82, 0.85))]  # beta per metre
    for i, (beta, airlight) in enumerate(settings):
        hazy = from_float(add_haze(clean, depth_m, beta, airlight))
        write_image(o.out / "haze" / "hazy" / f"motorcycle_{i}.png", hazy)
        write_image(o.out / "haze" / "GT" / f"motorcycle_{i}.png", photo)
    return {"images": len(settings)}


def step_train(o: DemoOptions) -> dict:
    return train_small_glsgn(o.out / "dataset", o.out / "train", minutes=o.train_minutes, size=o.size,
                             seed=o.seed)


def step_bench(o: DemoOptions, trained: dict) -> dict:
    """Three tables: the trained GLSGN on the subset it learned, the reference rows of the reflection
    subsets (a rain model has nothing to say there), and the dark channel prior on the hazy set."""
    from uhr4k.benchmark.runner import load_dataset, run_benchmark
    from uhr4k.models import create_model
    from uhr4k.models.factory import load_model

    glsgn, _ = load_model(trained["checkpoint"])
    dataset = str(o.out / "dataset")
    runs = {
        "rain": ({"identity": create_model("identity"), "glsgn-small": glsgn.eval()},
                 [load_dataset(dataset, subset=trained["subset"], split="test")]),
        "reflection": ({"identity": create_model("identity")},
                       [load_dataset(dataset, subset=s, split="test") for s in ("syn", "real")]),
        "dehazing": ({"identity": create_model("identity"), "dcp": create_model("dcp").eval()},
                     [load_dataset(str(o.out / "haze"))]),  # hazy/ + GT/: the rgb protocol
    }
    summaries = {}
    for name, (models, datasets) in runs.items():
        result = run_benchmark(models, datasets, o.out / "bench" / name, profile_size=o.size, repeats=3)
        summaries[name] = [dict(r) for r in result.summary]
    return summaries


# ------------------------------------------------------------------------------------------- main


def run_demo(o: DemoOptions, echo=print) -> Path:
    """Run (or resume) every step and write ``<out>/report.html``; returns its path."""
    o.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    steps = StepRunner(o.out, o.key_options())
    steps.run("material", lambda: step_material(o), echo)
    steps.run("build-syn", lambda: step_build_syn(o), echo)
    glass = steps.run("glass-pairs", lambda: step_glass_pairs(o), echo)
    aligned = steps.run("align", lambda: step_align(o, glass), echo)
    steps.run("haze", lambda: step_haze(o), echo)
    trained = steps.run("train", lambda: step_train(o), echo)
    benched = steps.run("bench", lambda: step_bench(o, trained), echo)
    return build_report(o, steps.timings, aligned, trained, benched, time.perf_counter() - start)
