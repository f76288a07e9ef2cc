"""GDAS (Dong & Yang, CVPR 2019): differentiable sampling of one path per edge.

Each forward draws, per edge, a Gumbel-softmax sample at temperature tau, runs only the
argmax op and multiplies it by the straight-through hard weight ``one_hot - p.detach() + p``,
so both the chosen op's weights and alpha receive gradients. tau is annealed linearly from
``tau_max`` (10) to ``tau_min`` (0.1) over the epochs. Optimizers as DARTS on NAS-Bench-201.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..spaces import registry as spaces
from .base import BlockDraws, SgdAdamStrategy, accuracy


def gumbel_hard_weights(alpha: torch.Tensor, tau: float, uniform: torch.Tensor) -> torch.Tensor:
    """Straight-through hard Gumbel-softmax weights, one row per edge (exactly one nonzero).

    ``uniform``: draws of U[0, 1) shaped like ``alpha``, on its device. Clamped to >= 1e-20,
    every Gumbel ``-log(-log(u))`` is finite, so the probabilities are finite whenever alpha
    is (a non-finite alpha makes the loss non-finite, which the strategy's NaN record reports).
    """
    gumbels = -torch.log(-torch.log(uniform.clamp_min(1e-20)))
    probs = F.softmax((F.log_softmax(alpha, dim=-1) + gumbels) / tau, dim=-1)
    index = probs.argmax(dim=-1, keepdim=True)
    one_hot = torch.zeros_like(probs).scatter_(-1, index, 1.0)
    return one_hot - probs.detach() + probs


class GDAS(SgdAdamStrategy):
    """GDAS with DARTS's optimizers (:class:`~gibbsnas_lite.search.base.SgdAdamStrategy`).

    The Gumbel noise comes from the strategy's CPU generator (the same numbers on every
    device), an epoch of steps at a time (:class:`~gibbsnas_lite.search.base.BlockDraws`):
    per step, U[0, 1) shaped like each alpha for the omega pass, then again for the alpha
    pass, the order in which the passes drew them one by one.
    """

    name = "gdas"

    def __init__(self, model, config, steps_per_epoch, search_sizes):
        super().__init__(model, config, steps_per_epoch, search_sizes)
        self._shapes = [a.shape for a in model.arch_parameters()]
        # a single-path supernet (NB201's) runs only the drawn op per edge (step)
        self.single_path = spaces.get(config.space).single_path
        per_step = 2 * sum(shape.numel() for shape in self._shapes)
        device = self.device

        def draw(generator, steps):  # one upload per block
            return torch.rand((steps, per_step), generator=generator).to(device)

        self.draws = BlockDraws(self.generator, draw, self.steps_per_epoch)

    def tau(self, epoch: int) -> float:
        c = self.config
        if c.epochs <= 1:
            return c.tau_max
        return c.tau_max - (c.tau_max - c.tau_min) * epoch / (c.epochs - 1)

    def _hard_weights(self, tau, uniform) -> list[torch.Tensor]:
        sizes = [shape.numel() for shape in self._shapes]
        return [
            gumbel_hard_weights(a, tau, u.view(shape))
            for a, u, shape in zip(self.model.arch_parameters(), uniform.split(sizes), self._shapes)
        ]

    def step(self, train_batch, valid_batch, epoch, step):
        tau = self.tau(epoch)
        where = f"gdas epoch {epoch} step {step}"
        # Both passes' weights from the same alpha (it moves at the step's end) and their own draws.
        omega_uniform, alpha_uniform = self.draws.next().chunk(2)
        omega_weights, alpha_weights = self._hard_weights(tau, omega_uniform), self._hard_weights(tau, alpha_uniform)
        omega_kwargs, alpha_kwargs = dict(weights=omega_weights), dict(weights=alpha_weights)
        if self.single_path:
            # NB201's supernet runs only the chosen op per edge: a choice made on the host, so the
            # path must be read back. Both passes' paths in one read (the one host sync of the step);
            # given the path, the supernet neither finds it (a read per pass) nor checks the rows.
            (omega_weights,), (alpha_weights,) = omega_weights, alpha_weights
            paths = torch.stack([omega_weights.detach().argmax(-1), alpha_weights.detach().argmax(-1)]).tolist()
            omega_kwargs = dict(weights=omega_weights, path=paths[0])
            alpha_kwargs = dict(weights=alpha_weights, path=paths[1])
        else:  # one tensor per alpha as the DARTS supernet takes them; every op runs, weighted
            omega_kwargs["weights"] = omega_weights[0] if len(omega_weights) == 1 else omega_weights
            alpha_kwargs["weights"] = alpha_weights[0] if len(alpha_weights) == 1 else alpha_weights

        x, y = train_batch
        self.w_optimizer.zero_grad(set_to_none=True)
        loss, logits = self.forward_loss(x, y, where + " (omega)", **omega_kwargs)
        self.backward_weights(loss)  # omega's gradient only: no backward through alpha
        self.clip_weights_grad()
        self.w_optimizer.step()

        xv, yv = valid_batch
        self.a_optimizer.zero_grad(set_to_none=True)
        v_loss, v_logits = self.forward_loss(xv, yv, where + " (alpha)", **alpha_kwargs)
        grads = torch.autograd.grad(v_loss, self.model.arch_parameters())
        for a, g in zip(self.model.arch_parameters(), grads):
            a.grad = g
        self.a_optimizer.step()
        return {
            "train_loss": loss.detach(),
            "train_acc": accuracy(logits, y),
            "valid_loss": v_loss.detach(),
            "valid_acc": accuracy(v_logits, yv),
            "tau": tau,
        }
