"""Shared fixtures: offline data location, the accelerator under test, and a small LeNet trained once per session.

Tests marked ``gpu`` run on ``TEST_DEVICE`` (``$ASLIB_TEST_DEVICE``, default ``cuda``) and are
skipped when that device is absent; ``ASLIB_TEST_DEVICE=cpu`` runs their code path on the CPU.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Under the CI profile (database=None) hypothesis nests one settings object per run of a parametrized @given test and
# resolves the database through the whole chain, one stack frame per run; test_contracts.py's generated test runs
# over 1,200 times, more than Python's default depth of 1,000.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if "ASLIB_DATA" not in os.environ and SHARED.exists():
    os.environ["ASLIB_DATA"] = str(SHARED)

import torch  # noqa: E402

from aslib import data  # noqa: E402

TEST_DEVICE = os.environ.get("ASLIB_TEST_DEVICE", "cuda")


def _device_available(name: str) -> bool:
    return torch.cuda.is_available() if name.startswith("cuda") else name == "cpu"


def pytest_collection_modifyitems(config, items):
    if _device_available(TEST_DEVICE):
        return
    skip = pytest.mark.skip(reason=f"gpu test: device {TEST_DEVICE!r} is not available (set ASLIB_TEST_DEVICE)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def needs(name: str):
    """Skip marker for tests that need an offline dataset."""
    return pytest.mark.skipif(not data.available(name), reason=f"dataset {name!r} not found in {data.data_root()}")


def random_images(n: int, shape: tuple[int, int, int] = (1, 28, 28), *, num_classes: int = 10, seed: int = 0,
                  name: str = "fashion_mnist", split: str = "train") -> data.ImageDataset:
    """``n`` seeded random ``uint8`` images ``(n, *shape)`` with random labels in ``[0, num_classes)`` (drawn after
    the images), per-channel statistics 0.5 / 0.25: a dataset for tests that need one without reading any."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, num_classes, (n,), generator=g)
    return data.ImageDataset(images, labels, mean=(0.5,) * shape[0], std=(0.25,) * shape[0],
                             classes=[str(i) for i in range(num_classes)], name=name, split=split, source="random")


@pytest.fixture(scope="session")
def small_lenet():
    """A LeNet trained for one short epoch on 6,000 Fashion-MNIST images (seeded, a few seconds)."""
    if not data.available("fashion_mnist"):
        pytest.skip("fashion_mnist not available")
    from aslib.fitting.training import quick_lenet

    return quick_lenet(6000, seed=0)


@pytest.fixture(scope="session")
def lenet(request):
    """The shipped Fashion-MNIST LeNet when the zoo has it, else the session's quickly trained one."""
    from aslib.store import zoo

    if "lenet_fashion_mnist" in [entry["name"] for entry in zoo.entries()]:
        return zoo.pretrained("lenet_fashion_mnist")
    return request.getfixturevalue("small_lenet")


@pytest.fixture(scope="session")
def crafting():
    """100 seeded Fashion-MNIST training images and labels (a crafting set)."""
    if not data.available("fashion_mnist"):
        pytest.skip("fashion_mnist not available")
    return data.tensors("fashion_mnist", "train", n=100, seed=1)


@pytest.fixture(scope="session")
def held_out():
    """500 seeded Fashion-MNIST test images and labels."""
    if not data.available("fashion_mnist"):
        pytest.skip("fashion_mnist not available")
    return data.tensors("fashion_mnist", "test", n=500, seed=0)


def sweep_rows():
    """Synthetic noise_sweep rows: 2 repeats x 2 xi x 3 methods, ratios known in closed form."""
    rows = []
    for repeat in range(2):
        for xi in (5.0, 10.0):
            for k, method in enumerate(("as", "uap", "random")):
                base = xi / 20 - 0.1 * k
                rows.append({"repeat": repeat, "method": method, "xi": xi, "n_samples": 10, "classes": "all",
                             "norm": "l2", "train_attack_ratio": base + 0.1, "train_fooling_rate": base,
                             "test_attack_ratio": base + 0.02 * repeat, "test_fooling_rate": base - 0.01,
                             "time_s": 1.0 + repeat, "iterations": 3 + 2 * repeat})
    return rows
