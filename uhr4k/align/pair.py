"""Align one glass / no-glass pair: the verdict and every number of its alignment.csv row.

:func:`assess_pair` reads the two photos, estimates the homography, applies the gates, measures the
photometric side on a reduced copy and finds the valid rectangle; it writes nothing but the QA image.
:func:`apply_size` narrows that rectangle to ``--size``.
:func:`write_aligned_pair` makes the dataset files of an ``ok`` pair. Both run in worker processes and
depend only on their arguments (the estimation is seeded from the pair id), so results do not depend on
the number of workers.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from uhr4k.align.estimate import (
    Estimate,
    EstimateSettings,
    EstimationError,
    estimate_homography,
    paper_recipe_estimate,
    refine_ecc,
    resize_matrix,
    to_gray,
)
from uhr4k.align.gates import GateSettings, geometry_failure, quality_flags
from uhr4k.align.photometric import fit_gains, zncc
from uhr4k.align.qa import qa_image
from uhr4k.align.raw_pairs import RawPair
from uhr4k.align.warp import (
    fit_crop,
    valid_rectangle,
    validity_mask,
    warp_to_background,
)
from uhr4k.core.errors import InputError
from uhr4k.core.images import exif_orientation, read_image, to_uint8, write_image
from uhr4k.core.seeds import derive_seed

__all__ = ["AlignSettings", "PairResult", "assess_pair", "apply_size", "write_aligned_pair", "estimate_with_method",
           "display_path", "ALIGNMENT_COLUMNS", "H_COLUMNS", "METHODS"]

H_COLUMNS = tuple(f"h{i}{j}" for i in range(3) for j in range(3))
ALIGNMENT_COLUMNS = ("id", "scene", "glass", "noglass", "status", "reason", *H_COLUMNS, "matches", "inliers",
                     "inlier_ratio", "rmse_px", "zncc_before", "zncc_after", "gain_r", "gain_g", "gain_b",
                     "crop_x", "crop_y", "crop_w", "crop_h", "method")
# photometric checks and the valid area are computed at about this many pixels (they are averages)
_CHECK_MEGAPIXELS = 0.5
# "ours": grid ORB at ~1.5 MP + MAGSAC + guided re-matching (estimate_homography); "paper": the paper's
# ORB + RANSAC homography at full resolution (paper_recipe_estimate). Gates, QA and files are the same.
METHODS = ("ours", "paper")


@dataclass(frozen=True)
class AlignSettings:
    estimate: EstimateSettings = EstimateSettings()
    gates: GateSettings = GateSettings()
    refine: str = "none"                       # "none" or "ecc" (on top of the guided re-matching)
    method: str = "ours"                       # one of METHODS: how the homography is estimated
    size: tuple[int, int] | None = None        # crop both images to (w, h), cropping only (see apply_size)
    seed: int = 0

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class PairResult:
    """One row of alignment.csv plus what the writer needs; ``H`` None when estimation failed."""

    id: str
    scene: str
    glass: str
    noglass: str
    method: str = "ours"
    status: str = "failed"
    reason: str = ""
    H: list[float] | None = None
    matches: int | None = None
    inliers: int | None = None
    inlier_ratio: float | None = None
    rmse_px: float | None = None
    zncc_before: float | None = None
    zncc_after: float | None = None
    gains: tuple[float, float, float] | None = None
    crop: tuple[int, int, int, int] | None = None
    width: int | None = None
    height: int | None = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict) -> PairResult:
        """Inverse of ``dataclasses.asdict`` after a JSON round trip (lists back to tuples)."""
        data = dict(data)
        for key in ("crop", "gains"):
            data[key] = tuple(data[key]) if data.get(key) else None
        return cls(**data)

    def csv_row(self) -> dict[str, str]:
        def num(value, fmt):
            return "" if value is None or (isinstance(value, float) and not np.isfinite(value)) else format(value, fmt)
        row = {"id": self.id, "scene": self.scene, "glass": self.glass, "noglass": self.noglass,
               "status": self.status, "reason": self.reason}
        row.update({c: num(self.H[k], ".10g") if self.H else "" for k, c in enumerate(H_COLUMNS)})
        row.update(matches=num(self.matches, "d"), inliers=num(self.inliers, "d"),
                   inlier_ratio=num(self.inlier_ratio, ".4f"), rmse_px=num(self.rmse_px, ".4f"),
                   zncc_before=num(self.zncc_before, ".4f"), zncc_after=num(self.zncc_after, ".4f"))
        for c, v in zip(("gain_r", "gain_g", "gain_b"), self.gains or (None,) * 3, strict=True):
            row[c] = num(v, ".4f")
        for c, v in zip(("crop_x", "crop_y", "crop_w", "crop_h"), self.crop or (None,) * 4, strict=True):
            row[c] = num(v, "d")
        row["method"] = self.method
        return row


def pair_seed(seed: int, pair_id: str) -> int:
    """The estimation seed of one pair (31 bits, for OpenCV): from (seed, id) only, never from the order
    of processing (:func:`uhr4k.core.seeds.derive_seed`)."""
    return derive_seed(seed, "align", pair_id) & 0x7FFFFFFF


def display_path(path: Path | None, raw_dir: Path) -> str:
    """How alignment.csv names a capture: relative to RAW_DIR when inside it ('' for none)."""
    if path is None:
        return ""
    try:
        return path.relative_to(raw_dir).as_posix()
    except ValueError:
        return str(path)


def assess_pair(pair: RawPair, raw_dir: Path, settings: AlignSettings, qa_path: Path | None = None) -> PairResult:
    """Estimate, gate and measure one pair; write its QA image to ``qa_path`` when given.

    Never raises for bad input: an unreadable file, a missing partner, different sizes or a failed
    estimation give a ``failed`` result with the reason.
    """
    if settings.method not in METHODS:
        raise ValueError(f"unknown alignment method {settings.method!r}; expected one of {', '.join(METHODS)}")
    result = PairResult(pair.id, pair.scene, display_path(pair.glass, raw_dir), display_path(pair.noglass, raw_dir),
                        method=settings.method)
    glass = background = None
    try:
        if pair.problem:
            raise InputError(pair.problem)
        glass, background = _read_pair(pair)
        for name, path in (("through-glass", pair.glass), ("no-glass", pair.noglass)):
            if (turned := exif_orientation(path)) != 1:   # applied by read_image: recorded in the reason
                result.notes.append(f"{name} photo: EXIF orientation {turned} applied")
        _assess_images(glass, background, settings, result, pair.id)
    except (InputError, EstimationError) as exc:
        result.status, result.reason = "failed", str(exc)
    except cv2.error as exc:  # an input OpenCV cannot handle must not stop the batch
        text = str(exc).strip().splitlines()
        result.status, result.reason = "failed", f"OpenCV error: {text[-1] if text else 'cv2.error'}"
    if qa_path is not None and (glass is not None or background is not None):
        lines = [result.reason] + _qa_numbers(result)
        H = None if result.H is None else np.array(result.H).reshape(3, 3)
        same_size = glass is not None and background is not None and glass.shape[:2] == background.shape[:2]
        image = qa_image(glass, background, H if same_size else None, pair.id, result.status, lines,
                         gains=result.gains)
        write_image(qa_path, image)
    return result


def _read_pair(pair: RawPair) -> tuple[np.ndarray, np.ndarray]:
    """Both photos, checked to have one size, at one bit depth (8-bit if they differ).

    Raises:
        InputError: unreadable file, or members of different sizes.
    """
    glass, background = read_image(pair.glass), read_image(pair.noglass)
    if glass.shape[:2] != background.shape[:2]:
        hint = " (one is rotated?)" if glass.shape[:2] == background.shape[1::-1] else ""
        raise InputError(f"members of different sizes: {glass.shape[1]}x{glass.shape[0]} through glass, "
                         f"{background.shape[1]}x{background.shape[0]} without{hint}", pair.glass)
    if glass.dtype != background.dtype:
        glass, background = to_uint8(glass), to_uint8(background)
    return glass, background


def estimate_with_method(gray_g: np.ndarray, gray_b: np.ndarray, settings: AlignSettings, seed: int = 0
                         ) -> Estimate:
    """The homography ``uhr4k align`` uses for one pair: ``settings.method`` ("ours" or "paper"), then
    ECC when ``settings.refine == "ecc"`` (its note, if any, joins ``notes``). Gray (H, W) float images.

    Raises:
        EstimationError: the method found no usable homography.
    """
    if settings.method == "paper":
        estimate = paper_recipe_estimate(gray_g, gray_b, threshold=settings.estimate.inlier_threshold, seed=seed)
    else:
        estimate = estimate_homography(gray_g, gray_b, dataclasses.replace(settings.estimate, seed=seed))
    if settings.refine == "ecc":
        H, note = refine_ecc(gray_g, gray_b, estimate.H)
        estimate = dataclasses.replace(estimate, H=H, notes=estimate.notes + ([note] if note else []))
    return estimate


def _assess_images(glass: np.ndarray, background: np.ndarray, settings: AlignSettings, result: PairResult,
                   pair_id: str) -> None:
    height, width = background.shape[:2]
    result.width, result.height = width, height
    gray_g, gray_b = to_gray(glass), to_gray(background)
    estimate = estimate_with_method(gray_g, gray_b, settings, pair_seed(settings.seed, pair_id))
    H = estimate.H
    result.notes.extend(estimate.notes)
    result.H = [float(v) for v in H.ravel()]
    result.matches, result.inliers = estimate.matches, estimate.inliers
    result.inlier_ratio, result.rmse_px = estimate.inlier_ratio, estimate.rmse_px
    failure = geometry_failure(H, width, height)
    if failure is None and estimate.inliers < settings.gates.min_inliers:
        failure = f"too few inliers ({estimate.inliers} < {settings.gates.min_inliers})"
    if failure:
        result.status, result.reason = "failed", failure
        return
    # photometric side and valid area on a reduced copy: averages do not need 8 megapixels
    scale = min(1.0, float(np.sqrt(_CHECK_MEGAPIXELS * 1e6 / (width * height))))
    small = (max(1, round(width * scale)), max(1, round(height * scale)))
    sx, sy = small[0] / width, small[1] / height
    glass_s = cv2.resize(glass, small, interpolation=cv2.INTER_AREA)
    background_s = cv2.resize(background, small, interpolation=cv2.INTER_AREA)
    S = resize_matrix(sx, sy)
    warped_s, mask_s = warp_to_background(glass_s, S @ H @ np.linalg.inv(S), small)
    result.zncc_before = zncc(to_gray(glass_s), to_gray(background_s))
    result.zncc_after = zncc(to_gray(warped_s), to_gray(background_s), mask_s)
    result.gains = fit_gains(warped_s, background_s, mask_s)
    # the crop needs full-resolution precision: the mask alone is cheap to warp at full size
    mask = validity_mask(H, (glass.shape[1], glass.shape[0]), (width, height))
    rect = valid_rectangle(mask)
    valid_fraction = rect[2] * rect[3] / (width * height)
    if rect[2] == 0:
        result.status, result.reason = "failed", "no valid area after warping"
        return
    # the whole valid rectangle; --size is applied by apply_size (it needs no new estimate)
    result.crop = tuple(int(v) for v in rect)
    flags = quality_flags(H, width, height, inliers=estimate.inliers, inlier_ratio=estimate.inlier_ratio,
                          rmse_px=estimate.rmse_px, zncc_before=result.zncc_before, zncc_after=result.zncc_after,
                          valid_fraction=valid_fraction, agreement=estimate.agreement, settings=settings.gates)
    result.status = "flagged" if flags else "ok"
    result.reason = "; ".join(flags + result.notes)


def _qa_numbers(r: PairResult) -> list[str]:
    if r.H is None:
        return []
    parts = [f"matches {r.matches}", f"inliers {r.inliers} ({r.inlier_ratio:.0%})", f"rmse {r.rmse_px:.2f} px"]
    if r.zncc_after is not None:
        parts.append(f"zncc {r.zncc_before:.3f} -> {r.zncc_after:.3f}")
    if r.gains is not None:
        parts.append("gain " + "/".join(f"{g:.2f}" for g in r.gains))
    return ["  ".join(parts)]


def apply_size(result: PairResult, size: tuple[int, int] | None) -> PairResult:
    """``result`` with its crop narrowed to ``size`` (w, h), centred in the valid rectangle; a pair whose
    valid rectangle is smaller than ``size`` fails. Returns a new object; ``result`` is not changed."""
    if size is None or result.crop is None:
        return result
    crop = fit_crop(result.crop, size)
    if crop is None:
        reason = f"valid area {result.crop[2]}x{result.crop[3]} is smaller than --size {size[0]}x{size[1]}"
        earlier = [result.reason] if result.reason else []
        return dataclasses.replace(result, status="failed", reason="; ".join([reason] + earlier))
    return dataclasses.replace(result, crop=tuple(int(v) for v in crop))


def write_aligned_pair(pair: RawPair, result: PairResult, paths: dict[str, Path]) -> dict[str, str]:
    """Warp the through-glass photo, crop both, write input / target / mask; return their SHA-256.

    Args:
        paths: absolute destination paths with keys ``input``, ``target``, ``layer`` (the mask).
    Raises:
        InputError: a photo changed or became unreadable since it was assessed.
    """
    glass, background = _read_pair(pair)
    H = np.array(result.H, dtype=np.float64).reshape(3, 3)
    x, y, w, h = result.crop
    # warp only the crop: a translation of the output grid, no need to resample the whole frame
    shift = np.array([[1, 0, -x], [0, 1, -y], [0, 0, 1]], dtype=np.float64)
    warped, mask = warp_to_background(glass, shift @ H, (w, h))
    return {
        "input": write_image(paths["input"], warped),
        "target": write_image(paths["target"], np.ascontiguousarray(background[y:y + h, x:x + w])),
        "layer": write_image(paths["layer"], mask),
    }
