"""Batches from any data: the seeded in-memory loader with crop-and-flip augmentation and its distributed share
(:class:`BatchLoader`), and :func:`batches`, which accepts a dataset, a loader or a pair of tensors."""
from __future__ import annotations

from typing import Iterable, Iterator, Union

import torch
from jaxtyping import Bool, Float, Integer, Shaped
from torch import Tensor

from aslib.contracts import Count, CountOrZero, contract
from aslib.data.catalog import SPECS
from aslib.data.images import ImageDataset
from aslib.distributed import Shard, check_shard, current_shard, share, share_of_iterable


Batches = Union[ImageDataset, Iterable[tuple[torch.Tensor, torch.Tensor]], tuple[torch.Tensor, torch.Tensor]]


@contract
def crop_flip_draws(batch_size: Count, generator: torch.Generator, padding: CountOrZero = 4
                    ) -> tuple[Tensor, Tensor, Tensor]:
    """Random offsets ``dy, dx`` in ``[0, 2 * padding]`` and flip flags, each ``(batch_size,)``."""
    dy = torch.randint(0, 2 * padding + 1, (batch_size,), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (batch_size,), generator=generator)
    flip = torch.rand(batch_size, generator=generator) < 0.5
    return dy, dx, flip


@contract
def crop_flip(images: Shaped[Tensor, "b c h w"], dy: Integer[Tensor, " b"], dx: Integer[Tensor, " b"],  # noqa: F821
              flip: Bool[Tensor, " b"], padding: CountOrZero = 4) -> Tensor:
    """Crop ``(B, C, H, W)`` images, zero-padded by ``padding``, at offsets ``dy, dx`` ``(B,)``;
    flip horizontally where ``flip`` ``(B,)`` is true."""
    b, _, h, w = images.shape
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    rows = (dy[:, None] + torch.arange(h)[None]).view(b, 1, h, 1)
    cols = (dx[:, None] + torch.arange(w)[None]).view(b, 1, 1, w)
    cols = torch.where(flip.view(b, 1, 1, 1), cols.flip(-1), cols)
    batch = torch.arange(b).view(b, 1, 1, 1)
    channel = torch.arange(images.shape[1]).view(1, -1, 1, 1)
    return padded[batch, channel, rows, cols]


@contract
def augment_batch(images: Shaped[Tensor, "b c h w"], generator: torch.Generator,  # noqa: F821
                  padding: CountOrZero = 4) -> Tensor:
    """Random crop with zero padding plus horizontal flip, for a ``uint8`` batch ``(B, C, H, W)``.

    Zero padding is applied to raw pixels, as ``torchvision.transforms.RandomCrop(32, 4)`` does.
    """
    return crop_flip(images, *crop_flip_draws(len(images), generator, padding), padding=padding)


