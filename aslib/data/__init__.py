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

The package's modules: :mod:`~aslib.data.catalog` (where each dataset is), :mod:`~aslib.data.images` (reading and
writing splits, seeded subsets), :mod:`~aslib.data.batching` (loaders, augmentation, any data as batches),
:mod:`~aslib.data.pixels` (normalised units and pixel values).
"""
from aslib.data.batching import (Batches, BatchLoader, augment_batch, batches, check_batch, crop_flip, crop_flip_draws,
    local_share)
from aslib.data.catalog import (CIFAR_MEAN, CIFAR_STD, DEFAULT_DATA, MNIST_MEAN, MNIST_STD, SPECS, SPLITS,
    TORCHVISION_FILES, DatasetSpec, Split, cache_dir, data_root, dataset_spec, expected_files, identity, located)
from aslib.data.images import (ImageDataset, available, class_names, load, subset_indices, tensors, validation_split,
    write_archive)
from aslib.data.pixels import denormalize, from_pixels, pixel_scale, to_pixels

__all__ = ["BatchLoader", "Batches", "CIFAR_MEAN", "CIFAR_STD", "DEFAULT_DATA", "DatasetSpec", "ImageDataset",
           "MNIST_MEAN", "MNIST_STD", "SPECS", "SPLITS", "Split", "TORCHVISION_FILES", "augment_batch", "available",
           "batches", "cache_dir", "check_batch", "class_names", "crop_flip", "crop_flip_draws", "data_root",
           "dataset_spec", "denormalize", "expected_files", "from_pixels", "identity", "load", "local_share", "located",
           "pixel_scale", "subset_indices", "tensors", "to_pixels", "validation_split", "write_archive"]
