"""``pairs="closure"``: curvature only from same-batch closure pairs, even when most steps have no closure."""

import pytest
import torch

from gibbsnas_lite.samplers import BFGSGaussian, DiagonalGaussian


def _quadratic(a_diag, theta):
    return 0.5 * (a_diag * theta * theta).sum()


@pytest.mark.parametrize("cls", [BFGSGaussian, DiagonalGaussian])
def test_closure_only_pairs_learn_curvature_from_closure_steps_only(cls):
    torch.manual_seed(0)
    a = torch.tensor([1.0, 4.0, 10.0], dtype=torch.float64)
    theta = torch.nn.Parameter(torch.tensor([1.0, -1.0, 0.5], dtype=torch.float64))
    kwargs = dict(lr=0.5, data_size=1e6, weight_decay=0.0, mode="mean", pairs="closure")
    if cls is DiagonalGaussian:
        kwargs.update(h_min=1e-3, h_max=10.0)
    opt = cls([theta], **kwargs)

    def closure():
        opt.zero_grad()
        loss = _quadratic(a, theta)
        loss.backward()
        return loss

    # steps without closure: gradients from a *different* objective (a stand-in for another
    # minibatch) must never enter the curvature estimate
    for k in range(12):
        if k % 3 == 0:
            opt.step(closure)
        else:
            opt.zero_grad()
            (_quadratic(a * 7.0, theta)).backward()
            opt.step()
    if cls is BFGSGaussian:
        state = opt.state[theta]
        # one pair per closure step (4 of 12 steps), none from the steps in between
        assert state["pairs_updated"] + state["pairs_damped"] + state["pairs_skipped"] == 4
        # the last pair came from the closure's objective: H satisfies its secant equation H (A s) = s
        before = theta.detach().clone()
        opt.step(closure)
        s = theta.detach() - before
        h = opt.inverse_hessian()
        assert torch.allclose(h @ (a * s), s, rtol=1e-8, atol=1e-12)
    else:
        d = opt.inverse_hessian_diagonal()[0]
        assert torch.allclose(d, 1.0 / a, rtol=1e-6), d  # exact: every stored pair is on A


def test_unknown_pair_source_is_refused():
    p = torch.nn.Parameter(torch.zeros(2))
    for cls in (BFGSGaussian, DiagonalGaussian):
        with pytest.raises(ValueError, match="pairs"):
            cls([p], data_size=1.0, pairs="batch")


def test_mean_mode_at_the_mode_stays_finite():
    """Near the mode the pairs reach round-off; they must be skipped, not divided by ~0."""
    torch.manual_seed(1)
    m = torch.randn(10, 10, dtype=torch.float64)
    a = m @ m.T + 10 * torch.eye(10, dtype=torch.float64)
    theta = torch.nn.Parameter(torch.randn(10, dtype=torch.float64))
    opt = BFGSGaussian([theta], lr=1.0, data_size=1.0, weight_decay=0.0, mode="mean")
    for _ in range(400):
        opt.zero_grad()
        (0.5 * theta @ a @ theta).backward()
        opt.step()
    assert torch.isfinite(theta).all() and theta.abs().max() < 1e-10
    assert torch.isfinite(opt.inverse_hessian()).all()
    assert opt.state[theta]["pairs_skipped"] > 0
