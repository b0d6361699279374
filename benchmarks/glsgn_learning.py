"""Does GLSGN learn? A small GLSGN trained for a few minutes on this CPU against the identity baseline.

Data (``--task``): rain pairs made with ``uhr4k.synth.rain`` (the Photoshop recipe, drawn on the whole
photo, then tiled) or reflection pairs made with ``uhr4k.synth.reflection`` (the Zhang et al. model,
reflections cut from the other photos of the pool), from the colour photos that scikit-image ships:
four scenes for training, two other scenes held out (scene-disjoint, like UHR4K), 128 x 128 tiles,
written as a UHR4K root in ``--work``.

Training: ``uhr4k.models.train.loop.train`` (the code behind ``uhr4k train``) with a GLSGN variant at
``--width`` channels, the multi-stage pixel loss of eq. 8 (perceptual and adversarial weights 0: no
pretrained VGG here, and a GAN does not raise PSNR in minutes), Adam at ``--lr``, ``--minutes`` of wall
clock. Then PSNR/SSIM (the task's table protocol: Y for rain, band-wise for reflection) of identity and
of the trained model on the held-out pairs, in one process, and a comparison grid (input | GLSGN |
target) as PNG.

    python benchmarks/glsgn_learning.py [--task rain|reflection] [--minutes 5] [--width 4]
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import skimage.data
import torch

from uhr4k.benchmark.metrics import psnr_torch, ssim_torch
from uhr4k.core.images import from_float, write_image
from uhr4k.data import PairedDataset, find_pairs
from uhr4k.models.train.loop import TrainConfig, train
from uhr4k.synth import rain, reflection

TILE = 128
PROTOCOLS = {"reflection": "bandwise", "rain": "y"}  # the protocols of the paper's tables for each task
SPLITS = {"train": ("astronaut", "rocket", "immunohistochemistry", "motorcycle"),
          "test": ("chelsea", "coffee")}


def photos() -> dict[str, np.ndarray]:
    left, right, _ = skimage.data.stereo_motorcycle()
    found = {name: getattr(skimage.data, name)() for name in ("astronaut", "rocket", "immunohistochemistry",
                                                               "chelsea", "coffee")}
    found["motorcycle"], found["motorcycle_right"] = left, right
    return found


def resized(img: np.ndarray, short_side: int = 384) -> np.ndarray:
    h, w = img.shape[:2]
    scale = short_side / min(h, w)
    return cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def tiles(img: np.ndarray) -> list[np.ndarray]:
    return [img[y:y + TILE, x:x + TILE] for y in range(0, img.shape[0] - TILE + 1, TILE)
            for x in range(0, img.shape[1] - TILE + 1, TILE)]


def build_root(root: Path, task: str, seed: int = 0) -> dict[str, int]:
    """Write a UHR4K-Syn (reflection) or UHR4K-Rain root of 128 x 128 tiles; returns pairs per split."""
    rng = np.random.default_rng(seed)
    images = photos()
    subset = "UHR4K-Syn" if task == "reflection" else "UHR4K-Rain"
    counts = {}
    for split, scenes in SPLITS.items():
        pool = [images[n] for n in images if n not in scenes]  # reflections from other photos
        n = 0
        for scene in scenes:
            photo = resized(images[scene])
            # Rain is drawn on the whole resized photo (its sizes are relative to the image), then tiled.
            rainy = rain.add_rain(photo, rain.draw_params(rng))[0] if task == "rain" else None
            for i, background in enumerate(tiles(photo)):
                if task == "rain":
                    degraded = tiles(rainy)[i]
                else:
                    reflection_photo = pool[int(rng.integers(len(pool)))]
                    degraded, _ = reflection.synthesize(background, reflection_photo,
                                                        reflection.draw_params("zhang", rng))
                for role, img in (("input", degraded), ("target", background)):
                    write_image(root / subset / split / role / f"{scene}_{i:02d}.png", img)
                n += 1
        counts[split] = n
    return counts


@torch.no_grad()
def evaluate(model, pairs, protocol: str) -> tuple[float, float, float, float, list]:
    data = PairedDataset(pairs)
    scores = {"identity": ([], []), "glsgn": ([], [])}
    examples = []
    model.eval()
    for i in range(len(data)):
        x, y = data[i]["input"][None], data[i]["target"][None]
        out = model(x)[0].clamp(0, 1)
        for name, pred in (("identity", x), ("glsgn", out)):
            scores[name][0].append(float(psnr_torch(pred, y, protocol)[0]))
            scores[name][1].append(float(ssim_torch(pred, y, protocol)[0]))
        if i < 4:
            examples.append(torch.cat([x, out, y], dim=3)[0])
    mean = {k: (float(np.mean(v[0])), float(np.mean(v[1]))) for k, v in scores.items()}
    return (*mean["identity"], *mean["glsgn"], examples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--task", choices=("reflection", "rain"), default="rain")
    parser.add_argument("--model", default="glsgn", help="a registered GLSGN variant")
    parser.add_argument("--width", type=int, default=4)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: small convolutions on a shared machine are fastest so)")
    parser.add_argument("--work", default="bench-out/glsgn-learning")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    if work.exists():
        shutil.rmtree(work)
    counts = build_root(work / "data", args.task)
    subset = "syn" if args.task == "reflection" else "rain"
    print(f"pairs: {counts['train']} train tiles ({', '.join(SPLITS['train'])}), {counts['test']} held-out "
          f"({', '.join(SPLITS['test'])}), {TILE}x{TILE}")
    started = time.perf_counter()
    summary = train(TrainConfig(model=args.model, data=str(work / "data"), subset=subset, out=str(work / "run"),
                                model_kwargs={"width": args.width}, loss="glsgn",
                                loss_kwargs={"perceptual_weight": 0.0, "adversarial_weight": 0.0},
                                epochs=10_000, batch=args.batch, lr=args.lr, crop=(TILE, TILE), val_split="test",
                                time_limit_s=args.minutes * 60, progress=False),
                    echo=lambda line: None)
    seconds = time.perf_counter() - started
    id_psnr, id_ssim, gl_psnr, gl_ssim, examples = evaluate(summary.model, find_pairs(work / "data", subset, "test"),
                                                          PROTOCOLS[args.task])
    params = sum(p.numel() for p in summary.model.parameters())
    print(f"{args.model} width {args.width} on {args.task} ({params / 1e6:.2f} M parameters), "
          f"{summary.epochs} epochs in {seconds:.0f} s "
          f"on {torch.get_num_threads()} CPU threads, batch {args.batch}, lr {args.lr}")
    print(f"held-out PSNR/SSIM ({PROTOCOLS[args.task]}): identity {id_psnr:.2f} dB / {id_ssim:.4f}; "
          f"glsgn {gl_psnr:.2f} dB / {gl_ssim:.4f}; gain {gl_psnr - id_psnr:+.2f} dB")
    grid = torch.cat(examples, dim=1).permute(1, 2, 0).numpy()
    write_image(work / "comparison.png", from_float(grid))
    print(f"grid (input | glsgn | target): {work / 'comparison.png'}; log: {summary.out / 'log.csv'}")


if __name__ == "__main__":
    main()
