"""aslib.studies.asnet and aslib.teach.plotting.asnet: ASNet studies on tiny random networks and closed-form cases."""
from __future__ import annotations

import copy
import dataclasses
from collections import OrderedDict

import matplotlib
import pytest
import torch
from conftest import needs, random_images
from torch import nn

from aslib import studies
from aslib.data import ImageDataset
from aslib.fitting.finetuning import FinetuneConfig
from aslib.linalg import pce
from aslib.nets import models
from aslib.nets.asnet import build_asnet
from aslib.nets.counts import complexity
from aslib.nets.inference import predict_logits
from aslib.teach import plotting as plots

matplotlib.use("Agg")


def tiny_mlp(seed: int = 0) -> nn.Sequential:
    """8 inputs -> fc1 (16, ReLU) -> fc2 (3 logits): the post-model after ``fc1`` is linear."""
    torch.manual_seed(seed)
    return nn.Sequential(OrderedDict(fc1=nn.Sequential(nn.Linear(8, 16), nn.ReLU()), fc2=nn.Linear(16, 3))).eval()


def mlp_data(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 8, generator=g), torch.randint(0, 3, (n,), generator=g)


def tiny_cnn(seed: int = 0) -> nn.Sequential:
    """(1, 8, 8) images -> conv1 (4 channels) -> flatten -> fc (3 logits)."""
    torch.manual_seed(seed)
    return nn.Sequential(OrderedDict(conv1=nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU()),
                                     flatten=nn.Flatten(), fc=nn.Linear(256, 3))).eval()


def image_set(n: int, seed: int = 0) -> ImageDataset:
    return random_images(n, (1, 8, 8), num_classes=3, seed=seed, name="tiny")


def test_agreement_counts_equal_predictions():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 3.0]])
    b = torch.tensor([[5.0, 0.0], [1.0, 0.0], [2.0, 1.0], [1.0, 0.0]])
    assert studies.agreement(a, b) == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"teacher_logits must be .* of shape \(n, k\).*must agree"):
        studies.agreement(a, b[:3])


def test_fit_quality_of_the_teacher_itself_is_perfect():
    model, test = tiny_mlp(), mlp_data(50, seed=1)
    teacher = predict_logits(model, test[0])
    quality = studies.fit_quality(model, test, teacher_logits=teacher)
    assert quality["r2_test"] == pytest.approx(1.0) and quality["agreement"] == 1.0
    assert quality["accuracy"] == pytest.approx((teacher.argmax(1) == test[1]).float().mean().item())
    with pytest.raises(ValueError, match=r"teacher_logits must be .* of shape \(b, k\).*b=50"):
        studies.fit_quality(model, test, teacher_logits=teacher[:10])


def test_build_asnets_reproduces_a_linear_post_model():
    model, train, test = tiny_mlp(), mlp_data(200), mlp_data(60, seed=1)
    built, rows = studies.build_asnets(model, ["fc1"], train, test, rank=3, degree=1, method="exact")
    (row,) = rows
    assert set(built) == {"fc1"} and row["cut"] == "fc1" and row["neurons"] == 16
    assert (row["rank"], row["degree"], row["terms"], row["samples"]) == (3, 1, pce.num_terms(3, 1), 200)
    assert row["agreement"] == 1.0 and row["asnet_accuracy"] == row["original_accuracy"]  # r >= K - 1 for the loss
    with pytest.raises(ValueError, match="no cut layers"):
        studies.build_asnets(model, [], train, test, rank=3, degree=1)


def test_rank_degree_sweep_skips_reuses_and_orders():
    model, train, test = tiny_mlp(), mlp_data(40), mlp_data(30, seed=1)
    net, info = build_asnet(model, "fc1", train, rank=2, degree=1, method="exact")
    marked = dataclasses.replace(info, r2=123.0)
    rows = studies.rank_degree_sweep(model, "fc1", train, test, ranks=[2, 8], degrees=[1, 3],
                                     subspace=info.subspace, known=(net, marked))
    assert [(r["rank"], r["degree"]) for r in rows] == [(2, 1), (8, 1), (2, 3)]  # C(11, 3) = 165 > 40 samples: skipped
    assert rows[0]["r2_train"] == 123.0  # the known ASNet was reused
    assert rows[1]["params"] > rows[0]["params"]
    with pytest.raises(ValueError, match="non-empty"):
        studies.rank_degree_sweep(model, "fc1", train, test, ranks=[], degrees=[1], subspace=info.subspace)


