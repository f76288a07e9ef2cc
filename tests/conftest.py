"""Test-wide settings: one intra-op thread.

The tests use tiny tensors, for which torch's thread pool costs more than it gives (on a
busy 2-core machine a small supernet step went from 0.9 s with 1 thread to 35 s with 2).
"""
import torch

torch.set_num_threads(1)
