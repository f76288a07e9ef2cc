"""A device-resident batch loader: the uint8 images live on the target device, batches are
gathered, augmented and normalized there, with no worker processes and no host copies.

Determinism and resume: the order of epoch ``e`` is ``randperm`` from a CPU generator seeded
with ``(seed, e)``, and the augmentation of batch ``i`` of epoch ``e`` draws from a CPU
generator seeded with ``(seed, e, i)``. So the whole stream is a function of
``(seed, epoch, position)``, which is all :meth:`DeviceLoader.state_dict` stores: a loader
restored mid-epoch yields exactly the batches the original would have yielded, on CPU or
CUDA alike.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .augment import Augment, apply_augment
from .base import ImageDataset

__all__ = ["DeviceLoader", "search_loaders"]

DeviceLike = Union[str, torch.device, None]


def _seed(*parts: int) -> int:
    state = np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


class DeviceLoader:
    """Shuffled, augmented mini-batches of an :class:`ImageDataset`, kept on ``device``.

    Args:
        dataset: the images (uint8 N×C×H×W) and labels.
        batch_size: images per batch.
        device: where the data and batches live (default: CPU).
        shuffle: a new seeded permutation every epoch (else file order).
        augment: ``None`` -> the dataset's default augmentation when shuffling, none otherwise;
            ``True`` / ``False`` -> the dataset's default / none; or an :class:`Augment`.
        seed: seeds the order and the augmentation.
        drop_last: drop the last, smaller batch of each epoch.
        channels_last: return batches in ``torch.channels_last`` memory format.
        mean, std: override the dataset's normalization constants.

    Iterating gives one epoch of ``(images float32 B×C×H×W, labels int64 B)``; the next
    iteration starts the next epoch. :meth:`next_batch` gives one batch at a time and rolls
    over epochs by itself (handy for the α stream of a search).
    """

    def __init__(
        self,
        dataset: ImageDataset,
        batch_size: int,
        *,
        device: DeviceLike = None,
        shuffle: bool = True,
        augment: Union[Augment, bool, None] = None,
        seed: int = 0,
        drop_last: bool = False,
        channels_last: bool = False,
        mean: Optional[Sequence[float]] = None,
        std: Optional[Sequence[float]] = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if len(dataset) == 0:
            raise ValueError(f"{dataset.name} is empty")
        self.dataset_name = dataset.name
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.images = dataset.images.to(self.device)
        self.labels = dataset.labels.to(self.device)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        if augment is None:
            augment = dataset.augment if shuffle else None
        elif augment is True:
            augment = dataset.augment
        elif augment is False:
            augment = None
        self.augment: Optional[Augment] = augment
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.channels_last = bool(channels_last)
        self.mean = tuple(mean) if mean is not None else dataset.mean
        self.std = tuple(std) if std is not None else dataset.std
        if len(self.mean) != self.images.shape[1] or len(self.std) != self.images.shape[1]:
            raise ValueError("mean and std need one value per channel")
        self.epoch = 0
        self.position = 0  # batches already handed out in the current epoch
        self._perm_cache: Tuple[int, Optional[torch.Tensor]] = (-1, None)
        if len(self) == 0:
            raise ValueError(f"batch_size {batch_size} > {len(dataset)} images with drop_last=True: no batches")

    @property
    def num_samples(self) -> int:
        return int(self.images.shape[0])

    def __len__(self) -> int:
        n, b = self.num_samples, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __repr__(self) -> str:
        return (f"DeviceLoader({self.dataset_name!r}, {self.num_samples} images, batch_size={self.batch_size}, "
                f"device={self.device}, shuffle={self.shuffle}, augment={self.augment}, epoch={self.epoch}, "
                f"position={self.position})")

    # -- the stream ---------------------------------------------------------------------
    def _perm(self, epoch: int) -> torch.Tensor:
        if self._perm_cache[0] == epoch and self._perm_cache[1] is not None:
            return self._perm_cache[1]
        if self.shuffle:
            g = torch.Generator().manual_seed(_seed(self.seed, epoch))
            perm = torch.randperm(self.num_samples, generator=g)
        else:
            perm = torch.arange(self.num_samples)
        perm = perm.to(self.device)
        self._perm_cache = (epoch, perm)
        return perm

    def _batch(self, epoch: int, i: int) -> Tuple[torch.Tensor, torch.Tensor]:
        idx = self._perm(epoch)[i * self.batch_size : (i + 1) * self.batch_size]
        x = self.images.index_select(0, idx)
        y = self.labels.index_select(0, idx)
        g = torch.Generator().manual_seed(_seed(self.seed, epoch, i + 1)) if self.augment is not None else None
        x = apply_augment(x, self.augment, self.mean, self.std, g)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def _roll_over(self) -> None:
        if self.position >= len(self):
            self.epoch += 1
            self.position = 0

    def __iter__(self) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        self._roll_over()
        epoch = self.epoch
        while self.epoch == epoch and self.position < len(self):
            i = self.position
            self.position += 1
            yield self._batch(epoch, i)
        self._roll_over()

    def next_batch(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """The next batch of the stream, starting a new epoch when the current one is done."""
        self._roll_over()
        i = self.position
        self.position += 1
        return self._batch(self.epoch, i)

    # -- resume -------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        return {
            "epoch": self.epoch,
            "position": self.position,
            "seed": self.seed,
            "num_samples": self.num_samples,
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "drop_last": self.drop_last,
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        for key in ("num_samples", "batch_size", "shuffle", "drop_last"):
            if key in state and state[key] != getattr(self, key):
                raise ValueError(
                    f"cannot resume: the saved loader had {key}={state[key]!r}, this one has "
                    f"{getattr(self, key)!r}; build the loader with the same data and settings."
                )
        self.seed = int(state["seed"])
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
        self._perm_cache = (-1, None)


def search_loaders(
    splits,
    batch_size: Union[int, Tuple[int, int]],
    *,
    device: DeviceLike = None,
    seed: int = 0,
    test_batch_size: int = 512,
    augment_valid: bool = True,
    **kwargs,
) -> Tuple[DeviceLoader, DeviceLoader, DeviceLoader]:
    """(ω loader, α loader, test loader) for a :class:`~gibbsnas_lite.data.splits.SearchSplits`.

    ``batch_size`` is one int or ``(ω batch, α batch)`` (the paper uses 64 and 2048). The α
    loader augments like the ω loader (as NB201 and DARTS do) unless ``augment_valid=False``;
    it has its own seed stream (``seed + 1``). The test loader is unshuffled, unaugmented.
    """
    bw, ba = (batch_size, batch_size) if isinstance(batch_size, int) else batch_size
    train = DeviceLoader(splits.train, bw, device=device, seed=seed, **kwargs)
    valid = DeviceLoader(splits.valid, min(ba, len(splits.valid)), device=device, seed=seed + 1,
                         augment=None if augment_valid else False, **kwargs)
    test_kwargs = {k: v for k, v in kwargs.items() if k in ("channels_last", "mean", "std")}
    test = DeviceLoader(splits.test, test_batch_size, device=device, shuffle=False, augment=False, **test_kwargs)
    return train, valid, test
