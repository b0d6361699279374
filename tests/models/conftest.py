"""Fixtures of the model tests."""
import os

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
