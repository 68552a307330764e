"""Tests for aslib.fitting: a small recipe end to end, resumed, loaded back from its checkpoint."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import needs

from aslib import data
from aslib.fitting import recipes, runs
from aslib.fitting.recipes import RECIPE_FINETUNE, ASNetRecipe
from aslib.nets import pruning
from aslib.nets.asnet import ASNet
from aslib.nets.counts import nonzero_weights
from aslib.nets.inference import evaluate
from aslib.store import zoo

TINY = dataclasses.replace(RECIPE_FINETUNE, kd_epochs=1, sparse_epochs=2, max_batches=3, l1=100.0, l1_growth=2.0,
                           batch_size=100)


def tiny(projection="active_subspace", target_reduction=None):
    return ASNetRecipe("lenet_fashion_mnist", "conv2", rank=10, degree=2, projection=projection, build_passes=1,
                       build_batches=4, target_reduction=target_reduction, finetune=TINY)


@needs("fashion_mnist")
@pytest.mark.parametrize("projection", recipes.PROJECTIONS)
def test_a_recipe_runs_end_to_end_and_its_checkpoint_loads_back(tmp_path, projection):
    meta = runs.run(tiny(projection, target_reduction=14.0), tmp_path, progress=False)
    assert meta["build"]["samples"] == 4 * 500
    assert [row["phase"] for row in meta["history"]] == ["start", "distill", "sparse", "sparse"]
    model, stored = zoo.load_checkpoint(tmp_path / "model.pt")
    assert isinstance(model, ASNet) and stored["arch"] == "asnet"
    assert nonzero_weights(model) == meta["nonzero_params"] <= meta["params"]
    base_params = sum(p.numel() for p in zoo.pretrained("lenet_fashion_mnist").parameters())
    assert base_params // 15 < meta["nonzero_params"] <= base_params // 14  # it stopped at the target
    assert meta["history"][-1]["frozen"]


@needs("fashion_mnist")
def test_a_rerun_resumes_from_the_working_folder(tmp_path):
    rng = torch.get_rng_state()
    first = runs.run(tiny(), tmp_path, progress=False)
    assert torch.equal(torch.get_rng_state(), rng), "a recipe is seeded by itself and leaves the caller's state alone"
    state = torch.load(tmp_path / "finetune.pt", weights_only=True)
    again = runs.run(tiny(), tmp_path, progress=False)  # nothing left to do: same result
    assert again["history"] == first["history"] == state["history"]
    assert again["test_accuracy"] == first["test_accuracy"]


@needs("fashion_mnist")
def test_a_validation_recipe_tunes_on_the_rest_and_choices_read_the_validation_split(tmp_path, monkeypatch):
    names = {"tiny_conv2": tiny(), "tiny_conv1": dataclasses.replace(tiny(), layer="conv1")}
    for name, recipe in names.items():
        monkeypatch.setitem(recipes.RECIPES, name, dataclasses.replace(recipe, validation=1000))
    chosen, meta, record = runs.select(list(names), tmp_path)
    scores = record["validation_accuracy"]
    assert chosen == max(scores, key=scores.get) and record["chosen"] == chosen and set(scores) == set(names)
    assert meta["validation"] == record["validation"] and meta["validation"]["images"] == 1000
    history = meta["history"]
    assert all("validation_accuracy" in row and "test_accuracy" not in row for row in history)
    assert scores[chosen] == history[-1]["validation_accuracy"]
    held = data.validation_split(data.load("fashion_mnist", "train"), 1000, 0)[1]
    model, _ = zoo.load_checkpoint(tmp_path / f"{chosen}.work" / "model.pt")
    assert evaluate(model, held)["accuracy"] == pytest.approx(scores[chosen])  # measured on the held-out images
    assert meta["test_accuracy"] == pytest.approx(evaluate(model, data.load("fashion_mnist", "test"))["accuracy"])
    with pytest.raises(ValueError, match="same validation split"):
        monkeypatch.setitem(recipes.RECIPES, "tiny_none", tiny())
        runs.select(["tiny_conv2", "tiny_none"], tmp_path)
    with pytest.raises(ValueError, match="two or more"):
        runs.select(["tiny_conv2"], tmp_path)


@needs("fashion_mnist")
def test_a_mac_target_sparsifies_the_pre_model_until_the_recorded_macs_reach_it(tmp_path):
    recipe = dataclasses.replace(tiny(target_reduction=14.0), macs_reduction=1.5,
                                 finetune=dataclasses.replace(TINY, l1_pre=100.0))
    meta = runs.run(recipe, tmp_path, progress=False)
    assert meta["sparse_macs_x"] >= 1.5 and meta["nonzero_params_x"] >= 14.0
    assert all(row["pre frozen"] for row in meta["history"] if row["phase"] == "sparse")
    model, _ = zoo.load_checkpoint(tmp_path / "model.pt")
    assert any(int(m.weight.count_nonzero()) < m.weight.numel() for m in model.pre.modules()
               if isinstance(m, torch.nn.Conv2d))


def test_the_frontier_recipes_share_the_budget_and_follow_the_papers_proportion():
    asnets, pruned = recipes.FRONTIER.values()
    assert len(asnets) == len(pruned) == len(recipes.FRONTIER_REDUCTIONS) >= 3
    for name, target in zip(asnets, recipes.FRONTIER_REDUCTIONS, strict=True):
        recipe = recipes.RECIPES[name]
        assert recipe.layer == recipes.CHOSEN_CUT and recipe.target_reduction == target
        assert recipe.finetune.l1_pre > 0 and recipe.validation == recipes.VALIDATION_IMAGES
        paper_params, paper_macs = recipes.PAPER_PARAMS_X, recipes.PAPER_MACS_X
        assert recipe.macs_reduction == pytest.approx(target * paper_macs / paper_params, abs=0.005)
    assert recipes.RECIPES[asnets[-1]].target_reduction == recipes.PAPER_PARAMS_X
    assert recipes.RECIPES[asnets[-1]].macs_reduction == recipes.PAPER_MACS_X
    for name, target in zip(pruned, recipes.FRONTIER_REDUCTIONS, strict=True):
        recipe = recipes.RECIPES[name]
        assert isinstance(recipe, recipes.PruningRecipe) and recipe.target_reduction == target
        assert recipe.finetune == recipes.BASELINE_FINETUNE and recipe.validation
    budget = recipes.BASELINE_FINETUNE
    for name in asnets + pruned:
        config = recipes.RECIPES[name].finetune
        assert (config.kd_epochs, config.sparse_epochs) == (budget.kd_epochs, budget.sparse_epochs)


def test_bad_recipes_are_refused():
    with pytest.raises(ValueError, match="macs_reduction needs a sparse pre-model"):
        ASNetRecipe("lenet_fashion_mnist", "fc1", macs_reduction=2.0, finetune=TINY)
    with pytest.raises(ValueError, match="macs_reduction must be > 1"):
        ASNetRecipe("lenet_fashion_mnist", "fc1", macs_reduction=1.0, finetune=dataclasses.replace(TINY, l1_pre=1.0))
    with pytest.raises(ValueError, match="projection must be one of"):
        ASNetRecipe("lenet_fashion_mnist", "fc1", projection="svd")
    with pytest.raises(ValueError, match="target_reduction must be > 1"):
        ASNetRecipe("lenet_fashion_mnist", "fc1", target_reduction=0.5)
    with pytest.raises(ValueError, match="either target_reduction"):
        recipes.ChannelPruningRecipe("vgg19_bn_w025_cifar10", 11.0, "macs", cut="conv5")
    with pytest.raises(ValueError, match="either target_reduction"):
        recipes.ChannelPruningRecipe("vgg19_bn_w025_cifar10", None, "macs")


@needs("fashion_mnist")
def test_the_pruning_baseline_keeps_its_masks_through_distillation(tmp_path):
    recipe = recipes.PruningRecipe("lenet_fashion_mnist", target_reduction=10.0,
                                         finetune=dataclasses.replace(TINY, sparse_epochs=1))
    meta = runs.run(recipe, tmp_path, progress=False)
    model, stored = zoo.load_checkpoint(tmp_path / "model.pt")
    base_params = sum(p.numel() for p in zoo.pretrained("lenet_fashion_mnist").parameters())
    assert stored["arch"] == "lenet" and [row["phase"] for row in meta["history"]] == ["start", "distill", "distill"]
    assert nonzero_weights(model) == meta["nonzero_params"] == base_params // 10  # exactly the target, kept


def test_channel_pruning_meets_its_target_with_the_smallest_fraction_and_leaves_the_model():
    from aslib.nets.counts import complexity
    from aslib.nets.models import VGG, build

    torch.manual_seed(0)
    model = build("vgg11_bn", width=0.125).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    shape = (3, 32, 32)
    full = complexity(model, shape)
    for match, reduction in (("params", 6.0), ("macs", 3.0)):
        target = int(full[match] / reduction)
        pruned, fraction = pruning.channel_pruned(model, target, match, shape)
        assert isinstance(pruned, VGG) and complexity(pruned, shape)[match] <= target
        # the bisection's lower end does not meet the target: the fraction is the smallest one (to 1e-3)
        larger, _ = pruning.channel_pruned(model, int(complexity(pruned, shape)[match] * 1.2), match, shape)
        assert complexity(larger, shape)[match] > complexity(pruned, shape)[match]
        widths = [m[0].out_channels for name, m in pruned.named_children() if name.startswith("conv")]
        original = [m[0].out_channels for name, m in model.named_children() if name.startswith("conv")]
        assert all(abs(w - (1 - fraction) * o) <= 1 for w, o in zip(widths, original))  # the same fraction each
        rebuilt = build("vgg11_bn", width=0.125, channels=widths)
        rebuilt.load_state_dict(pruned.state_dict())  # the checkpoint's arch_kwargs rebuild it exactly
        x = torch.randn(2, *shape)
        assert torch.equal(rebuilt.eval()(x), pruned.eval()(x))
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    with pytest.raises(ValueError, match="no channel fraction"):
        pruning.channel_pruned(model, 10, "params", shape)
    with pytest.raises(ValueError, match="VGG"):
        pruning.channel_pruned(torch.nn.Linear(3, 2), 10, "params", shape)
    with pytest.raises(ValueError, match="match must be one of"):
        recipes.ChannelPruningRecipe("vgg19_bn_w025_cifar10", 3.0, "flops")
    with pytest.raises(ValueError, match="channels must give one positive int per conv layer"):
        build("vgg11_bn", channels=[4, 4])
