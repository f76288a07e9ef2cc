"""Training a derived architecture from scratch: DARTS's evaluation protocol.

A search (GibbsNAS or a baseline) in the DARTS space ends with a *genotype*, two cells. Its
quality is measured by stacking those cells into a larger evaluation network and training it
from scratch (Liu, Simonyan & Yang, "DARTS: Differentiable Architecture Search", ICLR 2019,
Sec. 3.3 and App. A.2; code: quark0/darts ``cnn/train.py``). GibbsNAS reports its DARTS-space
result with the same protocol (Xue et al., AAAI 2021, Table 1: "We follow the DARTS search
space as well as its other settings").

The ``full`` profile is that protocol (:data:`DARTS_PROTOCOL`):

=====================  ==========================================================
network                ``NetworkCIFAR``: 20 cells, 36 initial channels, reductions
                       at 1/3 and 2/3 depth, auxiliary head at 2/3 depth
data                   the whole CIFAR-10 training set (50,000), tested on the
                       10,000 test images; random crop (pad 4), flip, cutout 16
schedule               600 epochs, batch 96
optimizer              SGD, lr 0.025, momentum 0.9, weight decay 3e-4,
                       cosine annealing to 0 over the epochs
regularization         drop path, probability ``0.2 * epoch / epochs`` (linear ramp
                       from 0), auxiliary loss weight 0.4, gradient-norm clip 5
=====================  ==========================================================

``smoke`` (synthetic data, seconds) and ``cpu`` (Fashion-MNIST padded to 32x32, a few
minutes on 2 cores) are the same loop at small sizes: a proof that the network trains, not a
result. Every run folder holds ``checkpoint.pt`` (written atomically after every epoch, with
the model, optimizer, scheduler, data-stream position and RNG states), ``history.jsonl`` (one
record per epoch) and ``summary.json``; ``resume=DIR`` continues a killed run and, on CPU with
the same number of threads, reaches bit for bit the uninterrupted result.

Differences from ``cnn/train.py`` (documented in docs/train.md): the last, smaller batch of an
epoch is dropped (DARTS keeps it: 80 of 50,000 images per epoch here, each seen in other
epochs); the data loader is :class:`gibbsnas_lite.data.DeviceLoader` (batches augmented on
the device, no worker processes).
"""

from __future__ import annotations

import json
import math
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..runs import (
    PROFILES,
    ConfigDict,
    choice,
    option,
)
from ..spaces.darts.genotypes import (
    GENOTYPES,
    Genotype,
    format_genotype,
    genotype_from_dict,
    genotype_to_dict,
    parse_genotype,
)
from ..spaces.darts.model import resolve_genotype

DATASETS = ("cifar10", "cifar100", "fashion-mnist", "synthetic")
NETWORKS = ("cifar", "imagenet")

#: DARTS's CIFAR-10 evaluation protocol: quark0/darts ``cnn/train.py`` argument defaults, with
#: ``--auxiliary --cutout`` as the README's command turns them on (DARTS paper, App. A.2:
#: "A large network of 20 cells is trained for 600 epochs with batch size 96 ... initial number
#: of channels 36 ... cutout, path dropout of probability 0.2 and auxiliary towers with weight
#: 0.4"). The cosine schedule anneals to 0 (``CosineAnnealingLR`` without ``eta_min``).
DARTS_PROTOCOL: dict[str, Any] = dict(
    dataset="cifar10",
    network="cifar",
    channels=36,
    layers=20,
    auxiliary=True,
    auxiliary_weight=0.4,
    epochs=600,
    batch_size=96,
    lr=0.025,
    lr_min=0.0,
    momentum=0.9,
    weight_decay=3e-4,
    grad_clip=5.0,
    cutout=16,
    drop_path_prob=0.2,
    train_limit=None,
    test_limit=None,
    max_steps_per_epoch=None,
)