def test_active_variables_batched_equals_one_pass():
    model, train = tiny_mlp(), mlp_data(100)
    net, _ = build_asnet(model, "fc1", train, rank=4, degree=2, method="exact")
    z = studies.asnet_active_variables(net, train[0], batch_size=7)
    assert z.shape == (100, 4)
    with torch.no_grad():
        torch.testing.assert_close(z, net.active_variables(train[0]))
    assert z.mean(0).abs().max() < 1e-4  # standardised on these data


def test_linear_reproduction_with_rank_k():
    model, train, test = tiny_mlp(), mlp_data(300), mlp_data(80, seed=1)
    checks = studies.linear_reproduction(model, "fc1", train, test, rank=3)
    assert checks["loss"]["nonzero_eigenvalues"] <= 2  # K - 1 for the cross-entropy
    assert checks["loss"]["same_probabilities"] and checks["loss"]["same_predictions"]
    assert checks["logit"]["same_logits"] and checks["logit"]["r2"] > 0.999999
    with pytest.raises(ValueError, match="no functions"):
        studies.linear_reproduction(model, "fc1", train, test, rank=3, functions=())


def test_complexity_rows_parts_sum_to_total_and_whole():
    model, train = tiny_mlp(), mlp_data(100)
    net, _ = build_asnet(model, "fc1", train, rank=4, degree=2, method="exact")
    rows = studies.complexity_rows(net, input_shape=(8,), name="ASNet fc1", count_basis=False)
    assert [r["name"] for r in rows] == ["ASNet fc1: pre-model", "ASNet fc1: AS layer", "ASNet fc1: PCE layer",
                                         "ASNet fc1: total"]
    assert rows[-1]["params"] == sum(r["params"] for r in rows[:-1]) == complexity(net, (8,))["params"]
    assert rows[1]["params"] == 16 * 4 and rows[2]["params"] == pce.num_terms(4, 2) * 3
    (single,) = studies.complexity_rows(model, input_shape=(8,), name="original")
    assert single["name"] == "original" and single["params"] == 8 * 16 + 16 + 16 * 3 + 3


def test_dense_asnet_sizes_and_bad_layer():
    arch = tiny_cnn()
    dense = studies.dense_asnet(arch, "conv1", rank=5, degree=2, num_classes=3, input_shape=(1, 8, 8))
    assert dense.projection.in_features == 256 and dense.head.weight.shape == (3, pce.num_terms(5, 2))
    assert dense(torch.zeros(2, 1, 8, 8)).shape == (2, 3)
    with pytest.raises(ValueError, match="unknown cut point"):
        studies.dense_asnet(arch, "nope", input_shape=(1, 8, 8))


def test_full_width_sizes_match_the_paper():
    original, rows = studies.full_width_sizes(["conv5"])
    assert (round(original["storage_mb"], 2), round(original["paper_macs"] / 1e6, 2)) == (76.45, 398.14)
    (row,) = rows
    assert (row["neurons"], round(row["asnet_mb"], 2), round(row["asnet_m_macs"], 2)) == (16384, 5.30, 115.85)
    assert row["as_layer_mb"] == pytest.approx(16384 * 50 * 4 / 2**20)
    with pytest.raises(ValueError, match="no cut layers"):
        studies.full_width_sizes([])


