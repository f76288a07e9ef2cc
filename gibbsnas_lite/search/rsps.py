"""RSPS: random search with parameter sharing (Li & Talwalkar, UAI 2019), as NAS-Bench-201 runs it.

Training: each step trains one uniformly random single path of the supernet (no alpha).
Selection: ``rsps_candidates`` (100) random architectures are scored by the shared weights'
accuracy on one fixed search-valid batch and the best is returned, with the network in eval
mode and no gradients as in the benchmark's ``search_find_best`` (so selection never changes
the network's BN running statistics). (The benchmark's code scores each candidate on the
next batch of the loader; one fixed batch compares all candidates on the same examples.)
"""

from __future__ import annotations

import torch

from ..spaces import registry as spaces
from .base import BlockDraws, Strategy, accuracy, advance_schedules, logits_of, weights_sgd


class RSPS(Strategy):
    """Random single paths from the strategy's CPU generator, an epoch of steps' paths drawn at
    once (:class:`~gibbsnas_lite.search.base.BlockDraws`: the same paths as one draw per step,
    read into Python once per epoch instead of once per step)."""

    name = "rsps"
    uses_alpha = False

    def __init__(self, model, config, steps_per_epoch, search_sizes):
        super().__init__(model, config, steps_per_epoch, search_sizes)
        self.space = spaces.get(config.space)
        if not self.space.single_path or len(self.space.blocks) != 1:
            single = [name for name, spec in spaces.REGISTRY.items() if spec.single_path and len(spec.blocks) == 1]
            raise ValueError(
                f"rsps trains single paths, which the {config.space} supernet does not run; "
                f"use --space {' or '.join(single)}"
            )
        self.w_optimizer, self.w_scheduler = weights_sgd(model, config)
        self.last_selection: list[tuple[str, float]] = []
        self.draws = BlockDraws(self.generator, self.random_paths, self.steps_per_epoch)

    def optimizers(self):
        return {"w_optimizer": self.w_optimizer, "w_scheduler": self.w_scheduler}

    def random_path(self, generator: torch.Generator) -> list[int]:
        return self.random_paths(generator, 1)[0]

    def random_paths(self, generator: torch.Generator, count: int) -> list[list[int]]:
        """``count`` uniformly random paths (one op index per edge), as ``count`` draws of one."""
        return torch.randint(0, len(self.space.ops), (count, len(self.space.edges)), generator=generator).tolist()

    def step(self, train_batch, valid_batch, epoch, step):
        x, y = train_batch
        self.w_optimizer.zero_grad(set_to_none=True)
        loss, logits = self.forward_loss(x, y, f"rsps epoch {epoch} step {step}", path=self.draws.next())
        self.backward_weights(loss)
        self.clip_weights_grad()
        self.w_optimizer.step()
        return {"train_loss": loss.detach(), "train_acc": accuracy(logits, y)}

    def end_epoch(self, epoch):
        advance_schedules(self.w_scheduler)

    @torch.no_grad()
    def derive(self) -> str:
        if self.fixed_valid_batch is None:
            raise RuntimeError("RSPS selection needs fixed_valid_batch (the loop sets it)")
        x, y = self.fixed_valid_batch
        picker = torch.Generator().manual_seed(int(self.config.seed) + 104729)  # same candidates every call
        paths, accs = [], []
        was_training = self.model.training
        self.model.eval()
        try:
            for _ in range(int(self.config.rsps_candidates)):
                paths.append(self.random_path(picker))
                accs.append(accuracy(logits_of(self.model(x, path=paths[-1])), y))
        finally:
            self.model.train(was_training)
        accs = torch.stack(accs).tolist() if accs else []  # one host sync for all candidates
        scored = [(self.space.path_arch(path), acc) for path, acc in zip(paths, accs)]
        scored.sort(key=lambda item: -item[1])
        self.last_selection = scored
        return scored[0][0]
