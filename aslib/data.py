"""Datasets: offline ``.npz`` archives first, torchvision files second, a download last.

Every dataset is held in memory as ``uint8`` images of shape ``(N, C, H, W)`` and normalised
on access with the constants of the paper's code, so a sample is a float
tensor ``(C, H, W)`` in *normalised* units and an ``int`` label.

Where the data comes from (in order):

1. the ``.npz`` archives (format: ``data/README.md``) found in the data root
   (``mnist.npz``, ``fashion_mnist.npz``; for CIFAR-10 a lossless ``cifar10.npz`` of your own first,
   else the kit's JPEG-derived ``cifar10_jpeg.npz``; ``cifar10_lossless_subset.npz`` under the
   name ``cifar10_lossless``);
2. torchvision's standard files in the data root;
3. a torchvision download into the data root when ``download=True``.

The data root is the ``root`` argument, else the environment variable ``ASLIB_DATA``, else a per-user
data folder (:data:`DEFAULT_DATA`, e.g. ``~/.local/share/aslib`` on Linux; :func:`data_root`); ``make``
sets ``ASLIB_DATA`` to the project's archives. :func:`located` says what is there for each dataset without
reading it (the ``aslib data`` command prints it, and ``aslib data --fetch`` downloads what is missing).
Decoded JPEG archives are cached as ``.npy`` files under ``ASLIB_CACHE`` (default ``~/.cache/aslib``) so
that later loads take a fraction of a second.
"""
from __future__ import annotations

import hashlib
import io
import numbers
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence, Union

import numpy as np
import platformdirs
import torch
import torchvision
from PIL import Image
from torch.utils.data import Dataset

from ._utils import check_choice, check_device, check_positive
from .distributed import check_shard, current_shard, share, share_of_iterable

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)
MNIST_MEAN = (0.1307,)
MNIST_STD = (0.3081,)


@dataclass(frozen=True)
class DatasetSpec:
    """Static facts about one dataset: archive files (searched in order), torchvision class, normalisation."""

    archives: tuple[str, ...]
    torchvision_name: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_classes: int
    augment: bool


SPECS: dict[str, DatasetSpec] = {
    "cifar10": DatasetSpec(("cifar10.npz", "cifar10_jpeg.npz"), "CIFAR10", CIFAR_MEAN, CIFAR_STD, 10, True),
    "cifar10_lossless": DatasetSpec(("cifar10_lossless_subset.npz",), "", CIFAR_MEAN, CIFAR_STD, 10, True),
    "cifar100": DatasetSpec((), "CIFAR100", CIFAR_MEAN, CIFAR_STD, 100, True),
    "mnist": DatasetSpec(("mnist.npz",), "MNIST", MNIST_MEAN, MNIST_STD, 10, False),
    "fashion_mnist": DatasetSpec(("fashion_mnist.npz",), "FashionMNIST", MNIST_MEAN, MNIST_STD, 10, False),
}
SPLITS = ("train", "test")


DEFAULT_DATA = Path(platformdirs.user_data_dir("aslib", appauthor=False))
"""The per-user data folder (``platformdirs.user_data_dir("aslib")``: ``~/.local/share/aslib`` on Linux,
``~/Library/Application Support/aslib`` on macOS, ``%LOCALAPPDATA%\\aslib`` on Windows), the data root when
``ASLIB_DATA`` is not set; the same for a checkout and an installed kit, whatever the working directory."""


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder searched for datasets, whatever the working directory: ``root``, else ``$ASLIB_DATA``,
    else the per-user data folder :data:`DEFAULT_DATA`. ``make`` sets ``ASLIB_DATA`` for every target
    (``../shared/data`` when it exists, else the repository's ``data/``; the notebooks, papermill and
    JupyterLab inherit it)."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get("ASLIB_DATA", DEFAULT_DATA))


