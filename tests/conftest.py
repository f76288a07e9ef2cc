"""Test-wide settings and fixtures; the shared helper functions are in tests/helpers.py.

One intra-op thread: the tests use tiny tensors, for which torch's thread pool costs more than it
gives (on a busy 2-core machine a small supernet step went from 0.9 s with 1 thread to 35 s with 2).
The ``one_thread`` fixture below puts it back before every test, whatever the test before did
(scripts and sweep runners set their own thread counts).
"""

import sys
from pathlib import Path

import pytest
import torch

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:  # `from helpers import ...` under any --import-mode
    sys.path.insert(0, str(TESTS))

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def one_thread():
    """Every test starts, and leaves, with one intra-op torch thread."""
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(1)
