import copy
import dataclasses
import shutil

import pytest
import torch
from conftest import needs

from aslib._utils import load_tensors
from aslib.fitting import finetuning
from aslib.fitting.finetuning import FinetuneConfig, distillation_loss, soft_threshold_
from aslib.nets import counts
from aslib.nets.asnet import ASNet, build_asnet, split_model
from aslib.nets.inference import evaluate
from aslib.nets.models import build


def test_split_model_and_errors():
    model = build("vgg19_bn")
    pre, post = split_model(model, "conv5")
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    assert pre(x).shape == (2, 256, 8, 8)
    assert torch.allclose(post(pre(x)), model(x))
    with pytest.raises(ValueError, match="unknown cut point"):
        split_model(model, "conv42")
    with pytest.raises(ValueError, match="unknown cut point"):
        split_model(model, "fc")
    with pytest.raises(TypeError, match="not an nn.Sequential"):
        split_model(torch.nn.Module(), "conv1")


@needs("fashion_mnist")
def test_linear_post_model_is_reproduced_exactly_with_r_equal_K(small_lenet):
    """After fc1 the rest is linear in the activation. The cross-entropy gradients W^T (p - e_y) span the
    (K-1)-dim space of logit differences, so the AS layer with r = K and a degree-1 PCE reproduce the
    class probabilities exactly (logits up to a common shift)."""
    from aslib import data

    x, y = data.tensors("fashion_mnist", "train", n=1000, seed=1)
    net, info = build_asnet(small_lenet, "fc1", (x, y), rank=10, degree=1, method="exact")
    xt, _ = data.tensors("fashion_mnist", "test", n=300, seed=0)
    with torch.no_grad():
        assert torch.allclose(net(xt).log_softmax(1), small_lenet(xt).log_softmax(1), atol=1e-3)
    assert info.r2 > 0.99 and info.terms == 11


@needs("fashion_mnist")
def test_build_asnet_errors(small_lenet):
    from aslib import data

    x, y = data.tensors("fashion_mnist", "train", n=100, seed=1)
    with pytest.raises(ValueError, match="larger than the 500 neurons of layer 'fc1'"):
        build_asnet(small_lenet, "fc1", (x, y), rank=600, degree=1, method="exact")
    with pytest.raises(ValueError, match="degree must be a whole number >= 1, got int 0"):
        build_asnet(small_lenet, "fc1", (x, y), rank=5, degree=0)
    with pytest.raises(ValueError, match="has 1326 terms but only 100 samples.*at least 1326"):
        build_asnet(small_lenet, "fc1", (x, y), rank=50, degree=2, method="exact")
    with pytest.raises(ValueError, match="unknown cut point"):
        build_asnet(small_lenet, "fc9", (x, y), rank=5)


def test_model_whose_output_is_not_logits_is_rejected():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3), torch.nn.Unflatten(1, (3, 1)))
    with pytest.raises(ValueError, match="logits"):
        build_asnet(model, "1", (torch.randn(20, 4), torch.randint(0, 3, (20,))), rank=2, degree=1, method="exact")


def test_dense_asnet_complexity_matches_the_paper():
    """The paper's sizes: full-width VGG-19-BN, rank=50, degree=2, paper's counting (conv+linear MACs, no basis)."""
    original = counts.complexity(build("vgg19_bn"), (3, 32, 32))
    assert round(original["storage_mb"], 2) == 76.45 and round(original["paper_macs"] / 1e6, 2) == 398.14
    expected = {"conv5": (5.30, 115.85, 14.43, 3.44), "conv6": (7.55, 153.60, 10.12, 2.59),
                "conv7": (9.80, 191.35, 7.80, 2.08)}
    for layer, (mb, macs, params_x, macs_x) in expected.items():
        pre, _ = split_model(build("vgg19_bn"), layer)
        neurons = pre(torch.zeros(1, 3, 32, 32)).numel()
        net = ASNet.empty(pre, neurons, 50, 2, 10)
        c = counts.complexity(net, (3, 32, 32))
        assert round(c["storage_mb"], 2) == mb
        assert round(c["paper_macs"] / 1e6, 2) == macs
        assert round(original["storage_mb"] / c["storage_mb"], 2) == params_x
        assert round(original["paper_macs"] / c["paper_macs"], 2) == macs_x


