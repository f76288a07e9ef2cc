"""The architecture posterior of a GibbsNAS search on NAS-Bench-201 (notebook 07).

A GibbsNAS search ends with more than one architecture: the alpha sampler (``BFGSGaussian``,
paper Eq. 16) carries a Gaussian over alpha. This module draws many alpha from it, derives the
NB201 cell of each (the benchmark's argmax per edge), and asks what a point estimate hides:
how many distinct cells the posterior puts mass on, how sure each edge is of its op, how good
those cells are on the benchmark, and which cell to return.

**Which Gaussian.** The sampler targets ``p(alpha | D) ∝ exp(-N U(alpha) / T)`` (U the
per-example loss plus the prior, N the data size of Eq. 16) and approximates it around the
current alpha by the Laplace Gaussian ``N(alpha, (T/N) H)``, H ≈ (∇²U)⁻¹ its BFGS inverse
Hessian. The "final Gaussian" here is that Laplace Gaussian at the end of the search:

* centre: the final alpha (the search's last draw; its argmax is the architecture the search
  returns, ``SearchResult.arch``);
* covariance: ``(T/N) H`` with H the sampler's final BFGS estimate, N its data size and T the
  search's *base* temperature (``config.temperature``).

Not the sampler's own next-draw covariance ``covariance()``: with ``noise_follows_lr`` (the
GibbsNAS default) the sampler's temperature is scaled by eta(2 - eta)/(eta0(2 - eta0)) so the
chain's spread stays put while its step length eta decays, so at the last epoch
(eta = 0.001) one draw has about 1 % of the posterior's variance (``final_temperature``
records it); and not the chain's stationary spread ``(T/N) H / (eta (2 - eta))`` (docs/samplers.md),
which depends on the step length, not on the data. ``temperature=`` picks another T.

**Deriving.** Each draw is turned into a cell with the space's own rule
(:func:`gibbsnas_lite.spaces.nb201.derive_arch`: argmax per edge, ``none`` included). Adding
a constant to an edge's row changes no argmax, so the large variance H has along each edge's
softmax-shift direction (curvature = the prior's 1e-4 only) does not matter.

**Choosing.** :func:`choose_architecture` returns the cell a rule picks:

* ``"argmax"``: the argmax of the centre (what the search returns; plain DARTS practice);
* ``"modal"``: the most frequent cell among the draws, the maximum of the posterior over
  cells. Uses no benchmark number at all, so it competes with argmax on equal terms;
* ``"marginal"``: per edge, the op that wins most often (the cell of the per-edge modes);
* ``"valid"``: among the ``top`` most probable cells, the one with the best 200-epoch
  *validation* accuracy of the benchmark's search split (``cifar10-valid`` valid, what the
  table-based searches select on). A hybrid: the posterior proposes, ``top`` table queries
  decide. It costs those queries and reads the benchmark, so report it apart from the
  one-shot numbers.

No rule reads a test accuracy: picking by the table's test column would be choosing on the
test set. Test accuracies (``cifar10`` test, ...) are only ever *reported*.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..spaces.nb201.arch import NUM_EDGES, NUM_OPS, OPS, derive_arch, parse_arch

__all__ = [
    "ACCURACY_COLUMNS",
    "RULES",
    "AlphaGaussian",
    "ArchPosterior",
    "Choice",
    "alpha_gaussian",
    "architecture_posterior",
    "choose_architecture",
    "disagreement_example",
    "gaussian_from_run",
    "gaussian_from_search",
    "load_alpha_gaussian",
    "sample_alphas",
    "temperature_sweep",
]

SHAPE = (NUM_EDGES, NUM_OPS)
NUMEL = NUM_EDGES * NUM_OPS

#: name -> (dataset, split) of NB201Table, 200 epochs. ``cifar10_valid`` is the search split the
#: table-based searches select on; the ``*_test`` columns are only reported.
ACCURACY_COLUMNS: dict[str, tuple[str, str]] = {
    "cifar10_valid": ("cifar10-valid", "valid"),
    "cifar10_test": ("cifar10", "test"),
    "cifar100_valid": ("cifar100", "valid"),
    "cifar100_test": ("cifar100", "test"),
    "ImageNet16-120_valid": ("ImageNet16-120", "valid"),
    "ImageNet16-120_test": ("ImageNet16-120", "test"),
}
RULES = ("argmax", "modal", "marginal", "valid")


# ----------------------------------------------------------------------------- sampling
def _check_mean_cov(mean: Any, cov: Any) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(mean, torch.Tensor) or not isinstance(cov, torch.Tensor):
        raise ValueError(f"mean and cov must be torch tensors, got {type(mean).__name__} and {type(cov).__name__}")
    n = mean.numel()
    if mean.dim() == 0 or n == 0:
        raise ValueError(f"mean must be a non-empty vector or matrix, got shape {tuple(mean.shape)}")
    if tuple(cov.shape) != (n, n):
        raise ValueError(
            f"cov must be ({n}, {n}) for a mean of {n} entries (shape {tuple(mean.shape)}, "
            f"flattened row-major), got {tuple(cov.shape)}"
        )
    if mean.device != cov.device:
        raise ValueError(
            f"mean is on {mean.device} but cov is on {cov.device}; move both to one device (e.g. cov.to(mean.device))"
        )
    if not (mean.is_floating_point() and cov.is_floating_point()):
        raise ValueError(f"mean and cov must be floating point, got {mean.dtype} and {cov.dtype}")
    if not (torch.isfinite(mean).all() and torch.isfinite(cov).all()):
        raise ValueError("mean or cov contains NaN or inf")
    return mean, cov


def _factor(cov: torch.Tensor) -> torch.Tensor:
    """A matrix L with L Lᵀ = cov (float64): Cholesky, or V sqrt(Λ) for a singular PSD cov."""
    cov = cov.double()
    asym = float((cov - cov.T).abs().max())
    scale = float(cov.abs().max()) or 1.0
    if asym > 1e-8 * scale:
        raise ValueError(f"cov is not symmetric (max |cov - covᵀ| = {asym:.3g})")
    factor, info = torch.linalg.cholesky_ex(cov)
    if int(info) == 0:
        return factor
    values, vectors = torch.linalg.eigh((cov + cov.T) / 2)
    if float(values.min()) < -1e-8 * max(float(values.max()), 1e-300):
        raise ValueError(f"cov is not positive semi-definite (smallest eigenvalue {float(values.min()):.3g})")
    return vectors * values.clamp_min(0).sqrt()


def sample_alphas(
    mean: torch.Tensor, cov: torch.Tensor, num_samples: int, seed: int = 0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``num_samples`` draws from N(mean, cov), shape ``(num_samples, *mean.shape)``.

    ``mean`` of any shape (its entries flattened row-major index ``cov``), ``cov`` its
    (n, n) covariance, both on one device; draws are made on that device in float64 with a
    ``torch.Generator`` seeded by ``seed`` (or the given ``generator``), then cast to
    ``mean.dtype``. The same seed on the same device gives the same draws (CPU and CUDA
    generators give different ones). A singular positive semi-definite cov is allowed.
    """
    mean, cov = _check_mean_cov(mean, cov)
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
        raise ValueError(f"num_samples must be an integer >= 1, got {num_samples!r}")
    if generator is None:
        generator = torch.Generator(device=mean.device)
        generator.manual_seed(int(seed))
    elif generator.device.type != mean.device.type:
        raise ValueError(f"generator is on {generator.device} but mean is on {mean.device}")
    factor = _factor(cov)
    z = torch.randn(int(num_samples), mean.numel(), dtype=torch.float64, device=mean.device, generator=generator)
    draws = mean.detach().reshape(1, -1).double() + z @ factor.T
    return draws.to(mean.dtype).reshape(int(num_samples), *mean.shape)


