"""Shared fixtures. ``shared_data`` is the real reference data beside the project (../shared/data).

Tests that need it run wherever it exists; under CI (``CI=true``) it must exist, so a missing folder
fails those tests instead of skipping them.
"""
import os
from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(os.environ.get("UHR4K_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = SHARED_DATA.resolve()
    if not path.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path}: the shared reference data is required under CI but missing")
        pytest.skip(f"{path}: shared reference data not present")
    return path


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tests on one torch thread (opt in with ``pytestmark = pytest.mark.usefixtures("one_thread")``).

    Tiny inputs gain nothing from intra-op threads, and on a loaded shared machine OpenMP threads that wait
    for each other make such tests up to ten times slower.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