#: GibbsNAS paper, Table 1 (Xue et al., AAAI 2021): CIFAR-10 test error of cells searched in the
#: DARTS space (and a few others), each retrained with the DARTS protocol above. Rows: method,
#: test error (%), its std (None: not given), params (M), search cost (GPU-days), search method.
#: "Numbers of compared methods are from original papers" (the table's caption).
PAPER_TABLE1_DARTS_SPACE: tuple[dict[str, Any], ...] = (
    dict(method="NASNet-A + cutout", error=2.65, std=None, params_m=3.3, gpu_days=1800, search="RL"),
    dict(method="AmoebaNet-B + cutout", error=2.55, std=0.05, params_m=2.8, gpu_days=3150, search="evolution"),
    dict(method="ENAS + cutout", error=2.89, std=None, params_m=4.6, gpu_days=0.5, search="RL"),
    dict(method="DARTS-V1 + cutout", error=3.00, std=0.14, params_m=3.3, gpu_days=0.4, search="gradient"),
    dict(method="DARTS-V2 + cutout", error=2.76, std=0.09, params_m=3.4, gpu_days=1.0, search="gradient"),
    dict(method="SNAS (moderate) + cutout", error=2.85, std=0.02, params_m=2.8, gpu_days=1.5, search="gradient"),
    dict(method="P-DARTS + cutout", error=2.50, std=None, params_m=3.4, gpu_days=0.3, search="gradient"),
    dict(method="PC-DARTS (1st order) + cutout", error=2.57, std=0.07, params_m=3.6, gpu_days=0.1, search="gradient"),
    dict(method="BayesNAS + cutout", error=2.81, std=0.04, params_m=3.4, gpu_days=0.2, search="gradient"),
    dict(method="GibbsNAS + cutout", error=2.53, std=0.02, params_m=4.1, gpu_days=0.5, search="gradient & sampling"),
)


