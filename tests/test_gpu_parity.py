"""CPU vs accelerator parity of the heavy paths: layer subspaces, ASNet construction, attacks, evaluation.

Each test runs the same float64 computation on the CPU and on ``ASLIB_TEST_DEVICE`` (default
``cuda``) and compares the results. Skipped when that device is not available.
"""
from __future__ import annotations

import copy

import pytest
import torch
from conftest import TEST_DEVICE as DEVICE

from aslib import attacks, data
from aslib.linalg.subspace import subspace_distance
from aslib.nets import inference
from aslib.nets.asnet import build_asnet
from aslib.nets.layer_analysis import layer_subspaces

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def pair(small_lenet):
    """The small LeNet in float64 on the CPU and on the test device, plus 256 test images."""
    cpu = copy.deepcopy(small_lenet).double().eval()
    dev = copy.deepcopy(cpu).to(DEVICE)
    x, y = data.tensors("fashion_mnist", "test", n=256, seed=4)
    return cpu, dev, x.double(), y


def test_layer_subspaces_parity(pair):
    cpu, dev, x, y = pair
    layers = ["conv2", "fc1"]
    ref = layer_subspaces(cpu, layers, (x, y), method="exact")
    out = layer_subspaces(dev, layers, (x.to(DEVICE), y.to(DEVICE)), method="exact")
    for layer in layers:
        a, b = ref[layer], out[layer]
        assert b.eigenvalues.device.type == torch.device(DEVICE).type
        torch.testing.assert_close(b.eigenvalues[:10].cpu(), a.eigenvalues[:10], rtol=1e-8, atol=1e-12)
        assert subspace_distance(a.components[:, :5], b.components[:, :5].cpu()) < 1e-6
        assert a.n_active(0.95) == b.n_active(0.95)


def test_build_asnet_parity(pair):
    cpu, dev, x, y = pair
    net_cpu, info_cpu = build_asnet(cpu, "conv2", (x, y), rank=5, degree=2, method="exact")
    net_dev, info_dev = build_asnet(dev, "conv2", (x.to(DEVICE), y.to(DEVICE)), rank=5, degree=2, method="exact")
    assert info_dev.r2 == pytest.approx(info_cpu.r2, rel=1e-6)
    with torch.no_grad():
        torch.testing.assert_close(net_dev(x[:64].to(DEVICE)).cpu(), net_cpu(x[:64]), rtol=1e-6, atol=1e-6)


def test_as_attack_parity(pair):
    cpu, dev, x, y = pair
    ref = attacks.as_attack(cpu, x[:128], y[:128], xi=3.0, max_iter=5)
    out = attacks.as_attack(dev, x[:128].to(DEVICE), y[:128].to(DEVICE), xi=3.0, max_iter=5)
    assert out.vector.device.type == torch.device(DEVICE).type
    assert out.history == pytest.approx(ref.history)
    torch.testing.assert_close(out.vector.cpu(), ref.vector, rtol=1e-6, atol=1e-8)
    assert attacks.attack_ratio(dev, x.to(DEVICE), y.to(DEVICE), out.vector) == pytest.approx(
        attacks.attack_ratio(cpu, x, y, ref.vector))


def test_uap_and_evaluate_parity(pair):
    cpu, dev, x, y = pair
    ref = attacks.uap(cpu, x[:64], y[:64], xi=3.0, max_passes=1)
    out = attacks.uap(dev, x[:64].to(DEVICE), y[:64].to(DEVICE), xi=3.0, max_passes=1)
    torch.testing.assert_close(out.vector.cpu(), ref.vector, rtol=1e-5, atol=1e-7)
    assert inference.evaluate(dev, (x, y))["accuracy"] == inference.evaluate(cpu, (x, y))["accuracy"]
