"""GDAS (Dong & Yang, CVPR 2019): differentiable sampling of one path per edge.

Each forward draws, per edge, a Gumbel-softmax sample at temperature tau, runs only the
argmax op and multiplies it by the straight-through hard weight ``one_hot - p.detach() + p``,
so both the chosen op's weights and alpha receive gradients. tau is annealed linearly from
``tau_max`` (10) to ``tau_min`` (0.1) over the epochs. Optimizers as DARTS on NAS-Bench-201.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import SgdAdamStrategy, accuracy


def gumbel_hard_weights(alpha: torch.Tensor, tau: float, generator: torch.Generator) -> torch.Tensor:
    """Straight-through hard Gumbel-softmax weights, one row per edge (exactly one nonzero)."""
    while True:
        u = torch.rand(alpha.shape, generator=generator).to(alpha.device)
        gumbels = -torch.log(-torch.log(u.clamp_min(1e-20)))
        probs = F.softmax((F.log_softmax(alpha, dim=-1) + gumbels) / tau, dim=-1)
        if torch.isfinite(probs).all():
            break
    index = probs.argmax(dim=-1, keepdim=True)
    one_hot = torch.zeros_like(probs).scatter_(-1, index, 1.0)
    return one_hot - probs.detach() + probs


class GDAS(SgdAdamStrategy):
    """GDAS with DARTS's optimizers (:class:`~gibbsnas_lite.search.base.SgdAdamStrategy`)."""

    name = "gdas"

    def tau(self, epoch: int) -> float:
        c = self.config
        if c.epochs <= 1:
            return c.tau_max
        return c.tau_max - (c.tau_max - c.tau_min) * epoch / (c.epochs - 1)

    def _sampled_loss(self, x, y, tau, where):
        weights = [gumbel_hard_weights(a, tau, self.generator) for a in self.model.arch_parameters()]
        weights = weights[0] if len(weights) == 1 else weights
        return self.forward_loss(x, y, where, weights=weights)

    def step(self, train_batch, valid_batch, epoch, step):
        tau = self.tau(epoch)
        where = f"gdas epoch {epoch} step {step}"
        x, y = train_batch
        self.w_optimizer.zero_grad(set_to_none=True)
        loss, logits = self._sampled_loss(x, y, tau, where + " (omega)")
        loss.backward()
        self.clip_weights_grad()
        self.w_optimizer.step()

        xv, yv = valid_batch
        self.a_optimizer.zero_grad(set_to_none=True)
        v_loss, v_logits = self._sampled_loss(xv, yv, tau, where + " (alpha)")
        grads = torch.autograd.grad(v_loss, self.model.arch_parameters())
        for a, g in zip(self.model.arch_parameters(), grads):
            a.grad = g
        self.a_optimizer.step()
        return {
            "train_loss": loss.item(),
            "train_acc": accuracy(logits, y),
            "valid_loss": v_loss.item(),
            "valid_acc": accuracy(v_logits, yv),
            "tau": tau,
        }
