"""Tests for aslib.nets.counts: parameter/storage/MAC counts against the method's exact numbers."""
from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import nn

from aslib.linalg.pce import HermiteBasis, Standardize
from aslib.nets import counts
from aslib.nets.counts import complexity, complexity_table, reduction
from aslib.nets.models import build


def cut(model: nn.Sequential, k: int) -> nn.Sequential:
    """First ``k`` children of ``model`` (the pre-model), sharing its modules."""
    return nn.Sequential(OrderedDict(list(model.named_children())[:k]))


def pce_head(r: int = 50, p: int = 2, classes: int = 10) -> nn.Sequential:
    basis = HermiteBasis(r, p)
    return nn.Sequential(Standardize(torch.zeros(r), torch.ones(r)), basis,
                         nn.Linear(basis.num_terms, classes, bias=False))


@pytest.fixture(scope="module")
def vgg() -> nn.Sequential:
    torch.manual_seed(0)
    return build("vgg19_bn")


@pytest.fixture(scope="module")
def vgg_counts(vgg) -> dict:
    return complexity(vgg, (3, 32, 32))


def test_vgg19_bn_full_width(vgg_counts):
    assert vgg_counts["params"] == 20_040_522
    assert round(vgg_counts["storage_mb"], 2) == pytest.approx(76.45)
    assert round(vgg_counts["macs"] / 1e6, 2) == pytest.approx(398.14)
    assert vgg_counts["basis_macs"] == 0 and vgg_counts["paper_macs"] == vgg_counts["macs"]


def test_lenet_closed_form():
    measured = complexity(build("lenet"), (1, 28, 28))
    conv1 = 20 * 24 * 24 * 25
    conv2 = 50 * 8 * 8 * 20 * 25
    fc = 800 * 500 + 500 * 10
    assert measured["macs"] == conv1 + conv2 + fc
    assert measured["params"] == (20 * 25 + 20) + (50 * 20 * 25 + 50) + (800 * 500 + 500) + (500 * 10 + 10)


def test_vgg_pre_model_cut5(vgg):
    measured = complexity(cut(vgg, 5), (3, 32, 32))
    assert round(measured["storage_mb"], 2) == pytest.approx(2.12)
    assert round(measured["macs"] / 1e6, 2) == pytest.approx(115.02)


def test_as_and_pce_layers():
    projection = complexity(nn.Linear(16384, 50, bias=False), (16384,))
    assert projection["storage_mb"] == pytest.approx(3.125)
    assert projection["macs"] == 16384 * 50 and round(projection["macs"] / 1e6, 2) == pytest.approx(0.82)
    pce = complexity(nn.Linear(1326, 10, bias=False), (1326,))
    assert round(pce["storage_mb"], 3) == pytest.approx(0.051)
    assert pce["macs"] == 13260


@pytest.mark.parametrize("k,mb,mmacs,params_x,macs_x", [
    (5, 5.30, 115.85, 14.43, 3.44), (6, 7.55, 153.60, 10.12, 2.59), (7, 9.80, 191.35, 7.80, 2.08)])
def test_dense_asnet_totals(vgg, vgg_counts, k, mb, mmacs, params_x, macs_x):
    pre = cut(vgg, k)
    n_l = pre(torch.zeros(1, 3, 32, 32)).numel()
    rows = complexity_table({"pre-model": pre, "AS layer": nn.Linear(n_l, 50, bias=False), "PCE layer": pce_head()},
                            {"pre-model": (3, 32, 32), "AS layer": (n_l,), "PCE layer": (50,)})
    total = rows[-1]
    assert [row["name"] for row in rows] == ["pre-model", "AS layer", "PCE layer", "total"]
    assert round(total["storage_mb"], 2) == pytest.approx(mb)
    assert round(total["paper_macs_m"], 2) == pytest.approx(mmacs)
    assert total["basis_macs"] == 3 * 50 + 1326 and total["macs"] == total["paper_macs"] + 1476
    ratios = reduction(vgg_counts, total)
    assert round(ratios["params_x"], 2) == pytest.approx(params_x)
    assert round(ratios["macs_x"], 2) == pytest.approx(macs_x)


def test_basis_counting_switch():
    head = pce_head()
    with_basis = complexity(head, (50,))
    without = complexity(head, (50,), count_basis=False)
    assert with_basis["basis_macs"] == without["basis_macs"] == HermiteBasis(50, 2).macs == 1476
    assert with_basis["macs"] == 13260 + 1476 and with_basis["paper_macs"] == 13260
    assert without["macs"] == without["paper_macs"] == 13260
    assert with_basis["params"] == 13260  # Standardize and HermiteBasis have no trainable parameters


def test_sparse_counts_closed_form():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    linear = nn.Linear(8 * 8 * 8, 10)
    model = nn.Sequential(conv, nn.ReLU(), nn.Flatten(), linear)
    with torch.no_grad():
        conv.weight[:4].zero_()  # half of the conv weight
    measured = complexity(model, (3, 8, 8), sparse=True)
    conv_nnz, linear_nnz = 4 * 3 * 3 * 3, 512 * 10
    assert measured["nonzero_params"] == conv_nnz + linear_nnz  # biases excluded
    assert measured["params"] == 8 * 27 + 8 + 512 * 10 + 10
    assert measured["sparse_macs"] == 8 * 8 * conv_nnz + linear_nnz
    assert measured["macs"] == 8 * 8 * 8 * 27 + linear_nnz
    assert measured["nonzero_storage_mb"] == pytest.approx((conv_nnz + linear_nnz) * 4 / 2**20)
    assert measured["sparsity"] == pytest.approx(108 / (216 + 5120))
    ratios = reduction(measured, measured)
    assert ratios["params_x"] == 1.0
    assert ratios["sparse_macs_x"] == pytest.approx(measured["macs"] / measured["sparse_macs"])


def test_modes_and_state_restored():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
    model.train()
    model[1].eval()
    model[4].eval()
    modes = [m.training for m in model.modules()]
    stats = model[1].running_mean.clone()
    complexity(model, (1, 6, 6))
    assert [m.training for m in model.modules()] == modes
    assert torch.equal(model[1].running_mean, stats)
    model.train()
    complexity(model, (1, 6, 6))
    assert all(m.training for m in model.modules())


def test_bad_input_shape():
    with pytest.raises(ValueError, match="one sample's shape without the batch"):
        complexity(nn.Linear(4, 2), 4)
    with pytest.raises(ValueError, match=r"dummy input of shape \(1, 5\) failed"):
        complexity(nn.Linear(4, 2), (5,))
    with pytest.raises(ValueError, match="input_shapes lacks an entry"):
        complexity_table({"a": nn.Linear(4, 2)}, {})


def test_the_sparse_macs_counter_recounts_complexity_as_weights_change():
    """positions * nnz(weight) summed over convs and linears: complexity's sparse_macs, before and after pruning."""
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=2, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 8 * 8, 5))
    count = counts.sparse_macs_counter(net, (3, 16, 16))
    assert count() == counts.complexity(net, (3, 16, 16))["sparse_macs"] == 64 * 4 * 27 + 5 * 256
    with torch.no_grad():
        net[0].weight[:2] = 0
        net[3].weight[:, ::3] = 0
    assert count() == counts.complexity(net, (3, 16, 16))["sparse_macs"] == 64 * 2 * 27 + 5 * (256 - 86)
