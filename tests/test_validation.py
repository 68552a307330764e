"""Bad input gets a clear error from aslib (or, for castable dtypes, the result of the valid input).

One table per category; every case of the validation issue that these modules own is here.
"""
import math

import pytest
import torch
from torch import nn

from aslib import attacks, finetuning, inference, models, pce, studies, subspace, training


def small_problem():
    torch.manual_seed(0)
    return nn.Linear(4, 3), torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])


RANGES = [
    (lambda m, x, y: attacks.as_attack(m, x, y, 1.0, step_max=math.nan), "step_max"),
    (lambda m, x, y: attacks.as_attack(m, x, y, 1.0, step_max=-1.0), "step_max"),
    (lambda m, x, y: attacks.uap(m, x, y, 1.0, df_max_iter=0), "max_iter"),
    (lambda m, x, y: attacks.uap(m, x, y, 1.0, overshoot=-1), "overshoot"),
    (lambda m, x, y: attacks.project(torch.ones(3), -1.0), "xi"),
    (lambda m, x, y: attacks.project(torch.ones(3), math.inf), "xi"),
    (lambda m, x, y: finetuning.distillation_loss(m(x), m(x), y, alpha=0.5, temperature=0.0), "temperature"),
    (lambda m, x, y: finetuning.distillation_loss(m(x), m(x), y, alpha=1.5, temperature=2.0), "alpha"),
    (lambda m, x, y: finetuning.soft_threshold_(torch.ones(3), -1.0), "threshold"),
    (lambda m, x, y: models.build("resnet20", width=0), "width"),
    (lambda m, x, y: models.build("resnet20", width=0.01), "width"),
    (lambda m, x, y: models.build("vgg19_bn", num_classes=1), "num_classes"),
    (lambda m, x, y: models.build("lenet", in_channels=0), "in_channels"),
    (lambda m, x, y: training.train("lenet_fashion_mnist", "unused.pt", max_batches=0), "max_batches"),
]


@pytest.mark.parametrize("call, message", RANGES)
def test_values_out_of_range_are_rejected(call, message):
    model, x, y = small_problem()
    with pytest.raises(ValueError, match=message):
        call(model, x, y)


MISMATCHES = [
    (lambda m, x, y: attacks.attack_ratio(m, x.double(), y, torch.zeros(4, dtype=torch.float64)), "dtype"),
    (lambda m, x, y: attacks.as_attack(m, x.double(), y, 1.0), "dtype"),
    (lambda m, x, y: studies.noise_sweep(m, (torch.randn(40, 4), y[:5]), (x, y), xis=[1.0], n_samples=5,
                                         repeats=1), "40 images but 5 labels"),
]


@pytest.mark.parametrize("call, message", MISMATCHES)
def test_mismatched_inputs_are_named(call, message):
    model, x, y = small_problem()
    with pytest.raises(ValueError, match=message):
        call(model, x, y)


def test_the_unchanged_model_is_returned_after_a_rejected_call():
    model, x, y = small_problem()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    with pytest.raises(ValueError):
        attacks.as_attack(model, x, y, 1.0, step_max=math.nan)
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("method", ["exact", "frequent_directions"])
def test_integer_gradients_are_numbers(method):
    torch.manual_seed(0)
    grads = torch.randint(-5, 6, (60, 8))
    kwargs = {"sketch_size": 6} if method == "frequent_directions" else {}
    from_int = subspace.ActiveSubspace(method, **kwargs).fit(grads)
    from_float = subspace.ActiveSubspace(method, **kwargs).fit(grads.float())
    assert from_int.n_active(0.95) == from_float.n_active(0.95) >= 1
    assert torch.allclose(from_int.eigenvalues, from_float.eigenvalues)


def test_integer_features_fit_like_float_features():
    torch.manual_seed(0)
    features, targets = torch.randint(0, 3, (20, 2)), torch.randn(20, 1)
    fits = [pce.NormalEquations(2, 1, folds=1) for _ in range(2)]
    fits[0].add(features, targets)
    fits[1].add(features.float(), targets)
    weights = fits[0].solve()
    assert weights.is_floating_point()
    assert torch.allclose(weights, fits[1].solve())


def test_files_that_are_not_checkpoints_name_the_file(tmp_path):
    from aslib import zoo

    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt is not a readable aslib checkpoint") as info:
        zoo.load_checkpoint(bad)
    assert "weights_only=False" not in str(info.value)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        zoo.load_checkpoint(tmp_path / "missing.pt")
    torch.save({"weights": torch.ones(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an aslib checkpoint"):
        zoo.load_checkpoint(tmp_path / "other.pt")
    zoo.save_checkpoint(models.build("lenet"), {"arch": "lenet", "arch_kwargs": {}}, tmp_path / "lenet.pt")
    state = torch.load(tmp_path / "lenet.pt", weights_only=True)
    state["meta"]["arch_kwargs"] = {"num_classes": 5}
    torch.save(state, tmp_path / "mismatch.pt")
    with pytest.raises(ValueError, match="do not fit the architecture 'lenet'"):
        zoo.load_checkpoint(tmp_path / "mismatch.pt")


def test_evaluate_names_labels_out_of_range():
    model, x, y = small_problem()
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        inference.evaluate(model, (x, torch.tensor([0, 1, 2, 0, 1, 12])))


def test_truncated_or_incomplete_archives_name_the_file(tmp_path):
    import numpy as np

    from aslib import data

    good = tmp_path / "fashion_mnist.npz"
    np.savez(good, x_train=np.zeros((4, 28, 28, 1), np.uint8), y_train=np.zeros(4, np.int64),
             classes=np.array([str(i) for i in range(10)]))
    assert len(data.load("fashion_mnist", "train", root=tmp_path)) == 4
    with pytest.raises(ValueError, match=r"lacks the arrays \['x_test or x_test_jpeg', 'y_test'\]"):
        data.load("fashion_mnist", "test", root=tmp_path)
    good.write_bytes(good.read_bytes()[:100])
    with pytest.raises(ValueError, match="fashion_mnist.npz is not a readable .npz archive"):
        data.load("fashion_mnist", "train", root=tmp_path)


@pytest.mark.parametrize("n, classes, message", [
    (0, None, "int >= 1"), (2.5, None, "int >= 1"), (5, [12], r"no samples of class\(es\) \[12\]"),
    (100, [1], "only 2 match"),
])
def test_subsets_say_what_cannot_be_drawn(n, classes, message):
    from aslib import data

    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match=message):
        data.subset_indices(targets, n, classes)
