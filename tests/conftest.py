"""Shared fixtures: offline data location and a small LeNet trained once per session."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if "ASLIB_DATA" not in os.environ and SHARED.exists():
    os.environ["ASLIB_DATA"] = str(SHARED)

from aslib import data  # noqa: E402


def needs(name: str):
    """Skip marker for tests that need an offline dataset."""
    return pytest.mark.skipif(not data.available(name), reason=f"dataset {name!r} not found in {data.data_root()}")


@pytest.fixture(scope="session")
def small_lenet():
    """A LeNet trained for one short epoch on 6,000 Fashion-MNIST images (seeded, a few seconds)."""
    if not data.available("fashion_mnist"):
        pytest.skip("fashion_mnist not available")
    from aslib.models import build

    torch.manual_seed(0)
    x, y = data.tensors("fashion_mnist", "train", n=6000, seed=0)
    model = build("lenet")
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for i in range(0, len(x), 100):
        loss = torch.nn.functional.cross_entropy(model(x[i:i + 100]), y[i:i + 100])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()
