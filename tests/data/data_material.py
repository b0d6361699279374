"""Generated material for the data tests: small random images and paired folders."""
import numpy as np

from uhr4k.core.images import write_image


def image(h, w, seed):
    """A (h, w, 3) uint8 image of uniform noise, the same for the same seed."""
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def pairs_folder(root, names, inp="input", tgt="target", h=40, w=60):
    """``root/inp`` and ``root/tgt`` with one (input, target) file pair per ``names`` entry (None: no file);
    input = 255 - target, a pixel-exact relation crops must keep."""
    for i, (a, b) in enumerate(names):
        target = image(h, w, i)
        if a:
            write_image(root / inp / a, 255 - target)
        if b:
            write_image(root / tgt / b, target)
    return root