def identity(root: str | os.PathLike | None = None) -> dict[str, dict[str, Any]]:
    """What identifies the data archives under :func:`data_root`: per ``.npz`` file its size in bytes and
    the sha256 of its first and last MiB (cheap, and any re-export or truncation changes it)."""
    found = {}
    for path in sorted(data_root(root).glob("*.npz")):
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(2**20)
            handle.seek(max(size - 2**20, 0))
            digest = hashlib.sha256(head + handle.read()).hexdigest()
        found[path.name] = {"bytes": size, "sha256_head_tail": digest}
    return found


def cache_dir() -> Path:
    """Folder for decoded-archive caches: ``$ASLIB_CACHE``, else ``~/.cache/aslib``."""
    return Path(os.environ.get("ASLIB_CACHE", Path.home() / ".cache" / "aslib"))


class ImageDataset(Dataset):
    """Images kept as ``uint8`` ``(N, C, H, W)``; items are normalised ``float32``.

    Attributes:
        images: ``uint8`` tensor ``(N, C, H, W)``, pixel values 0..255.
        targets: ``int64`` tensor ``(N,)`` of class indices.
        mean, std: per-channel normalisation constants on the 0..1 scale.
        classes: class names, ``classes[label]``.
        name, split, source: which dataset, which split and where it was read from.
    """

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, *, mean: Sequence[float],
                 std: Sequence[float], classes: Sequence[str], name: str, split: str, source: str):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        if len(images) != len(targets):
            raise ValueError(f"{len(images)} images but {len(targets)} labels")
        self.images = images
        self.targets = targets.long()
        self.mean = tuple(mean)
        self.std = tuple(std)
        self.classes = list(classes)
        self.name, self.split, self.source = name, split, source

    def __len__(self) -> int:
        return len(self.targets)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """``uint8`` ``(..., C, H, W)`` -> normalised ``float32`` of the same shape."""
        mean = torch.tensor(self.mean, device=images.device).view(-1, 1, 1)
        std = torch.tensor(self.std, device=images.device).view(-1, 1, 1)
        return (images.float().div(255) - mean) / std

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.normalize(self.images[index]), int(self.targets[index])

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised images ``(B, C, H, W)`` and labels ``(B,)`` for an index tensor."""
        return self.normalize(self.images[index]), self.targets[index]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]


def _decode_jpegs(buffer: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    return np.stack([np.asarray(Image.open(io.BytesIO(buffer[offsets[i]:offsets[i + 1]].tobytes())).convert("RGB"))
                     for i in range(len(offsets) - 1)])


def _cached_decode(archive: Path, split: str, npz) -> np.ndarray:
    stat = archive.stat()
    key = hashlib.sha256(f"{archive.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{split}".encode()).hexdigest()[:16]
    path = cache_dir() / f"{archive.stem}_{split}_{key}.npy"
    if path.exists():
        return np.load(path, mmap_mode="r")
    pixels = _decode_jpegs(npz[f"x_{split}_jpeg"], npz[f"x_{split}_offsets"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, pixels)
    os.replace(tmp, path)
    return pixels


def _from_archive(archive: Path, split: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Pixels, labels and class names of one split of an ``.npz`` archive (format: data/README.md)."""
    try:
        with np.load(archive) as npz:
            missing = {f"y_{split}", "classes"} - set(npz.files)
            if f"x_{split}" not in npz.files and f"x_{split}_jpeg" not in npz.files:
                missing.add(f"x_{split} or x_{split}_jpeg")
            if missing:
                raise ValueError(f"{archive} lacks the arrays {sorted(missing)}; see data/README.md for the format")
            pixels = npz[f"x_{split}"] if f"x_{split}" in npz.files else _cached_decode(archive, split, npz)
            return pixels, npz[f"y_{split}"], [str(c) for c in npz["classes"]]
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise ValueError(f"{archive} is not a readable .npz archive (truncated or corrupt: {error}); "
                         "download or copy it again") from None