@dataclass
class TrainConfig(ConfigDict):
    """Everything a training run needs; stored in its checkpoint and summary.

    ``genotype`` is kept as text (a name from ``GENOTYPES`` or the one-line form of
    :func:`~gibbsnas_lite.spaces.darts.genotypes.format_genotype`), so the config is JSON.
    The fields declared with :func:`~gibbsnas_lite.runs.option` are ``gibbsnas-lite train``'s
    options (their help text is there).
    """

    config_noun = "train config"  # in from_dict's unknown-key error

    genotype: str = option(
        "DARTS_V2",
        help="a published name (DARTS_V1, DARTS_V2, PDARTS, PC_DARTS_CIFAR, GDAS_V1, ...), a one-line "
        "genotype 'normal=|op~j|...;reduce=|...', a JSON object, or a search run folder "
        "(default: DARTS_V2)",
    )
    dataset: str = option("cifar10", choices=DATASETS, help="default: the profile's")
    profile: str = option("full", choices=PROFILES, help="default: full")
    seed: int = option(0, help="default: 0")
    device: str = option(
        "auto",
        choices=("auto", "cpu", "cuda"),
        with_resume=True,
        help="default: auto (CUDA when available); with --resume: the device to continue on",
    )
    # network
    network: str = "cifar"  # "cifar": NetworkCIFAR; "imagenet": NetworkImageNet
    channels: int = option(36, help="initial channels C")
    layers: int = option(20, help="number of cells")
    auxiliary: bool = True
    auxiliary_weight: float = 0.4
    drop_path_prob: float = 0.2  # at the end of training; ramped linearly from 0
    # schedule and optimizer
    epochs: int = option(600)
    batch_size: int = option(96)
    lr: float = option(0.025)
    lr_min: float = 0.0
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    # data
    cutout: int = 16
    data_root: str | None = option(None, help="dataset folder (default: cache dir)")
    download: bool = option(False, help="download CIFAR if missing")
    # keep the first k training images (None: all)
    train_limit: int | None = option(None, help="first k training images only")
    test_limit: int | None = None  # keep the first k test images (None: all)
    max_steps_per_epoch: int | None = None
    test_batch_size: int = 256
    eval_every: int = 1  # test every k epochs (and always after the last)
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> TrainConfig:
        choice("dataset", self.dataset, DATASETS)
        choice("profile", self.profile, PROFILES)
        choice("device", self.device, ("auto", "cpu", "cuda"))
        choice("network", self.network, NETWORKS)
        for name in ("epochs", "batch_size", "channels", "layers", "test_batch_size", "eval_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.network == "cifar" and self.layers < 3:
            raise ValueError(f"NetworkCIFAR needs layers >= 3 (two reduction cells and one normal), got {self.layers}")
        if not float(self.lr) > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if not 0.0 <= float(self.drop_path_prob) < 1.0:
            raise ValueError(f"drop_path_prob must be in [0, 1), got {self.drop_path_prob!r}")
        if self.cutout < 0:
            raise ValueError(f"cutout must be >= 0, got {self.cutout!r}")
        parse_genotype_arg(self.genotype)
        return self


#: Profiles are presets of the same loop. ``full`` is :data:`DARTS_PROTOCOL`.
PROFILE_PRESETS: dict[str, dict[str, Any]] = {
    # seconds on 2 CPU cores: a 3-cell, 4-channel network on 256 synthetic 32x32 images
    "smoke": dict(
        DARTS_PROTOCOL,
        dataset="synthetic",
        channels=4,
        layers=3,
        epochs=2,
        batch_size=32,
        train_limit=256,
        test_limit=128,
        cutout=8,
        test_batch_size=128,
    ),
    # minutes on 2 CPU cores: a 5-cell, 8-channel network, 2 epochs on 2,048 Fashion-MNIST images
    # (padded to 32x32, so the auxiliary head sees the same 8x8 maps as on CIFAR)
    "cpu": dict(
        DARTS_PROTOCOL,
        dataset="fashion-mnist",
        channels=8,
        layers=5,
        epochs=2,
        batch_size=64,
        train_limit=2048,
        test_limit=1000,
        cutout=8,
        test_batch_size=250,
    ),
    "full": dict(DARTS_PROTOCOL),
}


def make_train_config(profile: str = "full", genotype: Any = "DARTS_V2", **overrides: Any) -> TrainConfig:
    """A config from a profile preset, then explicit overrides (``None`` values are ignored).

    ``genotype``: a :class:`Genotype`, a name (``"DARTS_V2"``), a one-line or ``Genotype(...)``
    string, a JSON object (``genotype_to_dict``), or a search run folder / its summary.json.
    """
    choice("profile", profile, PROFILES)
    values: dict[str, Any] = dict(PROFILE_PRESETS[profile], profile=profile, genotype=genotype_argument(genotype))
    values.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig.from_dict(values).validate()


# ------------------------------------------------------------------------------- genotypes
def parse_genotype_arg(value: Any) -> Genotype:
    """A validated :class:`Genotype` from what a user may pass on the command line or in code.

    Accepted: a :class:`Genotype` (or a dict with its four fields); a name in ``GENOTYPES``
    (``DARTS_V2``, ``PDARTS``...); the one-line form ``normal=|op~j|...;reduce=...``; DARTS's
    ``Genotype(normal=[...], ...)`` repr; a JSON object ``{"normal": [["op", j], ...], ...}``;
    a path to a search run folder (its ``summary.json`` ``arch``) or to such a JSON file.
    Anything else is a ``ValueError`` that lists the names.
    """
    if isinstance(value, Genotype) or isinstance(value, dict):
        return resolve_genotype(value if isinstance(value, Genotype) else genotype_from_dict(value, steps=None))
    if not isinstance(value, str):
        raise ValueError(
            f"a genotype must be a name, a string, a JSON object or a Genotype; got {type(value).__name__}"
        )
    text = value.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"genotype JSON does not parse ({err})") from None
        return parse_genotype_arg(data.get("arch", data) if isinstance(data, dict) else data)
    if text in GENOTYPES:
        return resolve_genotype(text)
    if text and os.path.exists(text):
        path = Path(text)
        if path.is_dir():
            path = path / "summary.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(
                f"cannot read a genotype from {text} ({err}); give a search run folder "
                "(with summary.json) or a JSON file of a genotype"
            ) from None
        if isinstance(data, dict) and "arch" in data and "space" in data:  # a search's summary.json
            try:
                return parse_genotype_arg(data["arch"])
            except ValueError:
                raise ValueError(
                    f"{text} is a {data['space']} search whose cell {data['arch']!r} is not a DARTS genotype; "
                    "only DARTS-space genotypes train here (a search with --space darts)"
                ) from None
        return parse_genotype_arg(data.get("arch", data) if isinstance(data, dict) else data)
    if text.startswith("Genotype(") or "=" in text:
        return resolve_genotype(text)
    raise ValueError(
        f"unknown genotype {value!r}: give a name ({', '.join(GENOTYPES)}), a one-line genotype "
        "'normal=|op~j|...;reduce=|...', a JSON object {\"normal\": [[op, j], ...], ...}, "
        "or a search run folder"
    )


