"""The search's data: search-train (omega) and search-valid (alpha) streams on the device.

Wraps :mod:`gibbsnas_lite.data`: the split protocol follows the space (NAS-Bench-201's for
``nb201``, DARTS's first/last 25k for ``darts``), both streams are device-resident with
batched augmentation, and their positions are saved in the checkpoint so a resumed run
sees the same batches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from ..data import DeviceLoader, search_splits
from ..spaces import registry as spaces


@dataclass
class SearchData:
    train: DeviceLoader
    valid: DeviceLoader
    num_classes: int
    in_channels: int
    steps_per_epoch: int
    sizes: tuple[int, int]
    source: str
    _fixed: DeviceLoader
    #: what the search sees: the dataset's name and a sha256 of its two halves (images and labels
    #: after ``train_limit``), so two runs can show they read the same pictures (``data_checksum``)
    identity: dict[str, str] | None = None

    def epoch_batches(self, epoch: int) -> Iterator[tuple[Any, Any]]:
        """Exactly ``steps_per_epoch`` pairs (search-train batch, search-valid batch).

        Both streams are read with ``next_batch`` (which rolls over the loaders' own epochs),
        so with ``max_steps_per_epoch`` below the loader's length no batch is skipped and
        every search epoch has the same number of steps; and a loader position saved
        between search epochs is exactly where the next epoch starts.
        """
        for _ in range(self.steps_per_epoch):
            yield self.train.next_batch(), self.valid.next_batch()

    def describe(self) -> dict[str, str]:
        return dict(self.identity or {})

    def fixed_valid_batch(self):
        """The first search-valid batch in file order, unaugmented (for RSPS's selection)."""
        return next(iter(self._fixed))

    def state_dict(self) -> dict[str, Any]:
        return {"train": self.train.state_dict(), "valid": self.valid.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.train.load_state_dict(state["train"])
        self.valid.load_state_dict(state["valid"])


def build_search_data(config, device: torch.device) -> SearchData:
    options: dict[str, Any] = {}
    if config.dataset == "synthetic":
        options = dict(size=config.image_size, num_train=max(2 * (config.train_limit or 1024), 64), num_test=64)
    elif config.dataset == "fashion-mnist":
        options = dict(size=config.image_size)
    protocol = spaces.get(config.space).split
    splits = search_splits(
        config.dataset, config.data_root, config.download, protocol=protocol, seed=config.seed, **options
    )
    train, valid = splits.train, splits.valid
    if config.train_limit:
        train = train.subset(range(min(config.train_limit, len(train))))
        valid = valid.subset(range(min(config.train_limit, len(valid))))
    bs = config.batch_size
    common = dict(device=device, drop_last=True, channels_last=config.channels_last)
    train_loader = DeviceLoader(train, min(bs, len(train)), seed=config.seed, **common)
    valid_loader = DeviceLoader(valid, min(bs, len(valid)), seed=config.seed + 1, **common)
    fixed = DeviceLoader(
        valid, min(bs, len(valid)), device=device, shuffle=False, augment=False, channels_last=config.channels_last
    )
    steps = len(train_loader)
    if config.max_steps_per_epoch:
        steps = min(steps, int(config.max_steps_per_epoch))
    return SearchData(
        train_loader,
        valid_loader,
        splits.train.num_classes,
        int(train.images.shape[1]),
        steps,
        (len(train), len(valid)),
        splits.source,
        fixed,
        {"dataset": config.dataset, "root": config.data_root, "sha256": data_checksum(train, valid)},
    )


def data_checksum(*datasets) -> str:
    """sha256 over the images and labels of ``datasets`` in order (uint8/int64 bytes as stored)."""
    digest = hashlib.sha256()
    for dataset in datasets:
        for tensor in (dataset.images, dataset.labels):
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()