def test_width_rows_scale_and_targets():
    rows = studies.width_rows((0.25, 0.125), ratios=(10.0, 2.0))
    wide, narrow = rows
    assert wide["neurons at conv5"] == 2 * narrow["neurons at conv5"]  # the cut scales like w
    assert wide["params_x"] > narrow["params_x"]  # a narrow network gains less
    assert wide["nonzero budget (10.0x)"] == round(wide["original_params"] / 10.0)
    dense = complexity(studies.dense_asnet(models.build("vgg19_bn", width=0.25), "conv5"), (3, 32, 32))
    assert dense["params"] == wide["dense_asnet_params"]
    assert wide["zeros_needed"] == pytest.approx(1 - wide["original_params"] / 10.0 / dense["nonzero_params"])
    assert wide["mac_reduction_needed"] == pytest.approx(1 - wide["original_m_macs"] / 2.0 / wide["dense_asnet_m_macs"])
    with pytest.raises(ValueError, match="no widths"):
        studies.width_rows(())


def test_compression_rows_without_finetuning_equal_dense():
    model, train = tiny_mlp(), mlp_data(100)
    net, _ = build_asnet(model, "fc1", train, rank=4, degree=1, method="exact")
    history = [{"test_accuracy": 0.25}, {"test_accuracy": 0.5}]
    rows, summary = studies.compression_rows(model, {"fc1": net}, {"fc1": copy.deepcopy(net)}, {"fc1": history},
                                             input_shape=(8,), name="original", original_accuracy=0.75)
    assert [r["name"] for r in rows][0] == "original" and len(rows) == 5
    (s,) = summary
    assert (s["accuracy_before"], s["accuracy_after"], s["original_accuracy"]) == (0.25, 0.5, 0.75)
    assert s["dense_params_x"] == pytest.approx(rows[0]["params"] / complexity(net, (8,))["params"])
    assert s["nonzero_params_x"] >= s["dense_params_x"]  # nonzero weights exclude biases
    assert (s["paper_params_x"], s["paper_macs_x"]) == (23.98, 7.30)
    with pytest.raises(ValueError, match="missing"):
        studies.compression_rows(model, {}, {"fc1": net}, {}, input_shape=(8,), name="o", original_accuracy=0.0)


def test_steps_and_shrinkage_budget_closed_form():
    cfg = FinetuneConfig(sparse_epochs=2, batch_size=300, sparse_lr=(1e-2, 1e-3, 1e-4), l1=0.5, l1_pre=2.0)
    assert studies.steps_per_epoch(cfg, 50000) == 167
    assert studies.steps_per_epoch(dataclasses.replace(cfg, max_batches=40), 50000) == 40
    budget = studies.shrinkage_budget(cfg, 10)
    assert budget["budget pre"] == pytest.approx(2.0 * 10 * 1e-2 * 1.5)
    assert budget["budget AS"] == pytest.approx(0.5 * 10 * 1e-3 * 1.5)
    assert budget["budget PCE"] == pytest.approx(0.5 * 10 * 1e-4 * 1.5)
    (row,) = studies.budget_rows({"x": (cfg, 10)})
    assert row["setting"] == "x" and row["steps/epoch"] == 10 and row["budget AS"] == budget["budget AS"]
    with pytest.raises(ValueError):
        studies.steps_per_epoch(cfg, 0)
    with pytest.raises(ValueError, match="no settings"):
        studies.budget_rows({})


def test_l1_tradeoff_stronger_l1_leaves_fewer_weights():
    model, train_set = tiny_cnn(), image_set(60)
    test = train_set.batch(torch.arange(30))
    net, _ = build_asnet(model, "conv1", test, rank=3, degree=1, method="exact")
    before = copy.deepcopy(net.state_dict())
    cfg = FinetuneConfig(batch_size=20, sparse_lr=(0.1, 0.1, 0.1), l1=0.1, l1_pre=0.1, augment=False)
    original = complexity(model, (1, 8, 8))
    rows = studies.l1_tradeoff(net, model, train_set, test, cfg, scales=[0.0, 10.0], original=original,
                               max_batches=2, input_shape=(1, 8, 8))
    assert [r["scale"] for r in rows] == [0.0, 10.0] and rows[1]["l1"] == pytest.approx(1.0)
    assert rows[1]["nonzero_params"] < rows[0]["nonzero_params"]
    assert rows[1]["nonzero_params_x"] == pytest.approx(original["params"] / rows[1]["nonzero_params"])
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # the input is left unchanged
    with pytest.raises(ValueError, match="scales"):
        studies.l1_tradeoff(net, model, train_set, test, cfg, scales=[-1.0], original=original)