def _from_torchvision(spec: DatasetSpec, root: Path, split: str, download: bool):
    cls = getattr(torchvision.datasets, spec.torchvision_name)
    ds = cls(str(root), train=(split == "train"), download=download)
    pixels = ds.data.numpy() if isinstance(ds.data, torch.Tensor) else np.asarray(ds.data)
    if pixels.ndim == 3:
        pixels = pixels[..., None]
    return pixels, np.asarray(ds.targets), list(ds.classes)


def load(name: str, split: str = "train", root: str | os.PathLike | None = None,
         download: bool = False) -> ImageDataset:
    """Load a dataset split as an in-memory :class:`ImageDataset`.

    Args:
        name: ``cifar10`` (complete: your lossless ``cifar10.npz`` or torchvision copy, else the
            kit's JPEG-derived archive), ``cifar10_lossless`` (lossless subset of
            4,000 train / 1,000 test images), ``cifar100``, ``mnist`` or ``fashion_mnist``.
        split: ``"train"`` or ``"test"``.
        root: data folder; default :func:`data_root` (``$ASLIB_DATA``, else the per-user data folder).
        download: let torchvision download into ``root`` when nothing is found offline.

    Raises:
        ValueError: unknown name or split.
        FileNotFoundError: nothing found; the message lists the places searched and how to get it.
    """
    spec, folder = dataset_spec(name), data_root(root)
    check_choice("split", split, SPLITS)
    searched = []
    for file in spec.archives:
        archive = folder / file
        searched.append(str(archive))
        if archive.exists():
            pixels, labels, classes = _from_archive(archive, split)
            return _make(name, split, spec, pixels, labels, classes, str(archive))
    if spec.torchvision_name:
        searched.append(f"torchvision {spec.torchvision_name} files under {folder}")
        try:
            pixels, labels, classes = _from_torchvision(spec, folder, split, download)
            return _make(name, split, spec, pixels, labels, classes, f"torchvision:{folder}")
        except RuntimeError:
            pass
    how = (f"put {' or '.join(spec.archives)} in the data folder (set ASLIB_DATA=/path/to/the/archives or pass "
           "root=...; format: data/README.md)"
           if spec.archives else "")
    if spec.torchvision_name:
        how += (" or " if how else "") + f"call aslib.data.load({name!r}, {split!r}, download=True) " \
               "to let torchvision download it"
    raise FileNotFoundError(f"dataset {name!r} ({split}) not found; searched: {'; '.join(searched)}. "
                            f"To get it: {how}.")


def write_archive(path: str | os.PathLike, splits: dict[str, ImageDataset]) -> Path:
    """Write dataset splits (``{"train": ..., "test": ...}``, each an :class:`ImageDataset`) as an archive in
    the kit's format (``data/README.md``: ``x_{split}`` ``uint8 (N, H, W, C)``, ``y_{split}`` ``uint8 (N,)``,
    ``classes``), e.g. your own lossless CIFAR-10 as ``cifar10.npz`` in the data root. Returns the path."""
    if not splits or set(splits) - set(SPLITS):
        raise ValueError(f"splits must map some of {SPLITS} to datasets, got {sorted(splits)}")
    classes = {tuple(ds.classes) for ds in splits.values()}
    if len(classes) != 1:
        raise ValueError("the splits name different classes; write splits of one dataset")
    arrays: dict[str, np.ndarray] = {"classes": np.array(next(iter(classes)))}
    for split, ds in splits.items():
        arrays[f"x_{split}"] = ds.images.permute(0, 2, 3, 1).contiguous().numpy()
        arrays[f"y_{split}"] = ds.targets.numpy().astype(np.uint8)
    path = Path(path)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return path


def _make(name, split, spec, pixels, labels, classes, source) -> ImageDataset:
    images = torch.from_numpy(np.array(pixels)).permute(0, 3, 1, 2).contiguous()
    return ImageDataset(images, torch.from_numpy(np.asarray(labels).astype(np.int64)), mean=spec.mean,
                        std=spec.std, classes=classes, name=name, split=split, source=source)


