import numpy as np
import pytest
import torch
from conftest import needs

from aslib import data
from aslib.fitting import training
from aslib.fitting.recipes import TrainingRecipe
from aslib.nets import inference, models
from aslib.nets.inference import evaluate
from aslib.store import zoo

SMOKE = TrainingRecipe("lenet", "fashion_mnist", epochs=1, batch_size=256, lr=0.05, schedule="step")


@needs("fashion_mnist")
def test_short_training_reduces_loss_and_resumes_exactly(tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "lenet.pt"
    state = (torch.get_rng_state(), np.random.get_state()[1].copy())
    meta = training.train(SMOKE, out, progress=False, max_batches=12)
    assert torch.equal(torch.get_rng_state(), state[0]) and (np.random.get_state()[1] == state[1]).all(), \
        "training is seeded by its recipe and leaves the caller's random state as it was"
    assert not meta["done"] and (tmp_path / "lenet.pt.state.pt").exists()
    resumed = training.train(SMOKE, out, progress=False, max_batches=12)
    assert not resumed["done"]
    state = torch.load(tmp_path / "lenet.pt.state.pt", weights_only=True)
    assert state["position"] == 24 and state["epoch"] == 0
    straight = tmp_path / "straight.pt"
    training.train(SMOKE, straight, progress=False, max_batches=24)
    ref = torch.load(tmp_path / "straight.pt.state.pt", weights_only=True)
    for key in ref["model"]:
        assert torch.allclose(state["model"][key], ref["model"][key], atol=1e-6), key
    test = data.tensors("fashion_mnist", "test", n=1000)
    untrained = evaluate(models.build("lenet"), test)["loss"]
    model = models.build("lenet")
    model.load_state_dict(state["model"])
    assert evaluate(model, test)["loss"] < 0.7 * untrained


@needs("fashion_mnist")
def test_cpu_bfloat16_training_follows_float32(tmp_path):
    """bfloat16 autocast on a CPU takes nearly the float32 steps and keeps float32 weights."""
    torch.set_num_threads(1)
    runs = {}
    for amp in (False, True):
        meta = training.train(SMOKE, tmp_path / f"amp{amp}.pt", device="cpu", progress=False, max_batches=12,
                              amp=amp)
        assert meta["precision"] == ("bfloat16" if amp else "float32")
        runs[amp] = torch.load(tmp_path / f"amp{amp}.pt.state.pt", weights_only=True)["model"]
    torch.manual_seed(SMOKE.seed)
    start = models.build("lenet").state_dict()
    for key, ref in runs[False].items():
        if ref.is_floating_point() and ref.ndim > 1:
            assert runs[True][key].dtype == torch.float32
            step_fp32, step_bf16 = (ref - start[key]).flatten(), (runs[True][key] - start[key]).flatten()
            assert torch.nn.functional.cosine_similarity(step_fp32, step_bf16, dim=0) > 0.99, key


def _first_samples(load, train_n, test_n):
    """``data.load`` restricted to the first ``train_n`` / ``test_n`` samples of each split."""
    def small(name, split, root=None):
        full = load(name, split, root)
        n = train_n if split == "train" else test_n
        return full.subset(slice(0, n))
    return small


@needs("fashion_mnist")
def test_weight_averaging_phase_averages_epoch_ends_and_resumes_exactly(tmp_path, monkeypatch):
    """One main epoch, then two SWA epochs: the result is the mean of the weights at the ends of
    epochs 2 and 3 (LeNet has no batch norm), also when stopped and resumed across the phases."""
    torch.set_num_threads(1)
    monkeypatch.setattr(training.data_mod, "load", _first_samples(data.load, 3000, 500))
    recipe = TrainingRecipe("lenet", "fashion_mnist", epochs=1, batch_size=100, lr=0.05, schedule="step",
                    swa_epochs=2, swa_lr=0.02)
    steps = 30  # batches per epoch
    chain = tmp_path / "chain.pt"
    ends = []
    for budget in (2 * steps, steps):  # stop at the ends of epochs 2 and 3, before their averaging
        meta = training.train(recipe, chain, progress=False, max_batches=budget)
        state = torch.load(tmp_path / "chain.pt.state.pt", weights_only=True)
        assert not meta["done"] and state["phase"] == "swa"
        ends.append(state["model"])
    meta = training.train(recipe, chain, progress=False)
    assert meta["done"] and [row["phase"] for row in meta["history"]] == ["main", "swa", "swa"]
    averaged, _ = zoo.load_checkpoint(chain)
    training.train(recipe, tmp_path / "straight.pt", progress=False)
    straight, _ = zoo.load_checkpoint(tmp_path / "straight.pt")
    for key, value in averaged.state_dict().items():
        torch.testing.assert_close(value, (ends[0][key] + ends[1][key]) / 2, msg=key)
        torch.testing.assert_close(value, straight.state_dict()[key], rtol=0, atol=1e-6, msg=key)
    assert not torch.allclose(ends[0]["fc2.weight"], ends[1]["fc2.weight"], atol=1e-3)


def test_recipe_rejects_bad_settings():
    for kwargs, message in (({"swa_epochs": -1}, "swa_epochs must be a whole number >= 0"),
                            ({"swa_epochs": 2, "swa_lr": 0.0}, "swa_lr must be a finite number > 0"),
                            ({"epochs": 0}, "epochs must be a whole number >= 1"),
                            ({"label_smoothing": 1.0}, "label_smoothing must be below 1"),
                            ({"schedule": "cosine"}, "schedule must be one of 'onecycle', 'step'")):
        with pytest.raises(ValueError, match=message):
            TrainingRecipe("lenet", "fashion_mnist", **kwargs)


def test_unknown_recipe():
    with pytest.raises(ValueError, match="unknown recipe"):
        training.train("nope", "x.pt")


@needs("fashion_mnist")
def test_quick_lenet_is_seeded_and_learns():
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = training.quick_lenet(600, seed=0)
    assert torch.equal(torch.get_rng_state(), state), "the caller's random state must be left as it was"
    second = training.quick_lenet(600, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    assert not first.training
    accuracy = evaluate(first, data.tensors("fashion_mnist", "test", n=500, seed=0))["accuracy"]
    assert accuracy > 0.5


def test_predict_logits_batches_and_restores_the_mode():
    torch.manual_seed(0)
    model = models.build("lenet").train()
    x = torch.randn(7, 1, 28, 28)
    logits = inference.predict_logits(model, x, batch_size=3)
    with torch.no_grad():
        reference = model.eval()(x)
    model.train()
    assert torch.allclose(logits, reference, atol=1e-6) and logits.shape == (7, 10)
    inference.predict_logits(model, x)
    assert model.training