# ----------------------------------------------------------------------------- the Gaussian
@dataclass(frozen=True)
class AlphaGaussian:
    """The Laplace Gaussian N(mean, (T/N) H) of a GibbsNAS alpha state (module docstring).

    ``mean``: (6, 5) alpha; ``inverse_hessian``: H (30 x 30, float64, alpha flattened
    row-major); ``temperature`` T; ``data_size`` N; ``final_temperature``: the sampler's own
    temperature at the end of the search (after ``noise_follows_lr``), for reference.
    """

    mean: torch.Tensor
    inverse_hessian: torch.Tensor
    temperature: float
    data_size: float
    source: str = ""
    final_temperature: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def cov(self) -> torch.Tensor:
        """(T/N) H, float64."""
        return (self.temperature / self.data_size) * self.inverse_hessian.double()

    @property
    def std(self) -> torch.Tensor:
        """Per-entry standard deviation, shaped like ``mean``."""
        return self.cov.diagonal().clamp_min(0).sqrt().reshape(self.mean.shape)

    @property
    def device(self) -> torch.device:
        return self.mean.device

    @property
    def argmax_arch(self) -> str:
        """The derived cell of the centre (what the search returned)."""
        return derive_arch(self.mean.detach().cpu())

    def with_temperature(self, temperature: float) -> AlphaGaussian:
        """The same Gaussian at another T (covariance scales linearly with T)."""
        return replace(self, temperature=_positive("temperature", temperature))

    def to(self, device: Any) -> AlphaGaussian:
        return replace(self, mean=self.mean.to(device), inverse_hessian=self.inverse_hessian.to(device))

    def sample(self, num_samples: int, seed: int = 0) -> torch.Tensor:
        """(num_samples, 6, 5) alpha draws on this Gaussian's device (:func:`sample_alphas`)."""
        return sample_alphas(self.mean.detach(), self.cov, num_samples, seed=seed)

    def __repr__(self) -> str:
        return (
            f"AlphaGaussian(T={self.temperature:g}, N={self.data_size:g}, device={self.device}, "
            f"mean std {float(self.std.mean()):.3g}, source={self.source!r})"
        )