def test_plots_return_figures_and_reject_bad_input():
    xi = torch.linspace(-1, 1, 5)
    assert len(plots.hermite_curves(xi, torch.ones(5, 3)).axes[0].lines) == 3
    with pytest.raises(ValueError):
        plots.hermite_curves(xi, torch.ones(4, 3))
    assert len(plots.active_variable_histograms(torch.randn(50, 4), [0, 3]).axes) == 2
    with pytest.raises(ValueError):
        plots.active_variable_histograms(torch.randn(50, 4), [4])
    sweep = [{"rank": r, "degree": p, "accuracy": 0.5, "r2_test": 0.1} for p in (1, 2) for r in (2, 4)]
    assert len(plots.rank_degree_curves(sweep, original_accuracy=0.9, layer="conv5").axes) == 2
    histories = {"conv5": [{"test_accuracy": 0.5, "nonzero_params": 1000}, {"test_accuracy": 0.6,
                                                                           "nonzero_params": 500}]}
    fig = plots.finetune_curves(histories, original_accuracy=0.9, original_params=5000, kd_epochs=1)
    assert fig.axes[1].get_yscale() == "log" and fig.axes[0].get_title() == "test accuracy"
    held_out = {"conv5": [{"validation_accuracy": row["test_accuracy"], "nonzero_params": row["nonzero_params"]}
                          for row in histories["conv5"]]}
    fig = plots.finetune_curves(held_out, original_accuracy=0.9, original_params=5000, kd_epochs=1)
    assert fig.axes[0].get_title() == "validation accuracy"
    with pytest.raises(ValueError, match="different splits"):
        plots.finetune_curves({**histories, "conv6": held_out["conv5"]}, original_accuracy=0.9, original_params=5000,
                              kd_epochs=1)
    trade = [{"scale": s, "nonzero_params_x": 1 + s, "accuracy": 0.5} for s in (0.0, 1.0)]
    fig = plots.tradeoff_curve(trade, original_accuracy=0.9, layer="conv5")
    assert fig.axes[0].get_title() == "l1 trade-off at conv5"
    for plot in (plots.rank_degree_curves, plots.tradeoff_curve):
        with pytest.raises(ValueError):
            plot([], original_accuracy=0.9, layer="conv5")
    with pytest.raises(ValueError):
        plots.finetune_curves({}, original_accuracy=0.9, original_params=1, kd_epochs=1)


def test_shrinkage_budget_follows_the_cosine_schedule_and_the_l1_growth():
    cfg = FinetuneConfig(sparse_epochs=2, sparse_lr=(1.0, 1.0, 1.0), l1=1.0, l1_pre=0.0, l1_growth=3.0,
                         schedule="cosine")
    budget = studies.shrinkage_budget(cfg, 4)  # epoch 0: lr 1, scale 1; epoch 1: lr (1 + cos(pi/2))/2 = 0.5, scale 3
    assert budget["budget AS"] == pytest.approx(4 * (1.0 * 1 + 0.5 * 3))
    assert budget["budget pre"] == 0.0


def test_build_study_refits_the_head_on_other_data_with_the_same_subspace():
    model = tiny_cnn()
    data = image_set(600)
    test = image_set(200, seed=1).batch(torch.arange(200))
    (net, info), rows = studies.build_study(model, "conv1", data, test, settings=[(200, 1, False), (400, 2, False)],
                                            rank=3, degree=2, batch_size=100)
    assert [(r["images"], r["passes"], r["rows"]) for r in rows] == [(200, 1, 200), (400, 2, 800)]
    assert info.samples == 200 and all(-1 < r["r2_test"] <= 1 for r in rows)
    again, _ = build_asnet(model, "conv1", data, rank=3, degree=2, passes=2, max_batches=4, batch_size=100,
                           subspace=info.subspace)
    assert rows[1]["r2_train"] == pytest.approx(_.r2, abs=1e-9)  # the same fit as a direct call
    with pytest.raises(ValueError, match="multiple of batch_size"):
        studies.build_study(model, "conv1", data, test, settings=[(150, 1, False)], rank=3, degree=2, batch_size=100)