def dataset_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of a dataset name; a ValueError naming the near miss for an unknown one."""
    check_choice("dataset", name, SPECS)
    return SPECS[name]


def available(name: str, root: str | os.PathLike | None = None) -> bool:
    """True when :func:`load` finds ``name`` offline (no download); ValueError for an unknown name."""
    dataset_spec(name)
    try:
        load(name, "test", root)
    except FileNotFoundError:
        return False
    return True


TORCHVISION_FILES = {"CIFAR10": "cifar-10-batches-py", "CIFAR100": "cifar-100-python", "MNIST": "MNIST/raw",
                     "FashionMNIST": "FashionMNIST/raw"}
"""The folder, under the data root, where ``torchvision.datasets`` keeps each dataset's files."""


def expected_files(name: str) -> list[str]:
    """What :func:`load` looks for in the data root for ``name``, in order: its ``.npz`` archive, then
    torchvision's folder (``cifar-10-batches-py/``, ...)."""
    spec = dataset_spec(name)
    files = list(spec.archives)
    if spec.torchvision_name:
        files.append(TORCHVISION_FILES[spec.torchvision_name] + "/")
    return files


def located(name: str, root: str | os.PathLike | None = None) -> tuple[str, Path]:
    """Where ``name`` is in the data root, from the files alone (nothing is read, nothing downloaded):
    ``("archive", path)``, ``("torchvision", folder)`` or ``("missing", data root)``. A folder found but
    incomplete still says ``"torchvision"``; :func:`available` reads the data to be sure."""
    spec, folder = dataset_spec(name), data_root(root)
    for file in spec.archives:
        if (folder / file).is_file():
            return "archive", folder / file
    if spec.torchvision_name:
        files = folder / TORCHVISION_FILES[spec.torchvision_name]
        if files.is_dir() and any(files.iterdir()):
            return "torchvision", files
    return "missing", folder


def subset_indices(targets: torch.Tensor, n: int | None = None, classes: Sequence[int] | None = None,
                   seed: int = 0) -> torch.Tensor:
    """Seeded indices of ``n`` samples drawn without replacement from the given classes.

    Returns a sorted ``int64`` tensor; all matching samples when ``n`` is None.
    """
    pool = torch.arange(len(targets))
    if classes is not None:
        classes_t = torch.as_tensor(list(classes), dtype=targets.dtype)
        absent = sorted(set(classes_t.tolist()) - set(targets.unique().tolist()))
        if absent:
            raise ValueError(f"no samples of class(es) {absent}; the labels present are "
                             f"{sorted(targets.unique().tolist())}")
        pool = pool[torch.isin(targets, classes_t)]
    if n is None:
        return pool
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n is the number of samples to draw and must be an int >= 1 (None for all), got {n!r}")
    if n > len(pool):
        raise ValueError(f"asked for n={n} samples but only {len(pool)} match classes={classes}")
    generator = torch.Generator().manual_seed(seed)
    return pool[torch.randperm(len(pool), generator=generator)[:n]].sort().values


