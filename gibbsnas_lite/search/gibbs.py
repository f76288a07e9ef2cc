"""GibbsNAS (Xue et al., AAAI 2021, Algorithm 1): alternate draws of omega | alpha and alpha | omega.

Per search step t:

1. omega_t ~ N(omega - eta * A_omega^-1 b_omega, (T/N) A_omega^-1)   (Eq. 15, on a search-train batch)
   2nd order: the diagonal L-BFGS Gaussian sampler; 1st order: SGD (the paper's
   "omega-1st-order", Table 2).
2. alpha_{t+1} ~ N(alpha - eta * A_alpha^-1 b_alpha, (T/N) A_alpha^-1)  (Eq. 16, on search-valid)
   by the BFGS Gaussian sampler. The paper uses batch 2048 for alpha; here the alpha gradient
   is averaged over ``alpha_accum`` search-valid batches and alpha moves every
   ``alpha_accum`` steps (2048 = 32 x 64 in the full profile).

``mode="mean"`` replaces each draw by its mean (the "-mean" rows of Table 2). Learning rates
follow a cosine decay per epoch for both blocks (the paper's learning-rate decay policy).
"""
from __future__ import annotations

import torch

from ..samplers import BFGSGaussian, DiagLBFGSGaussian
from .base import Strategy, accuracy, cosine_lr


class GibbsNAS(Strategy):
    """GibbsNAS with ``order`` 2 (both blocks sampled) or 1 (omega by SGD), ``mode`` sample or mean."""

    def __init__(self, model, config, steps_per_epoch, search_sizes, order: int = 2, mode: str = "sample"):
        super().__init__(model, config, steps_per_epoch, search_sizes)
        if order not in (1, 2):
            raise ValueError(f"GibbsNAS order must be 1 or 2, got {order!r}")
        self.order, self.mode = order, mode
        self.name = f"gibbs{order}" + ("-mean" if mode == "mean" else "")
        c = config
        common = dict(temperature=c.temperature, mode=mode, clip_std=c.clip_std,
                      warmup_steps=c.warmup_steps, ramp_steps=c.ramp_steps)
        if order == 2:
            self.w_optimizer = DiagLBFGSGaussian(
                model.weight_parameters(), lr=c.w_lr, weight_decay=c.w_weight_decay,
                data_size=c.data_size or self.train_size, history_size=c.history_size,
                seed=c.seed + 1, **common)
        else:
            self.w_optimizer = torch.optim.SGD(model.weight_parameters(), lr=c.w_lr, momentum=c.w_momentum,
                                               weight_decay=c.w_weight_decay, nesterov=c.w_momentum > 0)
        self.w_scheduler = cosine_lr(self.w_optimizer, c.epochs, c.w_lr_min)
        alpha_common = dict(common, warmup_steps=max(0, c.warmup_steps // c.alpha_accum),
                            ramp_steps=max(0, c.ramp_steps // c.alpha_accum))
        self.a_optimizer = BFGSGaussian(
            model.arch_parameters(), lr=c.a_lr, weight_decay=c.a_weight_decay,
            data_size=c.data_size or self.valid_size, seed=c.seed + 2, **alpha_common)
        self.a_scheduler = cosine_lr(self.a_optimizer, c.epochs, c.a_lr * 0.01)
        self._accum = [torch.zeros_like(a) for a in model.arch_parameters()]
        self._accum_count = 0

    def optimizers(self):
        return {"w_optimizer": self.w_optimizer, "w_scheduler": self.w_scheduler,
                "a_optimizer": self.a_optimizer, "a_scheduler": self.a_scheduler}

    def state_dict(self):
        state = super().state_dict()
        state["accum"] = [t.clone() for t in self._accum]
        state["accum_count"] = self._accum_count
        return state

    def load_state_dict(self, state):
        super().load_state_dict(state)
        for t, s in zip(self._accum, state["accum"]):
            t.copy_(s)
        self._accum_count = state["accum_count"]

    def step(self, train_batch, valid_batch, epoch, step):
        where = f"{self.name} epoch {epoch} step {step}"
        # 1. omega_t | alpha_t  (Eq. 15)
        x, y = train_batch
        self.w_optimizer.zero_grad(set_to_none=True)
        loss, logits = self.forward_loss(x, y, where + " (omega)")
        loss.backward()
        self.clip_weights_grad()
        self.w_optimizer.step()

        # 2. alpha_{t+1} | omega_t  (Eq. 16), gradient averaged over alpha_accum batches
        xv, yv = valid_batch
        v_loss, v_logits = self.forward_loss(xv, yv, where + " (alpha)")
        grads = torch.autograd.grad(v_loss, self.model.arch_parameters())
        for acc, g in zip(self._accum, grads):
            acc.add_(g)
        self._accum_count += 1
        if self._accum_count >= self.config.alpha_accum:
            for a, acc in zip(self.model.arch_parameters(), self._accum):
                a.grad = acc / self._accum_count
            self.a_optimizer.step()
            for acc in self._accum:
                acc.zero_()
            self._accum_count = 0
        return {"train_loss": loss.item(), "train_acc": accuracy(logits, y),
                "valid_loss": v_loss.item(), "valid_acc": accuracy(v_logits, yv)}

    def end_epoch(self, epoch):
        self.w_scheduler.step()
        self.a_scheduler.step()

    def alpha_state(self):
        state = super().alpha_state()
        cov = self.a_optimizer.covariance()
        std = cov.diagonal().clamp_min(0).sqrt().float().cpu()
        shapes = [a.shape for a in self.model.arch_parameters()]
        chunks, start = [], 0
        for shape in shapes:
            n = int(torch.Size(shape).numel())
            chunks.append(std[start:start + n].reshape(shape).tolist())
            start += n
        state["std"] = chunks
        return state