def test_compression_path_reads_a_history():
    history = [{"phase": "start", "epoch": 0, "test_accuracy": 0.5, "nonzero_params": 100},
               {"phase": "distill", "epoch": 1, "test_accuracy": 0.8, "nonzero_params": 100},
               {"phase": "sparse", "epoch": 1, "test_accuracy": 0.7, "nonzero_params": 40, "l1 scale": 1.0,
                "frozen": False},
               {"phase": "sparse", "epoch": 2, "test_accuracy": 0.75, "nonzero_params": 20, "l1 scale": 2.0,
                "frozen": True},
               {"phase": "sparse", "epoch": 3, "test_accuracy": 0.76, "nonzero_params": 20, "l1 scale": 4.0,
                "frozen": True},
               {"phase": "sparse", "epoch": 4, "test_accuracy": 0.78, "nonzero_params": 20, "l1 scale": 8.0,
                "frozen": True}]
    path = studies.compression_path(history, original_params=1000)
    assert [(r["epoch"], r["scale"], r["nonzero_params_x"], r["frozen"]) for r in path] == [
        (1, 0.0, 10.0, False), (1, 1.0, 25.0, False), (2, 2.0, 50.0, True), (4, 2.0, 50.0, True)]
    assert [r["accuracy"] for r in path] == [0.8, 0.7, 0.75, 0.78]
    held_out = [{("validation_accuracy" if k == "test_accuracy" else k): v for k, v in row.items()} for row in history]
    assert studies.compression_path(held_out, original_params=1000) == path  # the same path on another split
    with pytest.raises(ValueError, match="one accuracy column"):
        studies.compression_path(history[:2] + held_out[2:], original_params=1000)
    with pytest.raises(ValueError, match="nonzero_params"):
        studies.compression_path([{"phase": "start", "epoch": 0, "test_accuracy": 0.5}], original_params=10)


def test_accuracy_difference_is_paired_over_the_same_images():
    model = tiny_mlp()
    x, _ = mlp_data(50)
    y = predict_logits(model, x).argmax(1)  # the model is right everywhere
    other = tiny_mlp(seed=1)
    wrong = (predict_logits(other, x).argmax(1) != y).double()
    diff = studies.accuracy_difference(model, other, (x, y))
    assert diff.n == 50 and diff.mean == pytest.approx(float(wrong.mean()))
    assert diff.std == pytest.approx(float(wrong.std()))
    assert studies.accuracy_difference(model, model, (x, y)).mean == 0.0


@needs("fashion_mnist")
def test_projection_accuracy_with_every_direction_is_the_network_and_random_few_is_chance(small_lenet):
    from aslib import data
    from aslib.studies import projection_accuracy

    fit = data.tensors("fashion_mnist", "train", n=600, seed=1)
    test = data.tensors("fashion_mnist", "test", n=300, seed=0)
    before = {k: v.clone() for k, v in small_lenet.state_dict().items()}
    rows = projection_accuracy(small_lenet, "fc1", fit, test, ranks=[2, 500])
    full = rows[0]
    assert full["directions"] == "none" and full["rank"] == 500
    assert full["accuracy"] == pytest.approx(float((small_lenet(test[0]).argmax(1) == test[1]).float().mean()))
    at = {(r["directions"], r["rank"]): r["accuracy"] for r in rows[1:]}
    for basis in ("active subspace", "PCA", "random"):  # a complete orthonormal basis: the identity map
        assert at[basis, 500] == pytest.approx(full["accuracy"], abs=1e-9)
    assert at["random", 2] < full["accuracy"] - 0.3 and at["PCA", 2] > at["random", 2]
    assert all(torch.equal(before[k], v) for k, v in small_lenet.state_dict().items())
    with pytest.raises(ValueError, match="exceeds"):
        projection_accuracy(small_lenet, "fc1", (fit[0][:100], fit[1][:100]), test, ranks=[200])
