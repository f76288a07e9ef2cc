"""BFGSGaussian's bounds: the eigenvalue cap on H (h_max) and the trust radius of a draw (max_step).

Why they exist (docs/search.md, "Why GibbsNAS lands on parameter-free cells"): α's loss is
nearly flat early in a search and exactly flat along each edge's softmax-shift direction, so
BFGS's H grows to hundreds or thousands and both the Newton step and the noise (T/N) H blow up.
"""

import math

import numpy as np
import pytest
import torch

from gibbsnas_lite.samplers import BFGSGaussian
from gibbsnas_lite.samplers.bfgs import cap_eigenvalues

F64 = torch.float64
EDGES, OPS = 3, 5


def test_cap_eigenvalues_matches_numpy():
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(8, 8, generator=g, dtype=F64))
    values = torch.logspace(-1, 3, 8, dtype=F64)
    matrix = q @ torch.diag(values) @ q.T
    capped = cap_eigenvalues(matrix, 10.0)
    w, v = np.linalg.eigh(matrix.numpy())
    expected = (v * np.minimum(w, 10.0)) @ v.T
    np.testing.assert_allclose(capped.numpy(), expected, atol=1e-10)
    np.testing.assert_allclose(np.linalg.eigvalsh(capped.numpy()).max(), 10.0, rtol=1e-10)
    # nothing above the cap: unchanged, bit for bit (a new tensor: the cap is branch-free, no host sync)
    assert torch.equal(cap_eigenvalues(matrix, 2000.0), matrix)


def softmax_edges_problem(seed=0):
    """A loss of α (EDGES × OPS) through a softmax per edge, like a supernet's: flat along each edge's shift.

    L(α) = Σ_e CE(softmax(α_e), p_e) with fixed target distributions p_e: its Hessian has a zero
    eigenvalue along each edge's all-ones direction, where only the prior λ gives curvature.
    """
    g = torch.Generator().manual_seed(seed)
    targets = torch.softmax(torch.randn(EDGES, OPS, generator=g, dtype=F64), dim=-1)

    def gradient(alpha):
        return torch.softmax(alpha, dim=-1) - targets

    return targets, gradient


def run_chain(h_max, steps=300, mode="sample", seed=0):
    targets, gradient = softmax_edges_problem()
    alpha = torch.zeros(EDGES, OPS, dtype=F64, requires_grad=True)
    sampler = BFGSGaussian([alpha], lr=0.5, data_size=200.0, weight_decay=1e-4, mode=mode, h_max=h_max, seed=seed)
    largest, shift_curv = [], []
    ones = torch.block_diag(*[torch.ones(OPS, 1, dtype=F64) / math.sqrt(OPS)] * EDGES)  # shift directions
    for _ in range(steps):
        alpha.grad = gradient(alpha.detach())
        sampler.step()
        h = sampler.inverse_hessian()
        largest.append(float(torch.linalg.eigvalsh(h)[-1]))
        shift_curv.append(float(torch.linalg.eigvalsh(ones.T @ h @ ones)[-1]))
    return sampler, alpha.detach(), largest, shift_curv, targets


def test_without_a_cap_h_grows_along_the_shift_directions():
    # The defect the cap answers: the noise moves α along the flat directions, BFGS learns
    # curvature ~λ there, and H's largest eigenvalue heads for 1/λ = 1e4.
    _, _, largest, shift, _ = run_chain(h_max=None)
    assert max(shift) > 100.0
    assert max(largest) > 100.0


def test_h_max_bounds_every_eigenvalue_at_every_step():
    _, _, largest, shift, _ = run_chain(h_max=10.0)
    assert max(largest) <= 10.0 * (1 + 1e-9)
    assert max(shift) <= 10.0 * (1 + 1e-9)


def test_h_max_keeps_the_mode_in_mean_mode():
    # The cap changes how far a step goes, not where the mean chain ends: softmax(α) -> targets
    # (up to the tiny prior), with or without it.
    for h_max in (None, 2.0):
        _, alpha, _, _, targets = run_chain(h_max=h_max, steps=400, mode="mean")
        probs = torch.softmax(alpha, dim=-1)
        assert torch.allclose(probs, targets, atol=2e-3), (h_max, (probs - targets).abs().max())


def gaussian_problem(n=6):
    g = torch.Generator().manual_seed(3)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=F64))
    a = q @ torch.diag(torch.logspace(-2, 1, n, dtype=F64)) @ q.T
    mu = 3.0 * torch.randn(n, generator=g, dtype=F64)
    return a, mu


def test_max_step_bounds_every_move_and_is_inert_when_large():
    a, mu = gaussian_problem()
    runs = {}
    for max_step in (0.05, 1e6, None):
        theta = torch.zeros(6, dtype=F64, requires_grad=True)
        sampler = BFGSGaussian([theta], lr=1.0, data_size=2.0, weight_decay=0.0, max_step=max_step, seed=1)
        moves, path = [], []
        for _ in range(200):
            before = theta.detach().clone()
            theta.grad = (theta.detach() - mu) @ a
            sampler.step()
            moves.append(float((theta.detach() - before).norm()))
            path.append(theta.detach().clone())
        runs[max_step] = (moves, torch.stack(path), sampler)
    moves, _, sampler = runs[0.05]
    assert max(moves) <= 0.05 * (1 + 1e-12)
    assert sampler._state()["steps_clipped"] > 100  # the bound was active, not vacuous
    assert torch.equal(runs[1e6][1], runs[None][1])  # never active: the same chain bit for bit


def test_max_step_mean_mode_still_reaches_the_mode():
    a, mu = gaussian_problem()
    theta = torch.zeros(6, dtype=F64, requires_grad=True)
    sampler = BFGSGaussian([theta], lr=1.0, data_size=2.0, weight_decay=0.0, mode="mean", max_step=0.5)
    for _ in range(300):
        theta.grad = (theta.detach() - mu) @ a
        sampler.step()
    assert torch.allclose(theta.detach(), mu, atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [(dict(h_max=0.0), "h_max"), (dict(max_step=-1.0), "max_step")])
def test_bad_bounds_are_named(kwargs, message):
    theta = torch.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match=message):
        BFGSGaussian([theta], data_size=10.0, **kwargs)
