"""Where the datasets are: their static facts (:class:`DatasetSpec`), the data root, the cache folder and what
of each dataset is present (:func:`located`), without reading any of it."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
import typing
from typing import Any, Literal

import platformdirs

from aslib._utils import check_choice
from aslib.contracts import Count, PositiveReal, contract


CIFAR_MEAN = (0.4914, 0.4822, 0.4465)


CIFAR_STD = (0.2023, 0.1994, 0.2010)


MNIST_MEAN = (0.1307,)


MNIST_STD = (0.3081,)


@contract
@dataclass(frozen=True)
class DatasetSpec:
    """Static facts about one dataset: archive files (searched in order), torchvision class, normalisation."""

    archives: tuple[str, ...]
    torchvision_name: str
    mean: tuple[float, ...]
    std: tuple[PositiveReal, ...]
    num_classes: Count
    augment: bool


SPECS: dict[str, DatasetSpec] = {
    "cifar10": DatasetSpec(("cifar10.npz", "cifar10_jpeg.npz"), "CIFAR10", CIFAR_MEAN, CIFAR_STD, 10, True),
    "cifar10_lossless": DatasetSpec(("cifar10_lossless_subset.npz",), "", CIFAR_MEAN, CIFAR_STD, 10, True),
    "cifar100": DatasetSpec((), "CIFAR100", CIFAR_MEAN, CIFAR_STD, 100, True),
    "mnist": DatasetSpec(("mnist.npz",), "MNIST", MNIST_MEAN, MNIST_STD, 10, False),
    "fashion_mnist": DatasetSpec(("fashion_mnist.npz",), "FashionMNIST", MNIST_MEAN, MNIST_STD, 10, False),
}


Split = Literal["train", "test"]
"""A dataset's split as stored (a validation split is carved from ``"train"``: :func:`aslib.data.validation_split`)."""
SPLITS = typing.get_args(Split)


DEFAULT_DATA = Path(platformdirs.user_data_dir("aslib", appauthor=False))
"""The per-user data folder (``platformdirs.user_data_dir("aslib")``: ``~/.local/share/aslib`` on Linux,
``~/Library/Application Support/aslib`` on macOS, ``%LOCALAPPDATA%\\aslib`` on Windows), the data root when
``ASLIB_DATA`` is not set; the same for a checkout and an installed kit, whatever the working directory."""


@contract
def data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder searched for datasets, whatever the working directory: ``root``, else ``$ASLIB_DATA``,
    else the per-user data folder :data:`DEFAULT_DATA`. ``make`` sets ``ASLIB_DATA`` for every target
    (``../shared/data`` when it exists, else the repository's ``data/``; the notebooks, papermill and
    JupyterLab inherit it)."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get("ASLIB_DATA", DEFAULT_DATA))


@contract
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


@contract
def dataset_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of a dataset name; a ValueError naming the near miss for an unknown one."""
    check_choice("dataset", name, SPECS)
    return SPECS[name]


TORCHVISION_FILES = {"CIFAR10": "cifar-10-batches-py", "CIFAR100": "cifar-100-python", "MNIST": "MNIST/raw",
                     "FashionMNIST": "FashionMNIST/raw"}
"""The folder, under the data root, where ``torchvision.datasets`` keeps each dataset's files."""


@contract
def expected_files(name: str) -> list[str]:
    """What :func:`load` looks for in the data root for ``name``, in order: its ``.npz`` archive, then
    torchvision's folder (``cifar-10-batches-py/``, ...)."""
    spec = dataset_spec(name)
    files = list(spec.archives)
    if spec.torchvision_name:
        files.append(TORCHVISION_FILES[spec.torchvision_name] + "/")
    return files


@contract
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