def test_distillation_loss_and_soft_threshold():
    s, t, y = torch.randn(4, 3), torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    ref = torch.nn.functional.kl_div(s.log_softmax(1), t.softmax(1), reduction="sum") / 4
    assert torch.allclose(distillation_loss(s, t, y, alpha=1.0, temperature=1.0), ref, atol=1e-6)
    plain = torch.nn.functional.cross_entropy(s, y)
    assert torch.allclose(distillation_loss(s, t, y, alpha=0.0, temperature=1.0), plain)
    w = torch.tensor([-1.0, -0.05, 0.0, 0.05, 1.0])
    soft_threshold_(w, 0.1)
    assert torch.equal(w, torch.tensor([-0.9, 0.0, 0.0, 0.0, 0.9]))


@needs("fashion_mnist")
def test_finetune_improves_sparsifies_and_resumes(small_lenet, tmp_path):
    from aslib import data

    train = data.load("fashion_mnist", "train")
    small = train.subset(slice(0, 2000))
    test = data.tensors("fashion_mnist", "test", n=500, seed=0)
    net, _ = build_asnet(small_lenet, "conv2", data.tensors("fashion_mnist", "train", n=600, seed=2), rank=8, degree=2)
    config = FinetuneConfig(kd_epochs=1, sparse_epochs=2, batch_size=100, kd_lr=(1e-3, 1e-3, 1e-3),
                            sparse_lr=(1e-2, 1e-2, 1e-2), l1=2.0, l1_pre=2.0)
    ckpt = tmp_path / "ft.pt"
    first = finetuning.finetune(net, small_lenet, small, test,
                                FinetuneConfig(**{**config.__dict__, "sparse_epochs": 1}),
                                checkpoint=ckpt, input_shape=(1, 28, 28), progress=False)
    assert [r["phase"] for r in first] == ["start", "distill", "sparse"]
    history = finetuning.finetune(net, small_lenet, small, test, config, checkpoint=ckpt, input_shape=(1, 28, 28),
                             progress=False)
    assert [r["phase"] for r in history] == ["start", "distill", "sparse", "sparse"]
    assert history[1]["test_accuracy"] >= history[0]["test_accuracy"] - 0.02
    assert history[-1]["nonzero_params"] < 0.9 * history[0]["nonzero_params"]
    assert evaluate(net, test)["accuracy"] == pytest.approx(history[-1]["test_accuracy"])
    distilled = load_tensors(finetuning.phase_checkpoint(ckpt, "distill"), "snapshot")
    assert [r["phase"] for r in distilled["history"]] == ["start", "distill"]
    branch = tmp_path / "branch.pt"
    shutil.copy(finetuning.phase_checkpoint(ckpt, "distill"), branch)
    twin = copy.deepcopy(net)
    again = finetuning.finetune(twin, small_lenet, small, test, config, checkpoint=branch, input_shape=(1, 28, 28),
                           progress=False)
    assert [r["phase"] for r in again] == ["start", "distill", "sparse", "sparse"]
    assert again[1] == history[1]
    assert {k: again[2][k] for k in ("test_accuracy", "nonzero_params")} == \
        {k: history[2][k] for k in ("test_accuracy", "nonzero_params")}
    other, _ = build_asnet(small_lenet, "conv2", data.tensors("fashion_mnist", "train", n=600, seed=2), rank=4,
                           degree=2)
    with pytest.raises(ValueError, match=f"{ckpt} holds a run of another configuration"):
        finetuning.finetune(other, small_lenet, small, test, config, checkpoint=ckpt, input_shape=(1, 28, 28),
                       progress=False)


