"""Fixtures of the model tests (opt-in, nothing autouse: other model tests are unaffected)."""
import pytest
import torch


@pytest.fixture
def one_thread():
    """Run a test on one torch thread: small convolutions are faster so, and far faster on a loaded
    shared machine, where two spinning threads per process fight every other job."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