def genotype_argument(value: Any) -> str:
    """The text stored in a :class:`TrainConfig`: the name when ``value`` is one, else the
    one-line form (validated either way)."""
    if isinstance(value, str) and value.strip() in GENOTYPES:
        parse_genotype(value.strip(), steps=None)
        return value.strip()
    return format_genotype(parse_genotype_arg(value))


# ------------------------------------------------------------------------------- schedules
def lr_at(config: TrainConfig, epoch: int) -> float:
    """Learning rate of ``epoch`` (0-based): cosine from ``lr`` to ``lr_min`` over ``epochs``,
    ``lr_min + (lr - lr_min) * (1 + cos(pi * epoch / epochs)) / 2`` (PyTorch's
    ``CosineAnnealingLR``, stepped once per epoch, as DARTS does)."""
    return config.lr_min + (config.lr - config.lr_min) * (1 + math.cos(math.pi * epoch / config.epochs)) / 2


def drop_path_at(config: TrainConfig, epoch: int) -> float:
    """Drop-path probability of ``epoch`` (0-based): ``drop_path_prob * epoch / epochs``
    (DARTS ``cnn/train.py``): 0 in the first epoch, just under ``drop_path_prob`` in the last."""
    return config.drop_path_prob * epoch / config.epochs


# ------------------------------------------------------------------------------- the command
def full_command(
    genotype: Any,
    out: str = "runs/train-cifar10",
    dataset: str = "cifar10",
    profile: str = "full",
    download: bool = True,
    device: str = "auto",
) -> str:
    """The one-line shell command that trains ``genotype`` with the DARTS protocol (``full``)."""
    text = genotype_argument(genotype)
    parts = [
        "gibbsnas-lite",
        "train",
        "--genotype",
        shlex.quote(text),
        "--dataset",
        dataset,
        "--profile",
        profile,
        "--out",
        shlex.quote(out),
        "--device",
        device,
    ]
    if download:
        parts.append("--download")
    return " ".join(parts)


def genotype_json(value: Any) -> str:
    """The JSON form of a genotype (what ``--genotype`` also accepts)."""
    return json.dumps(genotype_to_dict(parse_genotype_arg(value)))


# ------------------------------------------------------------------------------- presentation
def table1_markdown(extra: dict[str, Any] | None = None) -> str:
    """:data:`PAPER_TABLE1_DARTS_SPACE` as a markdown table; ``extra`` (``method``, ``error``,
    ``params_m``...) is appended as a last row (e.g. this run, clearly labelled)."""
    rows = list(PAPER_TABLE1_DARTS_SPACE) + ([extra] if extra else [])
    out = [
        "| method | CIFAR-10 test error (%) | params (M) | search (GPU-days) | search method |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        err = "–" if r.get("error") is None else f"{r['error']:.2f}" + (f" ± {r['std']:.2f}" if r.get("std") else "")
        params = "–" if r.get("params_m") is None else f"{r['params_m']:.2f}".rstrip("0").rstrip(".")
        days = "–" if r.get("gpu_days") is None else f"{r['gpu_days']:g}"
        out.append(f"| {r['method']} | {err} | {params} | {days} | {r.get('search', '')} |")
    return "\n".join(out)
