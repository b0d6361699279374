"""Fixtures of the build-syn tests: a folder of generated videos, a still and reflection photos."""
from pathlib import Path

import cv2
import pytest
from skimage import data

from uhr4k.core.images import write_image

from synth_material import pan_frames, write_video


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> Path:
    """frames/ with 3 videos (3 scenes, 20 frames each) and 1 still; reflections/ with 2 photos."""
    root = tmp_path_factory.mktemp("media")
    frames = root / "frames"
    frames.mkdir()
    for name, photo in (("astronaut", data.astronaut()), ("coffee", data.coffee()), ("rocket", data.rocket())):
        write_video(frames / f"{name}.mp4", pan_frames(photo, 20))
    write_image(frames / "chelsea.png", cv2.resize(data.chelsea(), (150, 100), interpolation=cv2.INTER_AREA))
    refl = root / "reflections"
    refl.mkdir()
    write_image(refl / "motorcycle.png", data.immunohistochemistry())
    write_image(refl / "cat.jpg", data.chelsea())
    return root
