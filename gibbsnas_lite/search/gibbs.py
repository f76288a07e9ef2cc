"""GibbsNAS (Xue et al., AAAI 2021, Algorithm 1): alternate draws of omega | alpha and alpha | omega.

Per search step t:

1. omega_t ~ N(omega - eta * A_omega^-1 b_omega, (T/N) A_omega^-1)   (Eq. 15, on a search-train batch)
   2nd order: the diagonal quasi-Newton Gaussian sampler; 1st order: SGD (the paper's
   "omega-1st-order", Table 2).
2. alpha_{t+1} ~ N(alpha - eta * A_alpha^-1 b_alpha, (T/N) A_alpha^-1)  (Eq. 16, on search-valid)
   by the BFGS Gaussian sampler. The paper uses batch 2048 for alpha; here the alpha gradient
   is averaged over ``alpha_accum`` search-valid batches and alpha moves every
   ``alpha_accum`` steps (2048 = 32 x 64 in the full profile).

``mode="mean"`` replaces each draw by its mean (the "-mean" rows of Table 2). Learning rates
follow a cosine decay per epoch for both blocks (the paper's learning-rate decay policy).

Temperatures: alpha draws at ``temperature``, omega at ``w_temperature`` (default: the same).
With ``noise_follows_lr`` each block's temperature is multiplied, epoch by epoch, by
eta(2 - eta) / (eta0 (2 - eta0)), eta the block's current step factor and eta0 its first: a
Gaussian chain x' = x - eta H g + N(0, (T/N) H) has the stationary spread (T/N) H / (eta(2 - eta))
(docs/samplers.md), so without the factor the cosine decay of eta *raises* the effective
temperature (~50x for omega, ~100x for alpha by the last epoch) and the network stops
training; with it the spread stays at its starting value. Evidence: docs/search.md.

Curvature pairs (docs/samplers.md, sections 2 and 4): with minibatch gradients, pairs from
consecutive steps are biased by the batch noise (the omega diagonal collapses to its floor
and the network stops training; the alpha covariance collapses to zero), so both samplers
get same-batch pairs through ``step(closure)`` (oBFGS / oLBFGS) and ``pairs="closure"``:

* omega (2nd order): the closure recomputes the search-train loss on the step's own batch
  after the move, every ``curvature_every`` steps (one extra forward/backward on those
  steps). The sampler runs at its documented operating point: eta = 1 (Eq. 15 as printed)
  with the diagonal clamped to ``[1e-4, w_lr]``, so every mean step is a per-coordinate SGD
  step no longer than SGD at ``w_lr`` (the paper's 0.1); the cosine schedule decays eta
  from 1 to ``w_lr_min / w_lr``. Gradient-norm clipping scales both gradients of a pair by
  the same factor (so a pair stays a secant pair of the scaled loss).
* alpha: the step uses the gradient averaged over the ``alpha_accum`` batches; the pair is
  measured on the last of them, at the old and the new alpha (same omega): one extra
  forward/backward per alpha step.
"""

from __future__ import annotations

import torch

from ..samplers import BFGSGaussian, DiagonalGaussian
from . import drive
from .base import Strategy, accuracy, advance_schedules, cosine_lr, weights_sgd


def metrics(loss, logits, y, v_loss, v_logits, yv) -> dict[str, torch.Tensor]:
    """The step's losses and top-1 accuracies (``base.accuracy``), as device tensors (no host sync)."""
    return {
        "train_loss": loss.detach(),
        "train_acc": accuracy(logits, y),
        "valid_loss": v_loss.detach(),
        "valid_acc": accuracy(v_logits, yv),
    }


