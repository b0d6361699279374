"""Generated material for the build-syn tests: small videos that pan over photos (sharp, all different)."""
from pathlib import Path

import cv2
import numpy as np

VIDEO_SIZE = (160, 96)  # multiples of 16: no resizing by the encoder


def write_video(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    import imageio_ffmpeg

    h, w = frames[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(str(path), (w, h), fps=fps, codec="libx264", quality=9,
                                         macro_block_size=16, output_params=["-g", "8"])
    writer.send(None)
    for f in frames:
        writer.send(np.ascontiguousarray(f))
    writer.close()
    return path


def pan_frames(photo: np.ndarray, n: int, size=VIDEO_SIZE) -> list[np.ndarray]:
    """n frames moving across ``photo``: sharp, textured, no two alike."""
    w, h = size
    big = cv2.resize(photo, (w * 2, h * 2), interpolation=cv2.INTER_AREA)
    return [big[(k * 3) % h: (k * 3) % h + h, (k * 7) % w: (k * 7) % w + w].copy() for k in range(n)]