def tensors(name: str, split: str = "test", n: int | None = None, classes: Sequence[int] | None = None,
            seed: int = 0, root: str | os.PathLike | None = None, *, device: str | torch.device | None = None
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised images ``(n, C, H, W)`` float32 and labels ``(n,)`` int64 of a seeded subset, on ``device``
    (the CPU when None).

    Samples are drawn without replacement from ``classes`` (all classes when None); the draw does not depend on
    ``device``.
    """
    target = None if device is None else check_device(device)
    ds = load(name, split, root)
    x, y = ds.batch(subset_indices(ds.targets, n, classes, seed))
    return (x, y) if target is None else (x.to(target), y.to(target))


def crop_flip_draws(batch_size: int, generator: torch.Generator, padding: int = 4
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random offsets ``dy, dx`` in ``[0, 2 * padding]`` and flip flags, each ``(batch_size,)``."""
    check_positive("batch_size", batch_size, integer=True)
    check_positive("padding", padding, integer=True, allow_zero=True)
    dy = torch.randint(0, 2 * padding + 1, (batch_size,), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (batch_size,), generator=generator)
    flip = torch.rand(batch_size, generator=generator) < 0.5
    return dy, dx, flip


def crop_flip(images: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, flip: torch.Tensor,
              padding: int = 4) -> torch.Tensor:
    """Crop ``(B, C, H, W)`` images, zero-padded by ``padding``, at offsets ``dy, dx`` ``(B,)``;
    flip horizontally where ``flip`` ``(B,)`` is true."""
    if images.ndim != 4:
        raise ValueError(f"images must be a batch (B, C, H, W), got shape {tuple(images.shape)}; "
                         "add the batch axis with images[None]")
    b, _, h, w = images.shape
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    rows = (dy[:, None] + torch.arange(h)[None]).view(b, 1, h, 1)
    cols = (dx[:, None] + torch.arange(w)[None]).view(b, 1, 1, w)
    cols = torch.where(flip.view(b, 1, 1, 1), cols.flip(-1), cols)
    batch = torch.arange(b).view(b, 1, 1, 1)
    channel = torch.arange(images.shape[1]).view(1, -1, 1, 1)
    return padded[batch, channel, rows, cols]


def augment_batch(images: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
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

    ``shard=(rank, world)`` (see :mod:`aslib.distributed`) is the distributed sampler of data-parallel
    training: every rank draws the same global batch of ``batch_size`` (same order, same augmentation draws) and loads
    and augments only the samples at positions ``rank, rank + world, ...``, so ``world`` ranks
    together see exactly the batches of one process.
    """

    def __init__(self, dataset: ImageDataset, batch_size: int = 128, shuffle: bool = False,
                 augment: bool = False, seed: int = 0, indices: torch.Tensor | None = None,
                 drop_last: bool = False, device: str | torch.device = "cpu", shard: tuple[int, int] = (0, 1)):
        check_positive("batch_size", batch_size, integer=True)
        rank, world = check_shard(shard)
        if world > batch_size:
            raise ValueError(f"batch_size {batch_size} is smaller than the {world} ranks; use batch_size >= {world}")
        self.shard = (rank, world)
        self.dataset, self.batch_size, self.shuffle = dataset, batch_size, shuffle
        self.augment = augment and SPECS.get(dataset.name, SPECS["cifar10"]).augment
        self.seed, self.epoch, self.drop_last, self.device = seed, 0, drop_last, torch.device(device)
        self.indices = torch.arange(len(dataset)) if indices is None else torch.as_tensor(indices)
        if self.indices.ndim != 1 or self.indices.is_floating_point() or (
                len(self.indices) and not 0 <= int(self.indices.min()) <= int(self.indices.max()) < len(dataset)):
            raise ValueError(f"indices must be a 1-D integer tensor of positions in [0, {len(dataset) - 1}] "
                             f"(the dataset has {len(dataset)} samples), got {self.indices.tolist()[:10]}...")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.indices)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = self.indices[torch.randperm(len(self.indices), generator=generator)] if self.shuffle \
            else self.indices
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start:start + self.batch_size]
            draws = crop_flip_draws(len(index), generator) if self.augment else None
            index = share(index, self.shard)
            images = self.dataset.images[index]
            if draws is not None:  # the whole global batch's draws, this rank's share of the work
                images = crop_flip(images, *(share(d, self.shard) for d in draws))
            yield (self.dataset.normalize(images.to(self.device, non_blocking=True)),
                   self.dataset.targets[index].to(self.device, non_blocking=True))


def _statistics(name: str, device: torch.device | str | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel ``mean`` and ``std`` ``(C, 1, 1)`` of dataset ``name``, on ``device``: the one place of the
    map between pixel values ``p`` in [0, 1] and normalised units ``(p - mean) / std``."""
    spec = dataset_spec(name)
    return (torch.tensor(spec.mean, device=device).view(-1, 1, 1),
            torch.tensor(spec.std, device=device).view(-1, 1, 1))


def to_pixels(images: torch.Tensor, name: str = "cifar10") -> torch.Tensor:
    """Normalised ``(..., C, H, W)`` -> pixel units ``x * std + mean`` (0..1 for a valid image; not clamped)."""
    _check_channels(images, name, len(dataset_spec(name).mean))
    mean, std = _statistics(name, images.device)
    return images * std + mean


def from_pixels(pixels: torch.Tensor, name: str = "cifar10") -> torch.Tensor:
    """Pixel units ``(..., C, H, W)`` (0..1) -> normalised units ``(p - mean) / std``; the inverse of
    :func:`to_pixels`."""
    _check_channels(pixels, name, len(dataset_spec(name).mean))
    mean, std = _statistics(name, pixels.device)
    return (pixels - mean) / std


def denormalize(images: torch.Tensor, name: str = "cifar10") -> torch.Tensor:
    """Normalised ``(..., C, H, W)`` -> pixel values in [0, 1] (clamped), for display."""
    return to_pixels(images, name).clamp(0, 1)


def pixel_scale(name: str) -> torch.Tensor:
    """Per-channel factor ``std`` ``(C, 1, 1)`` that maps normalised units to 0..1 pixel units."""
    return _statistics(name, None)[1]


def _check_channels(images: torch.Tensor, name: str, channels: int) -> None:
    """Refuse images whose channel axis (third from the end) does not match the dataset's statistics: a
    1-channel image would otherwise broadcast silently to 3 channels of CIFAR-10 statistics."""
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        raise ValueError(f"images must be a floating tensor (..., C, H, W), got {type(images).__name__} "
                         f"{getattr(images, 'dtype', '')}; convert uint8 pixels with x.float() / 255 first")
    if images.ndim < 3 or images.shape[-3] != channels:
        raise ValueError(f"{name!r} statistics have {channels} channel(s) but the images have shape "
                         f"{tuple(images.shape)} (channels third from the end): pass the dataset the images "
                         f"come from, e.g. name='fashion_mnist' for 1-channel images")


def class_names(name: str, root: str | os.PathLike | None = None) -> list[str]:
    """Class names of a dataset, ``names[label]``."""
    return load(name, "test", root).classes


Batches = Union[ImageDataset, Iterable[tuple[torch.Tensor, torch.Tensor]], tuple[torch.Tensor, torch.Tensor]]


def batches(data: Batches, batch_size: int = 128, device: torch.device | str | None = None,
            dtype: torch.dtype | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Iterate ``(x, y)`` batches from a dataset, a loader, or a pair of tensors, moved to ``device``;
    floating images are cast to ``dtype`` when given (the model's: float64 images of a float32 model
    are the same images)."""
    check_positive("batch_size", batch_size, integer=True)
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


def check_batch(x: torch.Tensor, y: torch.Tensor) -> None:
    """Raise a clear error unless ``x`` is a finite floating batch ``(B, ...)`` and ``y`` its ``(B,)`` integer
    labels."""
    if not x.is_floating_point():
        raise TypeError(f"images must be floating point (normalised, as the loaders of aslib.data give them), "
                        f"got dtype {x.dtype}; convert raw pixels with the dataset's normalisation")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool or y.ndim != 1:
        raise TypeError(f"labels must be a 1-D integer tensor (B,), got dtype {y.dtype} and shape {tuple(y.shape)}; "
                        "use y.long() for class indices")
    if len(x) != len(y):
        raise ValueError(f"{len(x)} inputs but {len(y)} labels")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("images contain NaN or inf values; check the data and any perturbation added to it")


def local_share(data: Batches, batch_size: int = 128, shard: tuple[int, int] | None = None) -> Batches:
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
