"""Small helpers of the toys: tensors and arrays, sample moments, errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

DEFAULT_DTYPE = torch.float64


def to_numpy(x: Any) -> np.ndarray:
    """A float numpy array from a tensor (any device), an array or a list."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x, dtype=float)


def to_tensor(x: Any, dtype=None, device=None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        if dtype is None:
            dtype = x.dtype if x.is_floating_point() else DEFAULT_DTYPE
        return x.to(dtype=dtype, device=device or x.device)
    return torch.as_tensor(np.asarray(x, dtype=float), dtype=dtype or DEFAULT_DTYPE, device=device)


def seeded_generator(seed: int | None, device: torch.device) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(0 if seed is None else int(seed))
    return g


def symmetrize(m: torch.Tensor) -> torch.Tensor:
    return 0.5 * (m + m.transpose(-1, -2))


def sample_mean_cov(samples: Any) -> tuple[np.ndarray, np.ndarray]:
    """Sample mean and (unbiased) covariance of ``samples`` of shape ``(n, d)``."""
    x = to_numpy(samples).reshape(len(samples), -1)
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def correlation_of(cov: Any, i: int = 0, j: int = 1) -> float:
    """Correlation coefficient ``C_ij / sqrt(C_ii C_jj)`` of a covariance matrix."""
    c = to_numpy(cov)
    return float(c[i, j] / math.sqrt(c[i, i] * c[j, j]))


def relative_error(estimate: Any, target: Any, ord: str | int | None = "fro") -> float:
    """``‖estimate − target‖ / ‖target‖`` (Frobenius norm by default)."""
    e, t = to_numpy(estimate), to_numpy(target)
    return float(np.linalg.norm(e - t, ord=ord) / np.linalg.norm(t, ord=ord))
