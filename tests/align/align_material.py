"""Material for the align tests: real photos shipped with scikit-image, made into glass pairs."""
import cv2
import numpy as np
import skimage.data

from uhr4k.align.simulate import GlassParams, draw_glass_params, random_homography, simulate_glass_photo

PAIR_SIZE = (640, 400)


def scene(name: str = "coffee", size=(720, 480)) -> np.ndarray:
    """A real photo (scikit-image data) resized to ``size`` (w, h), uint8 RGB."""
    img = getattr(skimage.data, name)()
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return cv2.resize(img, size, interpolation=cv2.INTER_CUBIC)


def glass_pair(seed: int, name: str = "coffee", params: GlassParams | None = None):
    """(glass, background, H_true) of a simulated pane over a real photo, PAIR_SIZE."""
    rng = np.random.default_rng(seed)
    H = random_homography(*PAIR_SIZE, rng)
    params = params or draw_glass_params(rng)
    glass, background = simulate_glass_photo(scene(name), H, params, rng, reflection=scene("astronaut"),
                                             size=PAIR_SIZE)
    return glass, background, H
