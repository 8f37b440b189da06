"""Fixtures shared by the test modules."""

import pytest
import torch
from torch.overrides import TorchFunctionMode


@pytest.fixture
def one_torch_thread():
    """Run the test with one torch thread, restoring the count afterwards."""
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)


class SynchronisingCalls(TorchFunctionMode):
    """Counts, while active, the tensor calls that make the host wait for
    the device: on the CPU they cost nothing, but counting them there shows
    how often a fit on a GPU would wait."""

    NAMES = {"item", "tolist", "cpu", "numpy", "__bool__", "__float__",
             "__int__", "nonzero"}

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.count += getattr(func, "__name__", "") in self.NAMES
        return func(*args, **(kwargs or {}))


@pytest.fixture
def synchronising_calls():
    """The class :class:`SynchronisingCalls`: ``with counter:`` counts."""
    return SynchronisingCalls
