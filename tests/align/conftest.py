"""Fixtures of the align tests (the material itself is in align_material.py)."""
import pytest

from align_material import glass_pair


@pytest.fixture(scope="session")
def coffee_pair():
    return glass_pair(3)


@pytest.fixture(scope="session")
def coffee_estimate(coffee_pair):
    from uhr4k.align.estimate import estimate_homography
    glass, background, _ = coffee_pair
    return estimate_homography(glass, background)