@needs("fashion_mnist")
def test_streamed_build_equals_the_in_memory_least_squares_and_picks_the_best_ridge(small_lenet):
    """Oracle: the head of the streamed build is the (ridge) least-squares fit of the teacher's logits on the
    ASNet's own basis values, computed in memory; the chosen ridge has the best cross-validated R²."""
    from aslib import data
    from aslib.linalg.pce import r2_score

    x, y = data.tensors("fashion_mnist", "train", n=600, seed=3)
    ridges = [0.0, 1e-2, 10.0]
    net, info = build_asnet(small_lenet, "conv2", (x, y), rank=6, degree=2, ridge_per_sample=ridges, folds=3,
                            batch_size=128)
    assert info.samples == 600 and [row["ridge_per_sample"] for row in info.ridge_scores] == ridges
    best = max(info.ridge_scores, key=lambda row: row["r2_heldout"])
    assert info.ridge_per_sample == best["ridge_per_sample"] and info.r2_heldout == best["r2_heldout"]
    with torch.no_grad():
        features = net.basis(net.active_variables(x)).double()
        teacher = small_lenet(x).double()
    ridge = info.ridge_per_sample * 600 * torch.eye(features.shape[1], dtype=torch.float64)
    expected = torch.linalg.solve(features.T @ features + ridge, features.T @ teacher)  # in memory, no streaming
    torch.testing.assert_close(net.head.weight.T.double(), expected, rtol=1e-4, atol=1e-5)
    assert info.r2 == pytest.approx(r2_score(features @ expected, teacher), abs=1e-6)
    z = net.active_variables(x)  # standardised over the data it was built on
    torch.testing.assert_close(z.mean(0), torch.zeros(6), atol=1e-4, rtol=0)
    torch.testing.assert_close(z.std(0, correction=0), torch.ones(6), atol=1e-4, rtol=0)


@needs("fashion_mnist")
def test_build_passes_over_a_dataset_count_every_pass_and_repeat_exactly(small_lenet):
    from aslib import data

    train = data.load("fashion_mnist", "train")
    small = train.subset(slice(0, 700))
    one, info = build_asnet(small_lenet, "conv2", small, rank=4, degree=2, passes=2, batch_size=200)
    two, again = build_asnet(small_lenet, "conv2", small, rank=4, degree=2, passes=2, batch_size=200)
    assert info.samples == again.samples == 1400
    assert torch.equal(one.head.weight, two.head.weight)
    directions = torch.linalg.qr(torch.randn(800, 4, generator=torch.Generator().manual_seed(0))).Q
    fixed, fixed_info = build_asnet(small_lenet, "conv2", small, rank=4, degree=2, directions=directions)
    assert torch.equal(fixed.projection.weight, directions.T) and fixed_info.subspace is None
    with pytest.raises(ValueError, match="need an ImageDataset"):
        build_asnet(small_lenet, "conv2", (small.images[:300].float(), small.targets[:300]), rank=4, passes=2)
    with pytest.raises(ValueError, match="either subspace .* or directions, not both"):
        build_asnet(small_lenet, "conv2", small, rank=4, subspace=info.subspace, directions=directions)
    with pytest.raises(ValueError, match="ridge_per_sample must be"):
        build_asnet(small_lenet, "conv2", small, rank=4, ridge_per_sample=[-1.0])


def test_finetune_config_schedules_and_validation():
    cosine = FinetuneConfig(kd_epochs=4, kd_lr=(1.0, 2.0, 4.0), schedule="cosine", l1_growth=2.0)
    assert cosine.learning_rates("distill", 0) == (1.0, 2.0, 4.0)
    assert cosine.learning_rates("distill", 2) == pytest.approx((0.5, 1.0, 2.0))
    assert FinetuneConfig(kd_lr=(1.0, 1.0, 1.0)).learning_rates("distill", 3) == (0.25, 0.25, 0.25)
    assert cosine.l1_scale(3) == 8.0
    with pytest.raises(ValueError, match="schedule must be one of"):
        FinetuneConfig(schedule="linear")
    with pytest.raises(ValueError, match="precision must be one of"):
        FinetuneConfig(precision="float16")
    with pytest.raises(ValueError, match="target_params"):
        FinetuneConfig(target_params=0)


