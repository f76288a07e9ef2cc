"""DARTS (Liu et al., ICLR 2019): first order (V1) and unrolled second order (V2).

alpha step first, on a search-valid batch, then the omega step on a search-train batch, as in
the reference code. V2 differentiates the validation loss through one virtual SGD step of
the weights (Liu et al., Eq. 7) and replaces the second-order term with a central finite
difference (Eq. 8):

    grad_alpha L_val(w', alpha) - xi * [grad_alpha L_train(w+, alpha) - grad_alpha L_train(w-, alpha)] / (2 r)
    w' = w - xi * (momentum * buf + grad_w L_train(w, alpha) + wd * w),  w+- = w +- r * grad_w' L_val(w', alpha),
    r = 0.01 / ||grad_w' L_val(w', alpha)||.

The virtual step is applied to the weights in place and undone exactly (saved copies), so
no second network is built.
"""

from __future__ import annotations

import torch

from .base import SgdAdamStrategy, accuracy


class DartsV1(SgdAdamStrategy):
    """First-order DARTS: alpha by Adam on the search-valid gradient, omega by SGD."""

    name = "darts-v1"

    def alpha_gradient(self, train_batch, valid_batch, where: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Set alpha's ``.grad`` to the search-valid gradient; returns (loss, accuracy), device tensors."""
        x, y = valid_batch
        loss, logits = self.forward_loss(x, y, where)
        grads = torch.autograd.grad(loss, self.model.arch_parameters())
        for a, g in zip(self.model.arch_parameters(), grads):
            a.grad = g
        return loss.detach(), accuracy(logits, y)

    def step(self, train_batch, valid_batch, epoch, step):
        where = f"{self.name} epoch {epoch} step {step}"
        self.a_optimizer.zero_grad(set_to_none=True)
        v_loss, v_acc = self.alpha_gradient(train_batch, valid_batch, where + " (alpha)")
        self.a_optimizer.step()

        x, y = train_batch
        self.w_optimizer.zero_grad(set_to_none=True)
        loss, logits = self.forward_loss(x, y, where + " (omega)")
        self.backward_weights(loss)  # omega's gradient only: no backward through alpha
        self.clip_weights_grad()
        self.w_optimizer.step()
        return {"train_loss": loss.detach(), "train_acc": accuracy(logits, y), "valid_loss": v_loss, "valid_acc": v_acc}


class DartsV2(DartsV1):
    """Second-order DARTS: the unrolled alpha gradient with a finite-difference Hessian-vector product."""

    name = "darts-v2"
    fd_radius = 0.01

    @torch.no_grad()
    def _set_weights(self, tensors):
        for p, t in zip(self.model.weight_parameters(), tensors):
            p.copy_(t)

    def alpha_gradient(self, train_batch, valid_batch, where):
        model, c = self.model, self.config
        weights = list(model.weight_parameters())
        alphas = list(model.arch_parameters())
        xi = self.w_optimizer.param_groups[0]["lr"]
        saved = [w.detach().clone() for w in weights]

        try:
            # virtual step w' = w - xi * (momentum * buf + grad + wd * w)
            x_t, y_t = train_batch
            loss_t, _ = self.forward_loss(x_t, y_t, where + " unrolled train")
            grads_w = torch.autograd.grad(loss_t, weights, allow_unused=True)
            with torch.no_grad():
                for w, g in zip(weights, grads_w):
                    step = torch.zeros_like(w) if g is None else g + c.w_weight_decay * w
                    buf = self.w_optimizer.state.get(w, {}).get("momentum_buffer")
                    if buf is not None:
                        step = step + c.w_momentum * buf
                    w.sub_(xi * step)

            # grad of L_val at (w', alpha) w.r.t. alpha and w'
            x_v, y_v = valid_batch
            loss_v, logits_v = self.forward_loss(x_v, y_v, where + " unrolled valid")
            grads = torch.autograd.grad(loss_v, alphas + weights, allow_unused=True)
            d_alpha = [g for g in grads[: len(alphas)]]
            vector = [torch.zeros_like(w) if g is None else g for w, g in zip(weights, grads[len(alphas) :])]
        finally:  # back to the original w (also when the loss was not finite)
            self._set_weights(saved)

        # finite-difference Hessian-vector product at the original w
        implicit = self.hessian_vector_product(vector, train_batch, where)
        for a, g, h in zip(alphas, d_alpha, implicit):
            a.grad = g - xi * h
        return loss_v.detach(), accuracy(logits_v, y_v)

    def hessian_vector_product(self, vector, train_batch, where: str = "darts-v2") -> list[torch.Tensor]:
        """``grad^2_{alpha,w} L_train(w, alpha) . vector`` at the current weights, by Eq. 8:

            [grad_alpha L_train(w + r v, alpha) - grad_alpha L_train(w - r v, alpha)] / (2 r),
            r = fd_radius / ||v||  (0.01 / ||v||, as DARTS' ``_hessian_vector_product``).

        The weights are moved in place and restored exactly (a saved copy) before returning.
        r stays on the device (a 0-dim float64 tensor: the same numbers as the Python float it
        was, with no host sync); on CUDA a division by a device r is not the multiplication by a
        host reciprocal that torch uses for a Python number, so CUDA's last bits may differ.
        """
        weights = list(self.model.weight_parameters())
        alphas = list(self.model.arch_parameters())
        x_t, y_t = train_batch
        saved = [w.detach().clone() for w in weights]
        norm = torch.sqrt(sum((v * v).sum() for v in vector)).to(torch.float64) + 1e-12
        radius = torch.full_like(norm, self.fd_radius) / norm  # a division, as fd_radius / float(norm)
        grads = []
        try:
            for sign in (+1.0, -1.0):
                self._set_weights([s + sign * radius * v for s, v in zip(saved, vector)])
                loss_pm, _ = self.forward_loss(x_t, y_t, where + " finite difference")
                grads.append(torch.autograd.grad(loss_pm, alphas))
        finally:
            self._set_weights(saved)
        return [(gp - gn) / (2 * radius) for gp, gn in zip(*grads)]
