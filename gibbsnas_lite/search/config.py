"""Search configuration: one dataclass, named profiles, and each strategy's defaults with their source.

Profiles are presets, not separate code paths: the same loop runs all three.

- ``smoke``: seconds on 2 CPU cores, synthetic data, a tiny supernet (C=4, N=1).
- ``cpu``: minutes on 2 cores under 2 GB: Fashion-MNIST at 16x16 (2x2-pooled), reduced supernet,
  10 epochs x 64 steps: the stage of the seed study (docs/search.md), about 2 minutes per search.
- ``full``: the paper's protocol on a GPU: CIFAR-10, C=16, N=5, 50 epochs, batch 64.

Sources of the defaults:

- DARTS-V1/V2 on NAS-Bench-201: the benchmark's DARTS config (Dong & Yang, ICLR 2020, App.;
  AutoDL-Projects ``configs/nas-benchmark/algos/DARTS.config``): 50 epochs, batch 64, SGD lr
  0.025 (cosine to 0.001), momentum 0.9, Nesterov, weight decay 5e-4; alpha by Adam lr 3e-4,
  betas (0.5, 0.999), weight decay 1e-3; gradient-norm clip 5. The unrolled step (V2) uses
  the weights' lr and momentum for the virtual step and a finite-difference Hessian-vector
  product with radius 0.01 / ||grad|| (Liu et al., ICLR 2019, Eq. 8).
- GDAS: same optimizers (AutoDL ``GDAS.config``), Gumbel temperature annealed linearly
  10 -> 0.1 over the epochs (Dong & Yang, CVPR 2019).
- RSPS: random single path with the same SGD; then the best of 100 sampled architectures by
  the shared weights' accuracy on a search-valid batch (Li & Talwalkar, UAI 2019; NB201's
  ``select_num=100``).
- GibbsNAS (Xue et al., AAAI 2021, Experiments): omega lr 0.1 with batch 64, alpha lr 0.1 with
  batch 2048 (here: alpha gradients accumulated over ``alpha_accum`` search-valid batches of 64,
  2048 / 64 = 32), weight decay = importance decay = 1e-4. For the 2nd-order omega sampler
  ``w_lr`` is the cap of its inverse-curvature diagonal (the longest per-coordinate step) at
  step factor 1, the sampler's documented operating point (``gibbs.py``, docs/samplers.md);
  for SGD (1st order) it is the learning rate. Temperature, warm-up and clipping are the
  paper's unpublished "policies": our defaults and the evidence for them are in
  ``docs/search.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..runs import ConfigDict, choice, option
from ..samplers import NOISES
from ..spaces import registry as spaces
from .registry import REGISTRY, get, strategy_names

DATASETS = ("synthetic", "fashion-mnist", "cifar10", "cifar100", "ImageNet16-120")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class SearchConfig(ConfigDict):
    """Everything a search run needs; stored in its checkpoint and summary.

    The fields declared with :func:`~gibbsnas_lite.runs.option` are ``gibbsnas-lite search``'s
    options (their help text is there); every field can be set with ``--set KEY=VALUE``.
    """

    strategy: str = option("gibbs2", choices=strategy_names, help="default: gibbs2")
    space: str = option("nb201", choices=spaces.space_names, help="default: nb201")
    dataset: str = option("synthetic", choices=DATASETS, help="default: the profile's")
    profile: str = option("smoke", choices=lambda: PROFILES, help="default: smoke")  # PROFILES is defined below
    seed: int = option(0, help="default: 0")
    device: str = option(
        "auto",
        choices=DEVICES,
        with_resume=True,
        help="default: auto (CUDA when available); with --resume: the device to continue on "
        "(the checkpoint's kind of device; bit for bit on CPU)",
    )
    # supernet
    channels: int = option(16, help="supernet width C")
    # NB201: N cells per stage; DARTS: 3N - 1 cells (N=3: the 8-cell search net)
    cells_per_stage: int = option(5, flag="--cells", help="cells per stage N")
    # data
    data_root: str | None = option(None, help="dataset folder (default: cache dir)")
    download: bool = option(False, help="download CIFAR if missing")
    # keep the first k examples of each search half (None: all)
    train_limit: int | None = option(None, help="examples kept per search half")
    image_size: int = 32
    # schedule
    epochs: int = option(50)
    batch_size: int = option(64)
    # omega (weights)
    w_lr: float = option(0.025)
    w_lr_min: float = 0.001
    w_momentum: float = 0.9
    w_weight_decay: float = 5e-4
    grad_clip: float = 5.0
    # alpha (architecture)
    a_lr: float = option(3e-4)
    a_weight_decay: float = 1e-3
    alpha_accum: int = 1  # alpha step every k steps, gradients summed over k search-valid batches
    # GibbsNAS: omega only for the first k epochs (opt-in; the paper has none, docs/search.md)
    alpha_warmup_epochs: int = option(
        0, help="GibbsNAS: train omega only for the first k epochs (opt-in, not in the paper; docs/search.md)"
    )
    # GibbsNAS sampler knobs (see docs/samplers.md)
    # T of alpha's draws (Eq. 16); also omega's unless w_temperature is set
    temperature: float = option(
        1.0, help="T of alpha's draws, Eq. 16, and of omega's unless --w-temperature (GibbsNAS)"
    )
    # T of omega's draws (Eq. 15); None: the same as temperature
    w_temperature: float | None = option(
        None, help="T of omega's draws, Eq. 15 (GibbsNAS-2nd; default 0.1, docs/search.md)"
    )
    noise_follows_lr: bool = False  # scale each block's T by eta(2-eta)/(eta0(2-eta0)) per epoch (gibbs.py)
    # covariance of a draw: "eq16" (T/N) H as printed, or "calibrated" eta(2-eta) (T/N) H, whose chain
    # spreads as the Laplace Gaussian (T/N) H at every eta (samplers._common.noise_variance_factor)
    noise: str = "eq16"
    data_size: int | None = None  # N of Eqs. 15-16; None: size of each search half
    warmup_steps: int = 0
    ramp_steps: int = 0
    clip_std: float | None = 3.0
    alpha_h_max: float | None = None  # cap on the eigenvalues of alpha's BFGS H (BFGSGaussian h_max; docs/search.md)
    alpha_max_step: float | None = None  # trust radius of one alpha draw (BFGSGaussian max_step)
    history_size: int = 5
    curvature_every: int = 1  # GibbsNAS 2nd order: same-batch omega curvature pair every k steps (gibbs.py)
    # GDAS
    tau_max: float = 10.0
    tau_min: float = 0.1
    # RSPS
    rsps_candidates: int = 100
    # bookkeeping
    alpha_every: int = 10  # record alpha every k steps
    max_steps_per_epoch: int | None = None
    amp: bool = option(False, help="bf16 autocast on CUDA")
    # model and batches in torch.channels_last: 1.3-1.4x faster steps on a CPU (float32 rounding differs
    # from NCHW's, so a search's path does too; docs/bench_search.md); on by default in the cpu and
    # cpu-deep profiles, off elsewhere (no gain on CUDA, where it adds copies to the flat omega sampler).
    channels_last: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> SearchConfig:
        choice("strategy", self.strategy, strategy_names())  # the registry now (it may have grown)
        choice("space", self.space, spaces.space_names())  # the space registry now
        choice("dataset", self.dataset, DATASETS)
        choice("profile", self.profile, PROFILES)
        choice("device", self.device, DEVICES)
        choice("noise", self.noise, NOISES)
        if self.noise == "calibrated" and self.noise_follows_lr:
            raise ValueError(
                "noise='calibrated' already scales each draw by eta(2 - eta); noise_follows_lr=True would "
                "apply that factor twice: set noise_follows_lr=False (or noise='eq16')"
            )
        for name in (
            "epochs",
            "batch_size",
            "channels",
            "cells_per_stage",
            "alpha_accum",
            "alpha_every",
            "curvature_every",
        ):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("w_lr", "a_lr", "temperature"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not 0 <= int(self.alpha_warmup_epochs) < int(self.epochs):
            raise ValueError(
                f"alpha_warmup_epochs must be in [0, epochs={self.epochs}), got {self.alpha_warmup_epochs!r}"
            )
        for name in ("download", "noise_follows_lr", "amp", "channels_last"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"{name} must be True or False, got {getattr(self, name)!r} "
                    f"(on the command line: --set {name}=True)"
                )
        if self.w_temperature is not None and not float(self.w_temperature) > 0:
            raise ValueError(f"w_temperature must be > 0 or None (the same as temperature), got {self.w_temperature!r}")
        return self


PROFILE_PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(
        dataset="synthetic",
        channels=4,
        cells_per_stage=1,
        epochs=2,
        batch_size=32,
        train_limit=256,
        image_size=16,
        alpha_every=2,
    ),
    # The seed study's stage (docs/search.md): 16x16 images make a step ~4x cheaper than 32x32,
    # which buys 10 epochs (640 steps, 160 alpha steps) for about 2 minutes of CPU per search.
    # Its data is the embedded subset on every machine, as the deep stage's (issue 20: a learner
    # on Binder, a laptop or CI searches the shipped study's pictures); data_root=PATH reads the
    # full set instead.
    "cpu": dict(
        dataset="fashion-mnist",
        data_root="embedded",
        channels=8,
        cells_per_stage=1,
        epochs=10,
        batch_size=64,
        train_limit=4096,
        image_size=16,
        alpha_every=10,
        channels_last=True,  # 1.3x faster steps on a CPU (docs/bench_search.md, "Issue 19")
    ),
    # The deep stage (docs/search.md "The deep stage"): the cpu stage with NAS-Bench-201's depth
    # (5 cells per stage, 15 cells) and 20 epochs, where DARTS-V1 at its published config
    # collapses to parameter-free cells on a CPU. Its data is the embedded subset on every
    # machine (data_root="embedded"), so a learner's run reads the study's pictures.
    "cpu-deep": dict(
        dataset="fashion-mnist",
        data_root="embedded",
        channels=8,
        cells_per_stage=5,
        epochs=20,
        batch_size=64,
        train_limit=4096,
        image_size=16,
        alpha_every=10,
        channels_last=True,
    ),
    "full": dict(
        dataset="cifar10",
        channels=16,
        cells_per_stage=5,
        epochs=50,
        batch_size=64,
        train_limit=None,
        image_size=32,
        alpha_every=20,
    ),
}

PROFILES = tuple(PROFILE_PRESETS)  # smoke, cpu, cpu-deep, full (notebooks take smoke, cpu, full)

#: (profile, strategy family) -> values on top of the strategy's defaults. The deep stage's
#: GibbsNAS settings were chosen on its seeds 0-2 by the rule written down before the runs
#: (docs/deep_stage.md): candidate B, the paper's T = 1 and no cap on alpha's H, with calibrated
#: draws and a cool omega chain (T_omega = 0.01). No candidate met the rule's no-collapse
#: condition on all three seeds; B is the gate-passer with the best mean there.
PROFILE_FAMILY_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    ("cpu-deep", "gibbs"): dict(
        noise="calibrated", noise_follows_lr=False, temperature=1.0, w_temperature=0.01, alpha_h_max=None
    ),
}

FULL_OVER_CPU_N = 25_000 / 4_096  # search-half sizes of the full (CIFAR-10) and cpu profiles


def strategy_defaults() -> dict[str, dict[str, Any]]:
    """Per-strategy defaults on top of the profile (sources in the module docstring): each entry's
    ``defaults`` in :mod:`gibbsnas_lite.search.registry`, read now."""
    return {name: dict(spec.defaults) for name, spec in REGISTRY.items()}


def __getattr__(name: str) -> Any:
    """``STRATEGIES`` (the registry's names, in its order: gibbs2, gibbs2-mean, gibbs1, ...),
    ``STRATEGY_DEFAULTS`` (:func:`strategy_defaults`) and ``SPACES`` (the space registry's names:
    nb201, darts, ...), computed from the registries on each access."""
    if name == "SPACES":
        return spaces.space_names()
    if name == "STRATEGIES":
        return strategy_names()
    if name == "STRATEGY_DEFAULTS":
        return strategy_defaults()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_config(strategy: str = "gibbs2", profile: str = "smoke", **overrides: Any) -> SearchConfig:
    """A config from a profile preset, the strategy's defaults, then explicit overrides."""
    spec = get(strategy)
    choice("profile", profile, PROFILES)
    values: dict[str, Any] = dict(strategy=strategy, profile=profile)
    values.update(PROFILE_PRESETS[profile])
    values.update(spec.defaults)
    if spec.family == "gibbs" and spec.order == 2 and profile != "smoke":
        # The same-batch omega pair costs one extra forward/backward; every 8th step keeps
        # GibbsNAS-2nd at 1.07x a DARTS-V1 step at full size: docs/bench_search.md.
        values["curvature_every"] = 8
    if spec.family == "gibbs" and profile == "full":
        # Same noise per draw (T/N) as the cpu choice at N = 4,096: N = 25,000 here, so both
        # temperatures x 25,000 / 4,096 (T = 61, T_omega = 0.061; docs/search.md; an
        # extrapolation, not yet measured on the full protocol).
        values["temperature"] = values["temperature"] * FULL_OVER_CPU_N
        if values.get("w_temperature") is not None:
            values["w_temperature"] = values["w_temperature"] * FULL_OVER_CPU_N
    if profile == "smoke":  # a few steps per epoch: accumulate alpha over fewer batches
        values["alpha_accum"] = min(values.get("alpha_accum", 1), 2)
    elif profile in ("cpu", "cpu-deep"):
        values["alpha_accum"] = min(values.get("alpha_accum", 1), 4)
    values.update(PROFILE_FAMILY_DEFAULTS.get((profile, spec.family), {}))
    if overrides.get("space") is not None:  # a space's own profile values (DARTS full: the 8-cell search net)
        values.update(spaces.get(overrides["space"]).profile_defaults.get(profile, {}))
    values.update({k: v for k, v in overrides.items() if v is not None})
    if overrides.get("data_root") is None and values.get("dataset") != "fashion-mnist":
        values["data_root"] = None  # a preset's embedded subset is Fashion-MNIST's: another dataset reads its own
    return SearchConfig.from_dict(values).validate()
