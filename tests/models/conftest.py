"""Fixtures of the model tests."""
import os

import numpy as np
import pytest


@pytest.fixture(scope="session")
def spandrel():
    """spandrel with its extra architectures: an independent implementation that reads release layouts.

    A test oracle (installed --no-deps by .ci/run); required under CI, skipped elsewhere when missing.
    """
    from uhr4k.errors import InputError
    from uhr4k.models.zoo import import_spandrel

    try:
        return import_spandrel()
    except InputError:
        if os.environ.get("CI") == "true":
            pytest.fail("spandrel is required under CI (pip install --no-deps spandrel spandrel-extra-arches)")
        pytest.skip("spandrel not installed")


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    """A UHR4K-Syn root of 40 x 40 images, two train pairs and one val pair (input = target + 40), for the
    tests that train models a step through the training library."""
    from uhr4k.files import write_image

    root = tmp_path_factory.mktemp("tiny-syn")
    rng = np.random.default_rng(0)
    for split, n in (("train", 2), ("val", 1)):
        for i in range(n):
            target = rng.integers(0, 200, (40, 40, 3), dtype=np.uint8)
            write_image(root / "UHR4K-Syn" / split / "input" / f"p{i}.png", target + 40)
            write_image(root / "UHR4K-Syn" / split / "target" / f"p{i}.png", target)
    return root