def _positive(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number > 0, got {value!r}") from None
    if not (v > 0 and math.isfinite(v)):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def alpha_gaussian(
    mean: torch.Tensor,
    inverse_hessian: torch.Tensor,
    temperature: float = 1.0,
    data_size: float = 1.0,
    source: str = "",
    final_temperature: float | None = None,
    **info: Any,
) -> AlphaGaussian:
    """Build (and check) an :class:`AlphaGaussian` from an NB201 alpha and its H."""
    if not isinstance(mean, torch.Tensor) or tuple(mean.shape) not in (SHAPE, (NUMEL,)):
        shape = tuple(mean.shape) if isinstance(mean, torch.Tensor) else type(mean).__name__
        raise ValueError(
            f"NB201 alpha must be a ({NUM_EDGES}, {NUM_OPS}) tensor (edges x ops) or its {NUMEL} entries, got {shape}"
        )
    mean = mean.detach().reshape(SHAPE)
    _check_mean_cov(mean, inverse_hessian)
    return AlphaGaussian(
        mean,
        inverse_hessian.detach().double(),
        _positive("temperature", temperature),
        _positive("data_size", data_size),
        source,
        final_temperature,
        dict(info),
    )


def _check_gibbs_nb201(config: Any, where: str) -> None:
    from ..nasbench import NB201Table
    from ..search.registry import in_family
    from ..spaces.registry import get as get_space
    from ..spaces.registry import spaces_in_benchmark

    if not in_family(str(config.strategy), "gibbs"):
        raise ValueError(
            f"{where} is a {config.strategy} search; the alpha posterior needs a GibbsNAS "
            "search (strategy gibbs2, gibbs1 or their -mean twins: a BFGS alpha sampler)"
        )
    if get_space(config.space).benchmark_name != NB201Table.NAME:
        raise ValueError(
            f"{where} searched the {config.space} space; this module derives NAS-Bench-201 cells only "
            f"(a search with --space {' or '.join(spaces_in_benchmark(NB201Table.NAME))})"
        )


def gaussian_from_search(result: Any, temperature: float | None = None) -> AlphaGaussian:
    """The final alpha Gaussian of a :class:`gibbsnas_lite.search.SearchResult` (in memory)."""
    strategy = getattr(result, "strategy", None)
    if strategy is None or getattr(result, "model", None) is None:
        raise ValueError("this SearchResult holds no strategy/model; load the run folder with gaussian_from_run")
    _check_gibbs_nb201(result.config, "this result")
    sampler = strategy.a_optimizer
    return alpha_gaussian(
        result.model.alpha.detach().clone(),
        sampler.inverse_hessian(),
        temperature=result.config.temperature if temperature is None else temperature,
        data_size=sampler.data_size,
        source=f"SearchResult ({result.config.strategy}, seed {result.config.seed})",
        final_temperature=float(sampler.param_groups[0]["temperature"]),
        alpha_steps=int(sampler._state()["step"]),
        epochs_done=len(result.history.epochs),
    )


def _data_size_from_history(last_epoch: Mapping[str, Any], h: torch.Tensor, t_final: float) -> float | None:
    """N from the recorded per-entry std: std² = (T_final / N) H_ii (``GibbsNAS.alpha_state``)."""
    std = last_epoch.get("std")
    if not std:
        return None
    s = torch.tensor(std, dtype=torch.float64).reshape(-1)
    ok = s > 0
    if not bool(ok.any()):
        return None
    ratios = (t_final * h.diagonal().cpu()[ok]) / s[ok] ** 2
    return float(round(float(ratios.median())))


def gaussian_from_run(
    run_dir: str | Path, temperature: float | None = None, map_location: Any = "cpu"
) -> AlphaGaussian:
    """The final alpha Gaussian of a saved GibbsNAS run folder (its ``checkpoint.pt``).

    N is ``config.data_size`` when set; otherwise it is read back from the last epoch's
    recorded per-entry std (std² = (T_final/N) H_ii), since the checkpoint does not store the
    sampler's data size.
    """
    from ..search.checkpoint import load_checkpoint
    from ..search.config import SearchConfig

    ckpt = load_checkpoint(Path(run_dir), map_location=map_location)
    config = SearchConfig.from_dict(ckpt["config"])
    _check_gibbs_nb201(config, str(run_dir))
    mean = ckpt["model"]["alpha"]
    sampler = ckpt["strategy"]["a_optimizer"]
    state = sampler["state"].get(0, {})
    t_final = float(sampler["param_groups"][0]["temperature"])
    h = state.get("inverse_hessian")
    if h is None:  # no alpha step yet: the sampler's initial H = I
        h = torch.eye(NUMEL, dtype=torch.float64, device=mean.device)
    h = h.to(device=mean.device, dtype=torch.float64)
    n = config.data_size
    if not n:
        epochs = ckpt["history"]["epochs"]
        n = _data_size_from_history(epochs[-1], h, t_final) if epochs else None
    if not n:
        raise ValueError(f"{run_dir}: cannot tell the sampler's data size N (no config.data_size, no recorded std)")
    return alpha_gaussian(
        mean,
        h,
        temperature=config.temperature if temperature is None else temperature,
        data_size=n,
        source=str(run_dir),
        final_temperature=t_final,
        alpha_steps=int(state.get("step", 0)),
        epochs_done=int(ckpt["epoch"]) + 1,
    )


def load_alpha_gaussian(source: Any, temperature: float | None = None) -> AlphaGaussian:
    """:func:`gaussian_from_search` for a SearchResult, :func:`gaussian_from_run` for a path."""
    if isinstance(source, (str, Path)):
        return gaussian_from_run(source, temperature)
    return gaussian_from_search(source, temperature)


# ----------------------------------------------------------------------------- cells
@dataclass(frozen=True, eq=False)
class ArchPosterior:
    """The distribution over NB201 cells of K alpha draws.

    ``codes`` (K, 6): the winning op (``OPS`` index) per edge of each draw; ``archs``: the
    distinct cells, most frequent first (ties: first drawn first); ``counts``; ``sample_arch``
    (K,): each draw's position in ``archs``; ``win_probs`` (6, 5): P(op wins edge);
    ``accuracies``: per distinct cell, 200-epoch NAS-Bench-201 accuracy per
    :data:`ACCURACY_COLUMNS` key (empty without a table); ``mean_arch``: the centre's cell.
    """

    codes: np.ndarray
    archs: tuple[str, ...]
    counts: np.ndarray
    sample_arch: np.ndarray
    win_probs: np.ndarray
    accuracies: dict[str, np.ndarray]
    mean_arch: str | None = None

    @property
    def num_samples(self) -> int:
        return int(self.codes.shape[0])

    @property
    def probs(self) -> np.ndarray:
        """Posterior probability (frequency) of each distinct cell."""
        return self.counts / self.num_samples

    @property
    def num_distinct(self) -> int:
        return len(self.archs)

    @property
    def modal_arch(self) -> str:
        return self.archs[0]

    @property
    def marginal_arch(self) -> str:
        """The cell made of each edge's most probable op."""
        from ..spaces.nb201.arch import format_arch

        return format_arch(OPS[k] for k in self.win_probs.argmax(axis=1))

    def win_indicators(self) -> np.ndarray:
        """(K, 6, 5) bool: draw k's op o wins edge e. Its mean over K is ``win_probs``."""
        return self.codes[:, :, None] == np.arange(NUM_OPS)[None, None, :]

    def prob(self, arch: str) -> float:
        """Posterior probability of ``arch`` (0 if never drawn)."""
        key = canonical_arch(arch)
        return float(self.probs[self.archs.index(key)]) if key in self.archs else 0.0

    def accuracy(self, arch: str, key: str = "cifar10_test") -> float:
        if key not in self.accuracies:
            raise ValueError(
                f"no {key!r} accuracies (pass table= to architecture_posterior); have {sorted(self.accuracies)}"
            )
        return float(self.accuracies[key][self.archs.index(canonical_arch(arch))])

    def sample_accuracies(self, key: str = "cifar10_test") -> np.ndarray:
        """(K,) the accuracy of each draw's cell."""
        if key not in self.accuracies:
            raise ValueError(
                f"no {key!r} accuracies (pass table= to architecture_posterior); have {sorted(self.accuracies)}"
            )
        return self.accuracies[key][self.sample_arch]

    def expected(self, key: str = "cifar10_test") -> float:
        """Posterior mean of an accuracy column (a description of the posterior, not a choice)."""
        return float(self.sample_accuracies(key).mean())

    def top(self, n: int = 10) -> list[dict[str, Any]]:
        """The ``n`` most probable cells: arch, probability and accuracies, as rows."""
        rows = []
        for i in range(min(int(n), self.num_distinct)):
            row: dict[str, Any] = {"arch": self.archs[i], "prob": float(self.probs[i])}
            row.update({k: float(v[i]) for k, v in self.accuracies.items()})
            rows.append(row)
        return rows


def canonical_arch(arch: str) -> str:
    from ..spaces.nb201.arch import format_arch

    return format_arch(parse_arch(arch))


def architecture_posterior(
    samples: torch.Tensor,
    table: Any = None,
    mean: torch.Tensor | None = None,
    columns: Sequence[str] = tuple(ACCURACY_COLUMNS),
) -> ArchPosterior:
    """Derive the cell of each alpha draw and count them.

    ``samples``: (K, 6, 5) or (K, 30) alpha draws (any device). Each distinct winner pattern is
    turned into its arch string by :func:`~gibbsnas_lite.spaces.nb201.derive_arch` (the
    space's derivation; torch's argmax gives the same first-maximum tie rule, checked).
    ``table``: a :class:`~gibbsnas_lite.nasbench.NB201Table` to look the cells up in (None:
    no accuracies). ``mean``: the centre, whose cell becomes ``mean_arch``.
    """
    if not isinstance(samples, torch.Tensor):
        raise ValueError(f"samples must be a torch tensor, got {type(samples).__name__}")
    if samples.dim() == 2 and samples.shape[1] == NUMEL:
        samples = samples.reshape(-1, *SHAPE)
    if samples.dim() != 3 or tuple(samples.shape[1:]) != SHAPE or samples.shape[0] < 1:
        raise ValueError(
            f"samples must have shape (K, {NUM_EDGES}, {NUM_OPS}) or (K, {NUMEL}) with K >= 1, "
            f"got {tuple(samples.shape)}"
        )
    samples = samples.detach()
    if not torch.isfinite(samples).all():
        raise ValueError("samples contain NaN or inf")
    codes = samples.argmax(dim=-1).cpu().numpy().astype(np.int64)  # (K, 6)
    flat = codes @ (NUM_OPS ** np.arange(NUM_EDGES - 1, -1, -1))
    uniq, first, inverse, counts = np.unique(flat, return_index=True, return_inverse=True, return_counts=True)
    order = np.lexsort((first, -counts))  # most frequent first, ties: first drawn first
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    archs = []
    for j in order:
        arch = derive_arch(samples[first[j]].cpu())
        if parse_arch(arch) != tuple(OPS[k] for k in codes[first[j]]):  # same tie rule as derive_arch
            raise RuntimeError(f"argmax of draw {first[j]} disagrees with derive_arch ({arch})")
        archs.append(arch)
    win_probs = np.stack([np.bincount(codes[:, e], minlength=NUM_OPS) for e in range(NUM_EDGES)]) / codes.shape[0]
    accuracies: dict[str, np.ndarray] = {}
    if table is not None:
        idx = table.indices(codes[first[order]])
        for key in columns:
            if key not in ACCURACY_COLUMNS:
                raise ValueError(f"unknown accuracy column {key!r}; choose from {', '.join(ACCURACY_COLUMNS)}")
            dataset, split = ACCURACY_COLUMNS[key]
            accuracies[key] = np.asarray(table.accuracies(dataset, split, 200)[idx], dtype=float)
    mean_arch = derive_arch(mean.detach().reshape(SHAPE).cpu()) if mean is not None else None
    return ArchPosterior(
        codes,
        tuple(archs),
        counts[order].astype(np.int64),
        rank[inverse.reshape(-1)].astype(np.int64),
        win_probs,
        accuracies,
        mean_arch,
    )


# ----------------------------------------------------------------------------- choice
@dataclass(frozen=True)
class Choice:
    """The cell a rule picked, its posterior probability, the table queries it cost, and why."""

    rule: str
    arch: str
    prob: float
    table_queries: int
    note: str


def choose_architecture(posterior: ArchPosterior, rule: str = "modal", top: int = 10, table: Any = None) -> Choice:
    """The final architecture by ``rule`` (module docstring): "argmax", "modal", "marginal" or "valid".

    "valid" reads the 200-epoch ``cifar10-valid`` valid accuracy of the ``top`` most probable
    cells (from ``posterior.accuracies`` or ``table``) and costs ``top`` table queries. No rule
    reads a test accuracy.
    """
    if rule == "argmax":
        if posterior.mean_arch is None:
            raise ValueError("rule 'argmax' needs the centre: architecture_posterior(..., mean=gaussian.mean)")
        return Choice(
            rule,
            posterior.mean_arch,
            posterior.prob(posterior.mean_arch),
            0,
            "argmax per edge of the final alpha (what the search returns)",
        )
    if rule == "modal":
        return Choice(
            rule,
            posterior.modal_arch,
            float(posterior.probs[0]),
            0,
            "most frequent cell among the draws (no benchmark number read)",
        )
    if rule == "marginal":
        arch = posterior.marginal_arch
        return Choice(rule, arch, posterior.prob(arch), 0, "each edge's most probable op (no benchmark number read)")
    if rule == "valid":
        if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
            raise ValueError(f"top must be an integer >= 1, got {top!r}")
        m = min(int(top), posterior.num_distinct)
        if "cifar10_valid" in posterior.accuracies:
            valid = posterior.accuracies["cifar10_valid"][:m]
        elif table is not None:
            valid = table.accuracies(*ACCURACY_COLUMNS["cifar10_valid"], 200, archs=list(posterior.archs[:m]))
        else:
            raise ValueError("rule 'valid' needs the benchmark's valid accuracies: pass table=")
        i = int(np.argmax(valid))  # ties: the more probable cell
        return Choice(
            rule,
            posterior.archs[i],
            float(posterior.probs[i]),
            m,
            f"best cifar10-valid valid accuracy (200 ep) among the {m} most probable cells "
            f"({m} table queries; hybrid, not one-shot)",
        )
    raise ValueError(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}")


# ----------------------------------------------------------------------------- sweeps, examples
def temperature_sweep(
    gaussian: AlphaGaussian,
    temperatures: Sequence[float],
    num_samples: int,
    seed: int = 0,
    table: Any = None,
    key: str = "cifar10_test",
) -> list[dict[str, Any]]:
    """One row per T: distinct cells, P(argmax cell), modal cell (and, with a table, the
    posterior mean of ``key`` and the modal cell's ``key``). Same seed for every T, so the
    draws differ only by their scale."""
    rows = []
    for t in temperatures:
        g = gaussian.with_temperature(t)
        post = architecture_posterior(
            g.sample(num_samples, seed=seed), table=table, mean=g.mean, columns=(key,) if table is not None else ()
        )
        row: dict[str, Any] = {
            "temperature": float(t),
            "distinct": post.num_distinct,
            "p_argmax": post.prob(g.argmax_arch),
            "p_modal": float(post.probs[0]),
            "modal_is_argmax": post.modal_arch == g.argmax_arch,
            "modal_arch": post.modal_arch,
        }
        if table is not None:
            row[f"expected_{key}"] = post.expected(key)
            row[f"modal_{key}"] = post.accuracy(post.modal_arch, key)
        rows.append(row)
    return rows


def disagreement_example(
    margin: float = 0.5, spread: float = 3.0, sure: float = 10.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """A (mean, cov) whose modal cell differs from the argmax of the mean, on edge 0.

    Edge 0: ``none`` has the largest mean (1.0) and no variance; ``skip_connect`` has mean
    ``margin`` and the other three 0, each with std ``spread``, independent. Then
    P(none wins) = Φ((1 - margin)/spread)·Φ(1/spread)³ ≈ 0.14 at the defaults, while
    skip_connect wins ≈ 0.256 of the draws: the most probable op is not the argmax of the mean.
    The other edges are sure (their first op leads by ``sure`` with std 1), so the modal
    cell is the argmax cell with edge 0 switched to skip_connect.
    """
    mean = torch.zeros(SHAPE, dtype=torch.float64)
    var = torch.ones(SHAPE, dtype=torch.float64)
    mean[0] = torch.tensor([1.0, margin, 0.0, 0.0, 0.0], dtype=torch.float64)
    var[0] = torch.tensor([0.0] + [spread**2] * 4, dtype=torch.float64)
    for e in range(1, NUM_EDGES):
        mean[e, e % NUM_OPS] = sure
    return mean, torch.diag(var.reshape(-1))