class BatchLoader:
    """A fast, seeded loader that slices the in-memory tensors batch by batch.

    Iterating yields normalised ``(B, C, H, W)`` float32 images and ``(B,)`` labels. With
    ``augment=True`` (training only) CIFAR batches get random crop (padding 4) and flips.
    ``indices`` restricts the loader to a subset (e.g. one rank's shard). Each epoch reshuffles
    with ``seed + epoch``; call :meth:`set_epoch` to choose the epoch.

    ``shard=(process_rank, world)`` (see :mod:`aslib.distributed`) is the distributed sampler of data-parallel
    training: every rank draws the same global batch of ``batch_size`` (same order, same augmentation draws) and loads
    and augments only the samples at positions ``process_rank, process_rank + world, ...``, so ``world`` ranks
    together see exactly the batches of one process.
    """

    @contract
    def __init__(self, dataset: ImageDataset, batch_size: Count = 128, shuffle: bool = False,
                 augment: bool = False, seed: int = 0, indices: Integer[Tensor, " k"] | None = None,
                 drop_last: bool = False, device: str | torch.device = "cpu",
                 shard: Shard = (0, 1)):
        process_rank, world = check_shard(shard)
        if world > batch_size:
            raise ValueError(f"batch_size {batch_size} is smaller than the {world} ranks; use batch_size >= {world}")
        self.shard = (process_rank, world)
        self.dataset, self.batch_size, self.shuffle = dataset, batch_size, shuffle
        self.augment = augment and SPECS.get(dataset.name, SPECS["cifar10"]).augment
        self.seed, self.epoch, self.drop_last, self.device = seed, 0, drop_last, torch.device(device)
        self.indices = torch.arange(len(dataset)) if indices is None else indices
        if len(self.indices) and not 0 <= int(self.indices.min()) <= int(self.indices.max()) < len(dataset):
            raise ValueError(f"indices must be positions in [0, {len(dataset) - 1}] (the dataset has {len(dataset)} "
                             f"samples), got {self.indices.tolist()[:10]}...")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.indices)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        process_rank, world = self.shard

        def mine(items: Tensor) -> Tensor:  # this rank's share (aslib.distributed.share, checked once above)
            return items if world == 1 else items[process_rank::world]

        order = self.indices[torch.randperm(len(self.indices), generator=generator)] if self.shuffle \
            else self.indices
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start:start + self.batch_size]
            draws = crop_flip_draws(len(index), generator) if self.augment else None
            index = mine(index)
            images = self.dataset.images[index]
            if draws is not None:  # the whole global batch's draws, this rank's share of the work
                images = crop_flip(images, *(mine(d) for d in draws))
            yield (self.dataset.normalize(images.to(self.device, non_blocking=True)),
                   self.dataset.targets[index].to(self.device, non_blocking=True))


@contract
def batches(data: Batches, batch_size: Count = 128, device: torch.device | str | None = None,
            dtype: torch.dtype | None = None) -> Iterator[tuple[Tensor, Tensor]]:
    """Iterate ``(x, y)`` batches from a dataset, a loader, or a pair of tensors, moved to ``device``;
    floating images are cast to ``dtype`` when given (the model's: float64 images of a float32 model
    are the same images). The arguments are checked at the call, the batches as they come."""
    return _batches(data, batch_size, device, dtype)


def _batches(data: Batches, batch_size: int, device: torch.device | str | None,
             dtype: torch.dtype | None) -> Iterator[tuple[Tensor, Tensor]]:
    if isinstance(data, ImageDataset):
        data = BatchLoader(data, batch_size)
    elif isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        x, y = data
        if len(x) != len(y):
            raise ValueError(f"{len(x)} inputs but {len(y)} labels")
        data = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    for batch in data:
        pair = isinstance(batch, (tuple, list)) and len(batch) == 2
        if not (pair and all(isinstance(t, torch.Tensor) for t in batch)):
            raise TypeError("data must be an ImageDataset, a pair of tensors (images (N, ...), labels (N,)) or an "
                            f"iterable of such (x, y) batches; got a batch of type {type(batch).__name__}")
        x, y = batch
        check_batch(x, y)
        if dtype is not None and x.is_floating_point():
            x = x.to(dtype)
        yield (x, y) if device is None else (x.to(device), y.to(device))


@contract
def check_batch(images: Float[Tensor, "b ..."], labels: Integer[Tensor, " b"]) -> None:  # noqa: F821
    """Raise a clear error unless ``images`` is a finite floating batch ``(B, ...)`` and ``labels`` its ``(B,)``
    integer labels (the dtypes and lengths are the declared contract; finiteness is checked here)."""
    if not bool(torch.isfinite(images).all()):
        raise ValueError("images contain NaN or inf values; check the data and any perturbation added to it")


@contract
def local_share(data: ImageDataset | Iterable, batch_size: Count = 128,
                shard: Shard | None = None) -> ImageDataset | Iterable:
    """This rank's share of ``data`` (:func:`aslib.distributed.share`): every ``world``-th sample of a
    dataset or tensor pair, every ``world``-th batch of any other iterable; ``data`` itself in one process."""
    shard = check_shard(shard or current_shard())
    if shard[1] == 1:
        return data
    if isinstance(data, ImageDataset):
        return BatchLoader(data, batch_size, indices=share(torch.arange(len(data)), shard))
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        return share(data[0], shard), share(data[1], shard)
    return share_of_iterable(data, shard)
