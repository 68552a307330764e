"""Reading a dataset split into memory (:func:`load`, archives first, torchvision files second), writing one
(:func:`write_archive`), seeded subsets as tensors (:func:`tensors`) and a validation split carved from a
training split (:func:`validation_split`)."""
from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torchvision
from jaxtyping import Integer, UInt8
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from aslib._utils import check_device
from aslib.contracts import Count, CountOrZero, PositiveReal, contract
from aslib.data.catalog import SPLITS, DatasetSpec, Split, cache_dir, data_root, dataset_spec


class ImageDataset(Dataset):
    """Images kept as ``uint8`` ``(N, C, H, W)``; items are normalised ``float32``.

    Attributes:
        images: ``uint8`` tensor ``(N, C, H, W)``, pixel values 0..255.
        targets: ``int64`` tensor ``(N,)`` of class indices.
        mean, std: per-channel normalisation constants on the 0..1 scale.
        classes: class names, ``classes[label]``.
        name, split, source: which dataset, which split and where it was read from.
    """

    @contract
    def __init__(self, images: UInt8[Tensor, "n c h w"], targets: Integer[Tensor, " n"], *,  # noqa: F821
                 mean: Sequence[float], std: Sequence[PositiveReal], classes: Sequence[str], name: str, split: str,
                 source: str):
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

    def subset(self, index: torch.Tensor | slice) -> "ImageDataset":
        """The samples at ``index`` (an index tensor ``(k,)`` or a slice) as a dataset of their own: same statistics,
        classes, name and split (e.g. ``train.subset(slice(0, 2000))`` for a quick run)."""
        return ImageDataset(self.images[index], self.targets[index], mean=self.mean, std=self.std,
                            classes=self.classes, name=self.name, split=self.split, source=f"{self.source} (subset)")

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


@contract
def load(name: str, split: Split = "train", root: str | os.PathLike | None = None,
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


@contract
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


@contract
def available(name: str, root: str | os.PathLike | None = None) -> bool:
    """True when :func:`load` finds ``name`` offline (no download); ValueError for an unknown name."""
    dataset_spec(name)
    try:
        load(name, "test", root)
    except FileNotFoundError:
        return False
    return True


@contract
def class_names(name: str, root: str | os.PathLike | None = None) -> list[str]:
    """Class names of a dataset, ``names[label]``."""
    return load(name, "test", root).classes


@contract
def subset_indices(targets: Integer[Tensor, " n"], n: Count | None = None, classes: Sequence[int] | None = None,
                   seed: int = 0) -> Tensor:
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
    if n > len(pool):
        raise ValueError(f"asked for n={n} samples but only {len(pool)} match classes={classes}")
    generator = torch.Generator().manual_seed(seed)
    return pool[torch.randperm(len(pool), generator=generator)[:n]].sort().values


@contract
def validation_split(train: ImageDataset, images: Count = 5000, seed: CountOrZero = 0
                     ) -> tuple[ImageDataset, ImageDataset, dict[str, Any]]:
    """Carve a seeded validation split out of a training split, for choices a recipe makes (cut, epoch, ...).

    The same number of images is drawn from every class (``images / classes``, without replacement; ``seed``
    fixes the draw), so class balance is that of the whole split. Returns ``(fit, validation, record)``: the
    remaining training images, the held-out ones (``split="validation"``) and a record of the draw for a manifest
    (``images``, ``of`` = the training split's size, ``seed``, ``per_class`` and ``indices_sha256``, the sha256
    of the sorted held-out indices as little-endian int64).
    """
    classes = train.num_classes
    if images < classes or images % classes:
        raise ValueError(f"images is the size of the validation split and must be a positive multiple of the "
                         f"{classes} classes (e.g. 5000), got {images!r}")
    per_class = images // classes
    counts = torch.bincount(train.targets, minlength=classes)
    if int(counts.min()) <= per_class:
        raise ValueError(f"a validation split of {images} images takes {per_class} per class, but the smallest "
                         f"class of this {train.split} split has {int(counts.min())}: choose fewer images")
    held = torch.cat([subset_indices(train.targets, per_class, classes=[c], seed=seed + c) for c in range(classes)])
    held = held.sort().values
    keep = torch.ones(len(train), dtype=torch.bool)
    keep[held] = False
    validation = train.subset(held)
    validation.split = "validation"
    record = {"images": int(images), "of": len(train), "seed": int(seed), "per_class": per_class,
              "indices_sha256": hashlib.sha256(held.to(torch.int64).numpy().astype("<i8").tobytes()).hexdigest()}
    return train.subset(keep.nonzero().flatten()), validation, record


@contract
def tensors(name: str, split: Split = "test", n: Count | None = None, classes: Sequence[int] | None = None,
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