@needs("fashion_mnist")
def test_swa_averages_the_frozen_epochs_keeps_the_zero_pattern_and_resumes_once(small_lenet, tmp_path):
    from aslib import data

    train = data.load("fashion_mnist", "train")
    small = train.subset(slice(0, 600))
    test = data.tensors("fashion_mnist", "test", n=300, seed=0)
    net, _ = build_asnet(small_lenet, "conv2", data.tensors("fashion_mnist", "train", n=600, seed=2), rank=8, degree=2)
    dense = counts.nonzero_weights(net)
    config = FinetuneConfig(kd_epochs=0, sparse_epochs=3, batch_size=100, sparse_lr=(1e-3, 1e-3, 1e-3), l1=50.0,
                            l1_pre=0.0, sparse_optimizer="adam", target_params=int(0.9 * dense), swa_epochs=2)
    ckpt = tmp_path / "ft.pt"
    history = finetuning.finetune(net, small_lenet, small, test, config, checkpoint=ckpt, input_shape=(1, 28, 28),
                             progress=False)
    sparse = [row for row in history if row["phase"] == "sparse"]
    assert [row.get("averaged") for row in sparse[:3]] == [False, True, True] and sparse[0]["frozen"]
    assert sparse[-1]["swa"] == 2 and sparse[-1]["nonzero_params"] == sparse[-2]["nonzero_params"]
    assert counts.nonzero_weights(net) <= config.target_params
    assert evaluate(net, test)["accuracy"] == pytest.approx(sparse[-1]["test_accuracy"])
    again = finetuning.finetune(copy.deepcopy(net), small_lenet, small, test, config, checkpoint=ckpt,
                           input_shape=(1, 28, 28), progress=False)
    assert again == history  # a finished run is not averaged twice
    with pytest.raises(ValueError, match="swa_epochs"):
        FinetuneConfig(sparse_epochs=1, swa_epochs=2)
    with pytest.warns(UserWarning, match="nothing was averaged"):
        finetuning.finetune(copy.deepcopy(net), small_lenet, small, test,
                       dataclasses.replace(config, target_params=None), progress=False)


@needs("fashion_mnist")
def test_target_macs_fixes_the_pre_model_first_and_resumes_with_its_zero_pattern(small_lenet, tmp_path):
    """With target_macs the pre-model's convolutions stop shrinking once the sparse MACs reach it (the count of
    aslib.nets.counts.complexity) while the AS and PCE layers go on shrinking; a rerun resumes the same run."""
    from aslib import data

    train = data.load("fashion_mnist", "train")
    small = train.subset(slice(0, 600))
    test = data.tensors("fashion_mnist", "test", n=200, seed=0)
    net, _ = build_asnet(small_lenet, "conv2", data.tensors("fashion_mnist", "train", n=600, seed=2), rank=8, degree=2)
    start = counts.complexity(net, (1, 28, 28))
    config = FinetuneConfig(kd_epochs=0, sparse_epochs=3, batch_size=100, sparse_lr=(1e-3, 1e-3, 1e-3), l1=2.0,
                            l1_pre=20.0, sparse_optimizer="adam", target_macs=int(0.8 * start["sparse_macs"]))
    history = finetuning.finetune(net, small_lenet, small, test, config, checkpoint=tmp_path / "ft.pt",
                                  input_shape=(1, 28, 28), progress=False)
    sparse = [row for row in history if row["phase"] == "sparse"]
    assert all(row["pre frozen"] and not row["frozen"] for row in sparse), sparse
    assert sparse[0]["sparse_macs"] <= config.target_macs < start["sparse_macs"]
    assert sparse[-1]["nonzero_params"] < sparse[0]["nonzero_params"], "the AS and PCE layers go on shrinking"
    # the pre-model's pattern is fixed: an AS or PCE weight costs one MAC, so MACs and nonzeros fall by the same count
    assert [a["sparse_macs"] - b["sparse_macs"] for a, b in zip(sparse, sparse[1:])] == \
        [a["nonzero_params"] - b["nonzero_params"] for a, b in zip(sparse, sparse[1:])]
    assert sparse[-1]["sparse_macs"] == counts.complexity(net, (1, 28, 28))["sparse_macs"]
    pre = [m.weight.detach().clone() for m in net.pre.modules() if isinstance(m, torch.nn.Conv2d)]
    pattern = [w != 0 for w in pre]
    assert sum(int(w.count_nonzero()) for w in pre) < sum(m.weight.numel() for m in net.pre.modules()
                                                         if isinstance(m, torch.nn.Conv2d))
    longer = dataclasses.replace(config, sparse_epochs=4)
    again = finetuning.finetune(net, small_lenet, small, test, longer, checkpoint=tmp_path / "ft.pt",
                                input_shape=(1, 28, 28), progress=False)
    assert again[:len(history)] == history and len(again) == len(history) + 1
    assert all(torch.equal(w != 0, p) for w, p in zip(
        [m.weight for m in net.pre.modules() if isinstance(m, torch.nn.Conv2d)], pattern, strict=True))
    with pytest.raises(ValueError, match="target_macs counts MACs per sample: pass input_shape"):
        finetuning.finetune(net, small_lenet, small, test, config, progress=False)
    with pytest.raises(ValueError, match="target_macs"):
        FinetuneConfig(target_macs=0)