class GibbsNAS(Strategy):
    """GibbsNAS with ``order`` 2 (both blocks sampled) or 1 (omega by SGD), ``mode`` sample or mean."""

    def __init__(self, model, config, steps_per_epoch, search_sizes, order: int = 2, mode: str = "sample"):
        super().__init__(model, config, steps_per_epoch, search_sizes)
        if order not in (1, 2):
            raise ValueError(f"GibbsNAS order must be 1 or 2, got {order!r}")
        self.order, self.mode = order, mode
        self.name = f"gibbs{order}" + ("-mean" if mode == "mean" else "")
        c = config
        common = dict(
            mode=mode, noise=c.noise, clip_std=c.clip_std, warmup_steps=c.warmup_steps, ramp_steps=c.ramp_steps
        )
        w_temperature = c.temperature if c.w_temperature is None else c.w_temperature
        weights = list(model.weight_parameters())
        if order == 2:
            # eta = 1 and D <= w_lr: the sampler's operating point (module docstring)
            self.w_optimizer = DiagonalGaussian(
                weights,
                lr=1.0,
                h_max=c.w_lr,
                h_min=min(1e-4, c.w_lr),
                pairs="closure",
                weight_decay=c.w_weight_decay,
                data_size=c.data_size or self.train_size,
                history_size=c.history_size,
                seed=c.seed + 1,
                temperature=w_temperature,
                **common,
            )
            self.w_scheduler = cosine_lr(self.w_optimizer, c.epochs, c.w_lr_min / c.w_lr)
        else:  # SGD as DARTS's
            self.w_optimizer, self.w_scheduler = weights_sgd(model, c)
        alpha_common = dict(
            common,
            warmup_steps=max(0, c.warmup_steps // c.alpha_accum),
            ramp_steps=max(0, c.ramp_steps // c.alpha_accum),
        )
        self.a_optimizer = BFGSGaussian(
            model.arch_parameters(),
            lr=c.a_lr,
            weight_decay=c.a_weight_decay,
            pairs="closure",
            data_size=c.data_size or self.valid_size,
            seed=c.seed + 2,
            temperature=c.temperature,
            h_max=c.alpha_h_max,
            max_step=c.alpha_max_step,
            **alpha_common,
        )
        self.a_scheduler = cosine_lr(self.a_optimizer, c.epochs, c.a_lr * 0.01)
        self.a_optimizer.finite_watch = self.watch  # its gradient check read once per epoch, no sync
        self._accum = [torch.zeros_like(a) for a in model.arch_parameters()]
        self._accum_count = 0

    def optimizers(self):
        return {
            "w_optimizer": self.w_optimizer,
            "w_scheduler": self.w_scheduler,
            "a_optimizer": self.a_optimizer,
            "a_scheduler": self.a_scheduler,
        }

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

    # --- omega | alpha (Eq. 15) ------------------------------------------------------
    def _weight_grads(self, x, y, where, scale: torch.Tensor | None = None):
        """Loss on (x, y); ``.grad`` of the trainable weights set to its (clipped) gradient.

        ``scale=None`` clips by ``grad_clip`` and returns the factor used (a tensor: clipping
        through ``clip_grad_norm_``'s foreach path, a few kernels and no host sync); a given
        ``scale`` multiplies the gradient by it instead (the second gradient of a curvature pair).
        """
        weights = [w for w in self.model.weight_parameters() if w.requires_grad]
        loss, logits = self.forward_loss(x, y, where)
        if not weights:  # frozen weights (e.g. an alpha-only search on fixed weights)
            return loss, logits, None
        grads = torch.autograd.grad(loss, weights)
        for w, g in zip(weights, grads):
            w.grad = g
        if scale is not None:
            torch._foreach_mul_(list(grads), scale)
        elif self.config.grad_clip and self.config.grad_clip > 0:
            # foreach=None: the foreach kernels on CUDA (on the CPU too in recent torch); no host sync
            norm = torch.nn.utils.clip_grad_norm_(weights, self.config.grad_clip, foreach=None)
            scale = (self.config.grad_clip / (norm + 1e-6)).clamp(max=1.0)  # the factor it applied
        return loss, logits, scale

    def _omega_step(self, x, y, where, global_step):
        if self.order == 1:  # SGD: one gradient, no pairs
            self.w_optimizer.zero_grad(set_to_none=True)
            loss, logits, _ = self._weight_grads(x, y, where)
            self.w_optimizer.step()
            return loss, logits
        # the sampler notes a non-finite gradient with the losses (read once per epoch) instead of
        # checking it at once (a host sync per step); a NaN step is then discarded with its epoch
        self.w_optimizer.finite_watch = self.watch
        self.w_optimizer.zero_grad(set_to_none=True)
        if global_step % max(1, int(self.config.curvature_every)) != 0:
            loss, logits, _ = self._weight_grads(x, y, where)
            self.w_optimizer.step()
            return loss, logits
        first = {}

        def closure():  # before the move: the step's gradient; after it: the pair's second gradient
            self.w_optimizer.zero_grad(set_to_none=True)
            if not first:
                first["loss"], first["logits"], first["scale"] = self._weight_grads(x, y, where)
                return first["loss"]
            loss_new, _, _ = self._weight_grads(x, y, where + " (curvature pair)", scale=first["scale"])
            return loss_new

        self.w_optimizer.step(closure)
        return first["loss"], first["logits"]

    def step(self, train_batch, valid_batch, epoch, step):
        where = f"{self.name} epoch {epoch} step {step}"
        # 1. omega_t | alpha_t  (Eq. 15)
        x, y = train_batch
        loss, logits = self._omega_step(x, y, where + " (omega)", epoch * self.steps_per_epoch + step)

        # 2. alpha_{t+1} | omega_t  (Eq. 16), gradient averaged over alpha_accum batches
        alphas = list(self.model.arch_parameters())
        xv, yv = valid_batch
        if epoch < self.config.alpha_warmup_epochs:  # opt-in warm-up: alpha stays put, omega trains
            with torch.no_grad():
                v_loss, v_logits = self.forward_loss(xv, yv, where + " (valid, alpha warm-up)")
            return metrics(loss, logits, y, v_loss, v_logits, yv)
        v_loss, v_logits = self.forward_loss(xv, yv, where + " (alpha)")
        last = torch.autograd.grad(v_loss, alphas)
        for acc, g in zip(self._accum, last):
            acc.add_(g)
        self._accum_count += 1
        if self._accum_count >= self.config.alpha_accum:
            mean = [acc / self._accum_count for acc in self._accum]
            calls = []

            def closure():
                # 1st call (before the move): the averaged gradient, which the step uses.
                # 2nd call (after it): averaged + [grad_B(alpha_new) - grad_B(alpha_old)] on the
                # last batch B, so the sampler's y is that same-batch difference.
                if not calls:
                    grads = mean
                else:
                    loss_new, _ = self.forward_loss(xv, yv, where + " (alpha curvature pair)")
                    new = torch.autograd.grad(loss_new, alphas)
                    grads = [m + gn - gl for m, gn, gl in zip(mean, new, last)]
                calls.append(1)
                for a, g in zip(alphas, grads):
                    a.grad = g
                return v_loss

            try:
                self.a_optimizer.step(closure)
            except ValueError:  # its gradient check: a non-finite loss first, if there was one
                self.check_finite()
                raise
            for acc in self._accum:
                acc.zero_()
            self._accum_count = 0
        return metrics(loss, logits, y, v_loss, v_logits, yv)

    def end_epoch(self, epoch):
        advance_schedules(self.w_scheduler, self.a_scheduler)  # alpha may not have moved yet (its docstring)
        if self.config.noise_follows_lr:
            self._follow_schedule()

    def _follow_schedule(self):
        """Temperature x eta(2 - eta) / (eta0 (2 - eta0)) for each sampler (module docstring)."""
        c = self.config
        w_temperature = c.temperature if c.w_temperature is None else c.w_temperature
        samplers = [(self.a_optimizer, c.temperature)]
        if self.order == 2:
            samplers.append((self.w_optimizer, w_temperature))
        for sampler, base in samplers:
            for group in sampler.param_groups:
                eta, eta0 = group["lr"], group["initial_lr"]
                group["temperature"] = base * (eta * (2 - eta)) / (eta0 * (2 - eta0))

    def drive_report(self):
        """The drift/noise split of alpha's movement and the noise-only control (search/drive.py)."""
        alphas = [a.detach() for a in self.model.arch_parameters()]
        movement = self.a_optimizer.movement()
        report = drive.drive_report(movement, [a.shape for a in alphas], alphas)
        if report and len(alphas) == 1:  # a one-block space (NB201): the control as an arch string
            control = (movement["start"] + movement["noise"]).view_as(alphas[0])
            report["noise_only_arch"] = self.model.arch_string([control])
        return report

    def alpha_state(self):
        state = super().alpha_state()
        cov = self.a_optimizer.covariance()
        std = cov.diagonal().clamp_min(0).sqrt().float().cpu()
        shapes = [a.shape for a in self.model.arch_parameters()]
        chunks, start = [], 0
        for shape in shapes:
            n = int(torch.Size(shape).numel())
            chunks.append(std[start : start + n].reshape(shape).tolist())
            start += n
        state["std"] = chunks
        return state
