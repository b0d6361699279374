"""Demo material made from the real photographs that scikit-image ships (no download, no user data).

Each photo becomes a short pan-and-zoom video, one scene each, so that build-syn sees several videos
and scene-disjoint splits are possible; other photos serve as reflections.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from uhr4k.core import seeds
from uhr4k.core.atomic import atomic_path
from uhr4k.core.images import write_image

# scikit-image photographs bundled with the wheel (no pooch download): real camera pictures only.
SCENE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle")
# Reflections come from other photos than the scenes (a scene reflecting itself would look staged);
# most of the remaining bundled photographs are gray, which a reflection may well be.
REFLECTION_PHOTOS = ("camera", "clock", "coins", "brick", "grass", "hubble_deep_field")


def load_photo(name: str) -> np.ndarray:
    """One bundled photograph as (H, W, 3) uint8 RGB."""
    import skimage.data

    if name == "motorcycle":
        return skimage.data.stereo_motorcycle()[0]
    img = getattr(skimage.data, name)()
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3])


def pan_zoom_frames(photo: np.ndarray, size: tuple[int, int], n_frames: int, rng: np.random.Generator):
    """Yield ``n_frames`` frames (h, w, 3) uint8 of a slow pan with a zoom across ``photo``.

    The camera window keeps the video's aspect ratio, covers 60-90 % of the photo's shorter fit, and
    moves on a straight path between two random positions while zooming; frames are resampled with
    an affine warp (area-averaging when shrinking is unnecessary at these scales).
    """
    w, h = size
    ph, pw = photo.shape[:2]
    fit = min(pw / w, ph / h)  # the largest window of the video's aspect that fits the photo
    z0, z1 = rng.uniform(0.65, 0.9, size=2)
    starts = rng.uniform(0, 1, size=2)
    ends = rng.uniform(0, 1, size=2)
    for t in np.linspace(0.0, 1.0, n_frames):
        zoom = z0 + (z1 - z0) * t
        win_w, win_h = w * fit * zoom, h * fit * zoom
        cx = win_w / 2 + (pw - win_w) * (starts[0] + (ends[0] - starts[0]) * t)
        cy = win_h / 2 + (ph - win_h) * (starts[1] + (ends[1] - starts[1]) * t)
        scale = w / win_w
        # maps photo coordinates to frame coordinates: translate the window's corner to 0, then scale
        m = np.array([[scale, 0, -(cx - win_w / 2) * scale], [0, scale, -(cy - win_h / 2) * scale]])
        yield cv2.warpAffine(photo, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def write_video(path: Path, frames, size: tuple[int, int], fps: int = 12) -> None:
    """Encode RGB frames to an H.264 mp4 through imageio-ffmpeg, atomically."""
    import imageio_ffmpeg

    with atomic_path(path) as tmp:
        writer = imageio_ffmpeg.write_frames(str(tmp), size, fps=fps, quality=8, macro_block_size=2,
                                             output_params=["-f", "mp4"], ffmpeg_log_level="error")
        writer.send(None)
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
        writer.close()


def make_videos(out_dir: Path, size: tuple[int, int], n_frames: int = 24, seed: int = 0) -> list[Path]:
    """One pan-and-zoom video per scene photo in ``out_dir``; returns their paths."""
    paths = []
    for i, name in enumerate(SCENE_PHOTOS):
        rng = seeds.rng(seed, i)
        path = Path(out_dir) / f"{name}.mp4"
        if not path.exists():
            write_video(path, pan_zoom_frames(load_photo(name), size, n_frames, rng), size)
        paths.append(path)
    return paths


def make_reflections(out_dir: Path) -> list[Path]:
    """The reflection photos as PNG files in ``out_dir``; returns their paths."""
    paths = []
    for name in REFLECTION_PHOTOS:
        path = Path(out_dir) / f"{name}.png"
        if not path.exists():
            write_image(path, load_photo(name))
        paths.append(path)
    return paths
