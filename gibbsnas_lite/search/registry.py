"""The search strategies, one table: name -> class, order, mode, labels and per-strategy defaults.

Adding a strategy is one file plus one line: write ``search/<name>.py`` with a subclass of
:class:`~gibbsnas_lite.search.base.Strategy` (its ``step``, and ``end_epoch``/``optimizers``
when it has schedules; :class:`~gibbsnas_lite.search.base.SgdAdamStrategy` gives DARTS's
optimizers), then add one :func:`register` call below. ``search.STRATEGIES``, the CLI's
``--strategy`` choices, :func:`~gibbsnas_lite.search.make_config` (the entry's ``defaults``),
the loop (:func:`build`) and the course's report (``label``, ``paper_row``) all read this table.

Each entry (:class:`StrategySpec`):

- ``target``: the class, as ``"module:Class"`` relative to this package (imported on first use);
- ``label``: display name (tables, figures); ``paper_row``: its row in the paper's Table 3;
- ``family``: ``"gibbs"``, ``"darts"``, ``"gdas"`` or ``"rsps"`` (config rules that hold for a
  whole family, e.g. GibbsNAS's temperature scaling in the ``full`` profile);
- ``order``: 2 for second order (GibbsNAS-2nd's L-BFGS omega sampler, DARTS-V2's unrolled
  alpha gradient), 1 for first order, ``None`` where there is no gradient on alpha (RSPS);
- ``mode``: ``"sample"`` or ``"mean"`` for GibbsNAS (draws, or their means), ``None`` for the
  baselines (no such switch);
- ``options``: keyword arguments the class takes besides ``(model, config, steps, sizes)``;
- ``defaults``: config values on top of the profile (sources: :mod:`gibbsnas_lite.search.config`);
- ``color``: its colour in every figure (:func:`color`; grey where an entry has none).

The table is read live: ``search.STRATEGIES``, ``search.config.STRATEGY_DEFAULTS``,
``sweep.stats.ORDER``, ``course.report.STRATEGY_NAMES`` and ``course.ablation.VARIANTS`` are
computed from it on each access, so a strategy registered later (a test's toy) shows up in all.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from ..runs import choice

__all__ = [
    "DEFAULT_COLOR",
    "REGISTRY",
    "StrategySpec",
    "build",
    "color",
    "get",
    "in_family",
    "register",
    "strategy_names",
]


@dataclass(frozen=True)
class StrategySpec:
    """One search strategy (module docstring)."""

    name: str
    target: Any  # "module:Class" (relative to gibbsnas_lite.search) or the class
    label: str
    paper_row: str
    family: str
    order: int | None = None
    mode: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    color: str | None = None

    @property
    def cls(self) -> type:
        """The strategy class (imported on first use)."""
        if not isinstance(self.target, str):
            return self.target
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(f".{module}", __package__), attr)

    def build(self, model, config, steps_per_epoch: int, sizes: tuple[int, int]):
        return self.cls(model, config, steps_per_epoch, sizes, **self.options)


#: name -> spec, in registration order (the order of ``search.STRATEGIES``).
REGISTRY: dict[str, StrategySpec] = {}


def register(spec: StrategySpec) -> StrategySpec:
    """Add ``spec`` to :data:`REGISTRY` (a name is registered once)."""
    if spec.name in REGISTRY:
        raise ValueError(f"strategy {spec.name!r} is registered already")
    REGISTRY[spec.name] = spec
    return spec


def strategy_names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def get(name: str) -> StrategySpec:
    """The spec of ``name`` (a ``ValueError`` that lists the names otherwise)."""
    choice("strategy", name, strategy_names())
    return REGISTRY[name]


def in_family(name: str, family: str) -> bool:
    """Whether ``name`` is a registered strategy of ``family`` (``False`` for unknown names)."""
    spec = REGISTRY.get(name)
    return spec is not None and spec.family == family


#: the colour of a strategy without one (and of names that are not strategies)
DEFAULT_COLOR = "#7f7f7f"


def color(name: str, default: str | None = DEFAULT_COLOR) -> str | None:
    """The figure colour of strategy ``name`` (``default`` for unknown names and entries without one)."""
    spec = REGISTRY.get(name)
    return spec.color if spec is not None and spec.color else default


def build(config, model, steps_per_epoch: int, sizes: tuple[int, int]):
    """The strategy object of ``config.strategy`` for ``model``."""
    return get(config.strategy).build(model, config, steps_per_epoch, sizes)


def _gibbs(name: str, order: int, mode: str, label: str, defaults: dict[str, Any], color: str) -> StrategySpec:
    return StrategySpec(
        name,
        "gibbs:GibbsNAS",
        label,
        "GibbsNAS",
        "gibbs",
        order,
        mode,
        options=dict(order=order, mode=mode),
        defaults=defaults,
        color=color,
    )


# Per-strategy defaults on top of the profile (sources in gibbsnas_lite.search.config's docstring).
_DARTS = dict(w_lr=0.025, w_weight_decay=5e-4, a_lr=3e-4, a_weight_decay=1e-3)
# GibbsNAS: paper's lr 0.1 for both (omega, 2nd order: the diagonal's cap), decays 1e-4,
# alpha batch 2048 = 32 x 64. The sampler policies are this kit's, chosen by the candidate
# study in docs/search.md ("Why GibbsNAS lands on parameter-free cells"):
# - alpha_h_max = 1: H's eigenvalues capped at 1, so a quasi-Newton alpha step is never longer
#   than the first-order step at the same lr (the rule the omega sampler's D <= w_lr already
#   follows); uncapped, the nearly flat alpha loss gives H ~ 100-5,000 and draws of 0.3-0.7;
# - w_temperature = 0.01 (2nd order): a cool omega chain, the paper's remedy for "excessive
#   uncertainty of weights"; the noisy, slower-trained supernet is what drifts to
#   parameter-free ops;
# - temperature = 10 for alpha (with the cap, a draw's std is <= sqrt(10 / 4096) = 0.05);
# - noise_follows_lr: the noise follows the cosine schedule (else the effective temperature
#   grows ~100x by the end).
_GIBBS2 = dict(
    w_lr=0.1,
    w_weight_decay=1e-4,
    a_lr=0.1,
    a_weight_decay=1e-4,
    alpha_accum=32,
    temperature=10.0,
    w_temperature=0.01,
    noise_follows_lr=True,
    alpha_h_max=1.0,
)
# 1st order: omega by SGD with DARTS's schedule, paper's weight decay 1e-4.
_GIBBS1 = dict(
    w_lr=0.025,
    w_weight_decay=1e-4,
    a_lr=0.1,
    a_weight_decay=1e-4,
    alpha_accum=32,
    temperature=10.0,
    noise_follows_lr=True,
    alpha_h_max=1.0,
)

# Colours: GibbsNAS in blues (2nd order) and teals (1st order), the mean twins lighter; DARTS in reds.
register(_gibbs("gibbs2", 2, "sample", "GibbsNAS-2nd", _GIBBS2, "#1f77b4"))
register(_gibbs("gibbs2-mean", 2, "mean", "GibbsNAS-2nd (mean)", _GIBBS2, "#aec7e8"))
register(_gibbs("gibbs1", 1, "sample", "GibbsNAS-1st", _GIBBS1, "#17becf"))
register(_gibbs("gibbs1-mean", 1, "mean", "GibbsNAS-1st (mean)", _GIBBS1, "#9edae5"))
register(
    StrategySpec(
        "darts-v1", "darts:DartsV1", "DARTS-V1", "DARTS-V1", "darts", order=1, defaults=_DARTS, color="#d62728"
    )
)
register(
    StrategySpec(
        "darts-v2", "darts:DartsV2", "DARTS-V2", "DARTS-V2", "darts", order=2, defaults=_DARTS, color="#ff9896"
    )
)
register(StrategySpec("gdas", "gdas:GDAS", "GDAS", "GDAS", "gdas", order=1, defaults=_DARTS, color="#2ca02c"))
register(
    StrategySpec(
        "rsps", "rsps:RSPS", "RSPS", "RSPS", "rsps", defaults=dict(w_lr=0.025, w_weight_decay=5e-4), color="#9467bd"
    )
)
#: the strategies every process knows on import (a Ray worker knows no entry registered later)
BUILT_IN = frozenset(REGISTRY)
