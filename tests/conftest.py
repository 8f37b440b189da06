"""Fixtures shared by the test modules."""

import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """Run the test with one torch thread, restoring the count afterwards."""
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)
