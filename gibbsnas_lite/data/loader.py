"""A device-resident batch loader: the uint8 images live on the target device, batches are
gathered, augmented and normalized there, with no worker processes and no host copies.

Determinism and resume: the order of epoch ``e`` is ``randperm`` from a CPU generator seeded
with ``(seed, e)``, and the augmentation of batch ``i`` of epoch ``e`` draws from a CPU
generator seeded with ``(seed, e, i)``. So the whole stream is a function of
``(seed, epoch, position)``, which is all :meth:`DeviceLoader.state_dict` stores: a loader
restored mid-epoch yields exactly the batches the original would have yielded, on CPU or
CUDA alike.

Host-to-device copies: the order and every batch's augmentation draws (from the same per-batch
generators, in the same order) are made on the host when an epoch starts and reach the device
in one copy; the normalization constants are put there once. So a batch within an epoch
makes no copy to the device (on CUDA each such copy, from pageable memory, waits for the
device) and the batches are the ones drawn batch by batch, bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from .augment import Augment, apply_augment, draw_augment
from .base import ImageDataset

__all__ = ["DeviceLoader", "search_loaders"]

DeviceLike = str | torch.device | None


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
        augment: Augment | bool | None = None,
        seed: int = 0,
        drop_last: bool = False,
        channels_last: bool = False,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
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
        self.augment: Augment | None = augment
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.channels_last = bool(channels_last)
        self.mean = tuple(mean) if mean is not None else dataset.mean
        self.std = tuple(std) if std is not None else dataset.std
        if len(self.mean) != self.images.shape[1] or len(self.std) != self.images.shape[1]:
            raise ValueError("mean and std need one value per channel")
        # on the device once (as float32, what normalize() makes of the numbers)
        self._mean = torch.tensor(self.mean, dtype=torch.float32).to(self.device)
        self._std = torch.tensor(self.std, dtype=torch.float32).to(self.device)
        self.epoch = 0
        self.position = 0  # batches already handed out in the current epoch
        # (epoch, its order, its batches' augmentation draws): made and uploaded once per epoch
        self._epoch_cache: tuple[int, torch.Tensor | None, torch.Tensor | None] = (-1, None, None)
        if len(self) == 0:
            raise ValueError(f"batch_size {batch_size} > {len(dataset)} images with drop_last=True: no batches")

    @property
    def num_samples(self) -> int:
        return int(self.images.shape[0])

    def __len__(self) -> int:
        n, b = self.num_samples, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __repr__(self) -> str:
        return (
            f"DeviceLoader({self.dataset_name!r}, {self.num_samples} images, batch_size={self.batch_size}, "
            f"device={self.device}, shuffle={self.shuffle}, augment={self.augment}, epoch={self.epoch}, "
            f"position={self.position})"
        )

    # -- the stream ---------------------------------------------------------------------
    def _epoch_data(self, epoch: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Epoch ``epoch``'s order (N) and augmentation draws (batches × K × batch_size, or None).

        Drawn on the host with the generators batch-by-batch drawing uses (:meth:`_draws`) and
        copied to the device in one piece; cached for the epoch.
        """
        cached_epoch, perm, draws = self._epoch_cache
        if cached_epoch == epoch and perm is not None:
            return perm, draws
        if self.shuffle:
            g = torch.Generator().manual_seed(_seed(self.seed, epoch))
            perm = torch.randperm(self.num_samples, generator=g)
        else:
            perm = torch.arange(self.num_samples)
        host_draws = self._draws(epoch)
        if host_draws is None:
            perm, draws = perm.to(self.device), None
        else:
            both = torch.cat([perm, host_draws.reshape(-1)]).to(self.device)  # the one upload
            perm, draws = both[: self.num_samples], both[self.num_samples :].view(host_draws.shape)
        self._epoch_cache = (epoch, perm, draws)
        return perm, draws

    def _draws(self, epoch: int) -> torch.Tensor | None:
        """Every batch's augmentation draws of epoch ``epoch`` (batches × K × batch_size, CPU).

        Batch ``i`` draws from its own generator seeded with ``(seed, epoch, i + 1)``, as when
        each batch drew for itself (:func:`~gibbsnas_lite.data.augment.draw_augment`); a last,
        smaller batch uses the first columns of its row.
        """
        if self.augment is None:
            return None
        _, _, h, w = self.images.shape
        rows = []
        for i in range(len(self)):
            size = min(self.batch_size, self.num_samples - i * self.batch_size)
            g = torch.Generator().manual_seed(_seed(self.seed, epoch, i + 1))
            drawn = draw_augment(self.augment, size, h, w, g)
            rows.append(torch.nn.functional.pad(drawn, (0, self.batch_size - size)))
        return torch.stack(rows)

    def _batch(self, epoch: int, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        perm, draws = self._epoch_data(epoch)
        idx = perm[i * self.batch_size : (i + 1) * self.batch_size]
        x = self.images.index_select(0, idx)
        y = self.labels.index_select(0, idx)
        batch_draws = None if draws is None else draws[i, :, : idx.shape[0]]
        x = apply_augment(x, self.augment, self._mean, self._std, draws=batch_draws)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def _roll_over(self) -> None:
        if self.position >= len(self):
            self.epoch += 1
            self.position = 0

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self._roll_over()
        epoch = self.epoch
        while self.epoch == epoch and self.position < len(self):
            i = self.position
            self.position += 1
            yield self._batch(epoch, i)
        self._roll_over()

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next batch of the stream, starting a new epoch when the current one is done."""
        self._roll_over()
        i = self.position
        self.position += 1
        return self._batch(self.epoch, i)

    # -- resume -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "position": self.position,
            "seed": self.seed,
            "num_samples": self.num_samples,
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "drop_last": self.drop_last,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in ("num_samples", "batch_size", "shuffle", "drop_last"):
            if key in state and state[key] != getattr(self, key):
                raise ValueError(
                    f"cannot resume: the saved loader had {key}={state[key]!r}, this one has "
                    f"{getattr(self, key)!r}; build the loader with the same data and settings."
                )
        self.seed = int(state["seed"])
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
        self._epoch_cache = (-1, None, None)


def search_loaders(
    splits,
    batch_size: int | tuple[int, int],
    *,
    device: DeviceLike = None,
    seed: int = 0,
    test_batch_size: int = 512,
    augment_valid: bool = True,
    **kwargs,
) -> tuple[DeviceLoader, DeviceLoader, DeviceLoader]:
    """(ω loader, α loader, test loader) for a :class:`~gibbsnas_lite.data.splits.SearchSplits`.

    ``batch_size`` is one int or ``(ω batch, α batch)`` (the paper uses 64 and 2048). The α
    loader augments like the ω loader (as NB201 and DARTS do) unless ``augment_valid=False``;
    it has its own seed stream (``seed + 1``). The test loader is unshuffled, unaugmented.
    """
    bw, ba = (batch_size, batch_size) if isinstance(batch_size, int) else batch_size
    train = DeviceLoader(splits.train, bw, device=device, seed=seed, **kwargs)
    valid = DeviceLoader(
        splits.valid,
        min(ba, len(splits.valid)),
        device=device,
        seed=seed + 1,
        augment=None if augment_valid else False,
        **kwargs,
    )
    test_kwargs = {k: v for k, v in kwargs.items() if k in ("channels_last", "mean", "std")}
    test = DeviceLoader(splits.test, test_batch_size, device=device, shuffle=False, augment=False, **test_kwargs)
    return train, valid, test
