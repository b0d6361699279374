"""What people look at after ``build-syn``: ``datasheet.md`` (counts, parameter ranges, splits) and
``preview.jpg`` (a contact sheet of input / target / layer triplets), both at the dataset root.

Both depend only on the manifest rows, the build info and the failures, never on timing or sharding,
so a merged set of shards gets the same bytes as a single run.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from uhr4k.core.atomic import write_text_atomic
from uhr4k.core.images import read_image, to_uint8, write_image
from uhr4k.core.tables import format_number, markdown_table
from uhr4k.layout import SPLITS, SUBSETS
from uhr4k.layout.card import numeric_leaves as _flatten

PREVIEW_ROWS = 4       # samples shown per subset
PREVIEW_TILE_WIDTH = 320
LABEL_HEIGHT = 22


def datasheet_text(rows: list[dict], info: dict, failures: list) -> str:
    """The Markdown datasheet of a dataset root (see the module docstring)."""
    lines = ["# Datasheet", "",
             f"Built by `uhr4k build-syn`: {info.get('backgrounds', 0)} backgrounds from {info.get('scenes', 0)} "
             f"scene(s), {info['size'][0]}x{info['size'][1]}, seed {info['seed']}, reflection model "
             f"`{info['reflection_model']}`, reflections from {info['reflection_source']}"
             f" ({info.get('reflection_images', 0)} images).", "",
             "## Pairs per split", ""]
    per_split = []
    for sub in SUBSETS.values():
        sub_rows = [r for r in rows if r["subset"] == sub.name]
        if not sub_rows:
            continue
        counts = [sum(r["split"] == s for r in sub_rows) for s in SPLITS]
        scenes = [len({r["scene"] for r in sub_rows if r["split"] == s}) for s in SPLITS]
        per_split.append([sub.name, *(f"{c} ({k} sc.)" for c, k in zip(counts, scenes, strict=True)),
                          len(sub_rows), len({r["scene"] for r in sub_rows})])
    lines.append(markdown_table(["subset", *SPLITS, "total", "scenes"], per_split))
    asked = info.get("splits_asked", {})
    lines += ["", f"Splits are by scene (no scene in two splits); asked: test {asked.get('test')}, "
              f"val {asked.get('val')} pairs."]
    for sub in SUBSETS.values():
        sub_rows = [r for r in rows if r["subset"] == sub.name and r["params"]]
        if not sub_rows:
            continue
        values: dict[str, list[float]] = {}
        for r in sub_rows:
            for k, v in _flatten(json.loads(r["params"])).items():
                values.setdefault(k, []).extend(v)
        ranges = []
        for k in sorted(values):
            v = np.asarray(values[k])
            ranges.append([f"`{k}`", *(format_number(x, 4, significant=True) for x in (v.min(), v.mean(), v.max()))])
        lines += ["", f"## {sub.name}: drawn parameters", "",
                  markdown_table(["parameter", "min", "mean", "max"], ranges)]
    skipped = info.get("skipped_frames") or {}
    lines += ["", "## Frames skipped during selection", ""]
    lines += [f"- {k}: {skipped[k]}" for k in sorted(skipped)] or ["- none"]
    lines += ["", "## Notes", ""] + [f"- {m}" for m in info.get("messages", [])] + [
        "- Sizes are relative (blur sigma and streak length/thickness as fractions of the short side): "
        "see `params` in manifest.csv for every sample's values."]
    lines += ["", f"## Failures ({len(failures)})", ""]
    unique = sorted({(f.stage, f.id, f.file, f.reason) for f in failures})
    lines += [f"- {stage}{' ' + sid if sid else ''}: `{file}`: {reason}" for stage, sid, file, reason in unique[:50]]
    if len(unique) > 50:
        lines.append(f"- ... {len(unique) - 50} more in failures.csv")
    if not unique:
        lines.append("- none")
    return "\n".join(lines) + "\n"


def write_datasheet(root: Path, rows: list[dict], info: dict, failures: list) -> Path:
    path = Path(root) / "datasheet.md"
    write_text_atomic(path, datasheet_text(rows, info, failures))
    return path


def _tile(path: Path, size: tuple[int, int]) -> np.ndarray:
    img = to_uint8(read_image(path))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def _label(img: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((LABEL_HEIGHT, img.shape[1], 3), 32, np.uint8)
    cv2.putText(bar, text, (6, LABEL_HEIGHT - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (235, 235, 235), 1, cv2.LINE_AA)
    return np.vstack([bar, img])


def preview_image(root: Path, rows: list[dict]) -> np.ndarray | None:
    """Contact sheet (H, W, 3) uint8: per subset, up to PREVIEW_ROWS samples spread over the rows,
    each as input | target | layer; None when there is no row."""
    blocks = []
    for sub in SUBSETS.values():
        sub_rows = sorted((r for r in rows if r["subset"] == sub.name), key=lambda r: r["id"])
        if not sub_rows:
            continue
        picks = [sub_rows[int(j)] for j in np.unique(np.linspace(0, len(sub_rows) - 1, PREVIEW_ROWS).round())]
        w, h = int(sub_rows[0]["width"] or 16), int(sub_rows[0]["height"] or 9)
        size = (PREVIEW_TILE_WIDTH, max(1, round(PREVIEW_TILE_WIDTH * h / w)))
        for r in picks:
            tiles = [_label(_tile(Path(root) / r[col], size), f"{sub.name} {r['split']} {r['id'][:24]} {name}")
                     for col, name in (("input", "input"), ("target", "target"), ("layer", sub.layer))]
            blocks.append(np.hstack(tiles))
    if not blocks:
        return None
    width = max(b.shape[1] for b in blocks)
    return np.vstack([np.pad(b, ((0, 4), (0, width - b.shape[1]), (0, 0))) for b in blocks])


def write_preview(root: Path, rows: list[dict]) -> Path | None:
    sheet = preview_image(root, rows)
    if sheet is None:
        return None
    path = Path(root) / "preview.jpg"
    write_image(path, sheet)
    return path
