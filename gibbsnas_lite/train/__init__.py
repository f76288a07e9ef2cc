"""Training a derived architecture from scratch: DARTS's evaluation protocol.

:mod:`.config` holds the protocol (:data:`DARTS_PROTOCOL`, the profiles, :class:`TrainConfig`,
genotype arguments, schedules, the one-line command, the paper's Table 1); :mod:`.loop` the
training loop (:func:`train_network`, checkpoints, resume, :class:`TrainResult`). The protocol
and its departures from quark0/darts ``cnn/train.py``: :mod:`.config`'s docstring, docs/train.md.
"""

from ..runs import CHECKPOINT, HISTORY, PROFILES, SUMMARY, NonFiniteLossError
from .config import (
    DARTS_PROTOCOL,
    DATASETS,
    NETWORKS,
    PAPER_TABLE1_DARTS_SPACE,
    PROFILE_PRESETS,
    TrainConfig,
    drop_path_at,
    full_command,
    genotype_argument,
    genotype_json,
    lr_at,
    make_train_config,
    parse_genotype_arg,
    table1_markdown,
)
from .loop import (
    CHECKPOINT_KIND,
    TrainResult,
    build_network,
    evaluate,
    load_train_checkpoint,
    train_network,
)

__all__ = [
    "CHECKPOINT",
    "CHECKPOINT_KIND",
    "DATASETS",
    "HISTORY",
    "NETWORKS",
    "SUMMARY",
    "DARTS_PROTOCOL",
    "PAPER_TABLE1_DARTS_SPACE",
    "PROFILES",
    "PROFILE_PRESETS",
    "TrainConfig",
    "TrainResult",
    "NonFiniteLossError",
    "build_network",
    "drop_path_at",
    "full_command",
    "genotype_argument",
    "genotype_json",
    "evaluate",
    "load_train_checkpoint",
    "lr_at",
    "make_train_config",
    "parse_genotype_arg",
    "table1_markdown",
    "train_network",
]
