"""Executing a recipe of :mod:`aslib.fitting.recipes` resumably in a folder (:func:`run`), choosing among
recipes on their validation split (:func:`select`), and the projections a recipe builds (:func:`directions`)."""
from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import math
import time
from pathlib import Path
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.utils import prune

from aslib import data as data_mod
from aslib._utils import atomic_save, load_tensors, seeded
from aslib.contracts import contract
from aslib.fitting.finetuning import FinetuneConfig, finetune
from aslib.fitting.recipes import (RECIPES, ASNetRecipe, ChannelPruningRecipe, CompressionRecipe, PruningRecipe,
                                   compression_recipes)
from aslib.linalg.subspace import ActiveSubspace
from aslib.nets.asnet import ASNet, build_asnet, split_model
from aslib.nets.counts import complexity, reduction
from aslib.nets.inference import evaluate
from aslib.nets.pruning import channel_pruned, magnitude_prune_
from aslib.store import zoo


@contract
def directions(model: nn.Module, layer: str, loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
               recipe: ASNetRecipe) -> ActiveSubspace | torch.Tensor | None:
    """The projection of ``recipe`` at ``layer`` from the ``(x, y)`` batches of ``loader``: an estimator whose
    components are the PCA directions (Frequent Directions on the activations ``(B, n)``), a ``(n, r)``
    orthonormal tensor for the random ones, ``None`` for the active subspace (``build_asnet`` estimates it)."""
    if recipe.projection == "active_subspace":
        return None
    pre, _ = split_model(copy.deepcopy(model).eval(), layer)
    if recipe.projection == "random":
        neurons = pre(next(iter(loader))[0][:1]).numel()
        gaussian = torch.randn(neurons, recipe.rank, generator=torch.Generator().manual_seed(recipe.seed))
        return torch.linalg.qr(gaussian).Q
    estimator = ActiveSubspace("frequent_directions", sketch_size=2 * recipe.rank)
    with torch.no_grad():
        for x, _ in loader:
            estimator.partial_fit(pre(x).flatten(1))
    return estimator


@contract
def run(name_or_recipe: str | CompressionRecipe, out: str | Path, *,
        device: str | torch.device = "cpu", progress: bool = True) -> dict[str, Any]:
    """Execute a recipe in the folder ``out`` (resumable) and write ``out/model.pt`` (a zoo checkpoint).

    A :class:`PruningRecipe` or :class:`ChannelPruningRecipe` writes the pruned network there instead (same
    metadata, ``arch`` the base's; a channel-pruned VGG's ``arch_kwargs`` name its ``channels``).

    Returns the checkpoint's metadata: base model, cut, r, p, projection, seed, the build's samples,
    R² (in-sample and cross-validated) and ridge, epochs, wall time (build + fine-tuning, summed over
    resumed calls), history, test accuracy on the whole test split, nonzero parameters, dense and sparse
    MACs and the reductions against the base network.
    """
    name, recipe = (name_or_recipe, RECIPES[name_or_recipe]) if isinstance(name_or_recipe, str) \
        else ("custom", name_or_recipe)
    if not isinstance(recipe, CompressionRecipe):
        raise ValueError(f"recipe {name!r} trains a network from scratch; run it with aslib.fitting.training.train "
                         f"(or `aslib train --recipe {name}`)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(device)
    with seeded(recipe.seed, device):  # the caller's random state is left as it was
        entry = zoo.entry(recipe.base)
        teacher = zoo.pretrained(recipe.base, device)
        train = data_mod.load(entry["dataset"], "train")
        test = data_mod.load(entry["dataset"], "test")
        source = {"data_source": train.source}
        evaluation = test
        if recipe.validation:
            train, evaluation, source["validation"] = data_mod.validation_split(train, recipe.validation, recipe.seed)
        shape = tuple(train.images.shape[1:])
        original = complexity(teacher, shape)
        if isinstance(recipe, PruningRecipe):
            return _run_pruning(name, recipe, out, teacher, entry, train, evaluation, test, original, source)
        if isinstance(recipe, ChannelPruningRecipe):
            return _run_channels(name, recipe, out, teacher, entry, train, evaluation, test, original, source)
        build_path, tune_path = out / "build.pt", out / "finetune.pt"
        if build_path.exists():
            state = load_tensors(build_path, "ASNet build", device)
            asnet = _empty(teacher, recipe, state["meta"]["neurons"], entry)
            asnet.load_state_dict(state["asnet"])
            build = state["meta"]
        else:
            start = time.time()
            loader = data_mod.BatchLoader(train, 500, augment=True, seed=recipe.seed, device=device)
            found = directions(teacher, recipe.layer, itertools.islice(loader, recipe.build_batches), recipe)
            extra = {"directions": found} if isinstance(found, torch.Tensor) else {"subspace": found}
            asnet, info = build_asnet(teacher, recipe.layer, train, rank=recipe.rank, degree=recipe.degree,
                                      ridge_per_sample=list(recipe.ridges_per_sample), passes=recipe.build_passes,
                                      augment=True, seed=recipe.seed, batch_size=500, max_batches=recipe.build_batches,
                                      progress=progress, **extra)
            build = {"neurons": info.neurons, "samples": info.samples, "r2_train": info.r2,
                     "r2_heldout": info.r2_heldout, "ridge_per_sample": info.ridge_per_sample,
                     "ridge_scores": info.ridge_scores,
                     f"{evaluation.split}_accuracy": evaluate(asnet, evaluation)["accuracy"],
                     "wall_time_s": round(time.time() - start, 1)}
            atomic_save({"asnet": asnet.state_dict(), "meta": build}, build_path)
        config = recipe.finetune
        if recipe.target_reduction is not None:
            config = dataclasses.replace(config, target_params=math.floor(original["params"] / recipe.target_reduction))
        if recipe.macs_reduction is not None:
            config = dataclasses.replace(config, target_macs=math.floor(original["macs"] / recipe.macs_reduction))
        history = finetune(asnet, teacher, train, evaluation, config, checkpoint=tune_path, input_shape=shape,
                           progress=progress)
        result = complexity(asnet, shape)
        meta = {"arch": "asnet", "arch_kwargs": _arch_kwargs(recipe, build["neurons"], entry),
                "dataset": entry["dataset"], **source, "recipe_name": name,
                "recipe": _plain(dataclasses.asdict(recipe)), "base_model": recipe.base, "seed": recipe.seed,
                "epochs": config.kd_epochs + config.sparse_epochs, "build": build, "history": history,
                "wall_time_s": round(build["wall_time_s"] + sum(row.get("seconds", 0.0) for row in history), 1),
                "device": str(device), "precision": config.precision,
                "test_accuracy": evaluate(asnet, test)["accuracy"], "base_test_accuracy": entry["test_accuracy"],
                "nonzero_params": result["nonzero_params"], "params": result["params"], "macs": result["macs"],
                "sparse_macs": result["sparse_macs"],
                **{k: round(v, 3) for k, v in reduction(original, result).items()}}
        zoo.save_checkpoint(asnet, meta, out / "model.pt")
        return meta


@contract
def select(candidates: Sequence[str], work: str | Path, *, device: str | torch.device = "cpu",
           progress: bool = True) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Run the named recipes (each resumably in ``work/NAME.work``) and choose the one whose finished network scores
    highest on its validation split (the last row of its history; ties go to the earlier name).

    Every candidate must hold out the same validation split (``validation`` and ``seed`` equal, > 0), so the choice
    never reads the test split. Returns the chosen name, its metadata (as :func:`run`) and the selection record for
    its manifest: the split, the rule, each candidate's validation accuracy and the choice.
    """
    if len(candidates) < 2 or len(set(candidates)) != len(candidates):
        raise ValueError(f"select chooses among two or more different recipes, got {list(candidates)!r}")
    unknown = [name for name in candidates if name not in compression_recipes()]
    if unknown:
        raise ValueError(f"unknown compression recipe(s) {unknown}; they are {sorted(compression_recipes())}")
    splits = {(RECIPES[name].validation, RECIPES[name].seed) for name in candidates}
    if len(splits) != 1 or not next(iter(splits))[0]:
        raise ValueError("the candidates must hold out the same validation split (same validation > 0 and seed), "
                         f"got (validation, seed) {sorted(splits)}")
    metas = {name: run(name, Path(work) / f"{name}.work", device=device, progress=progress) for name in candidates}
    scores = {name: meta["history"][-1]["validation_accuracy"] for name, meta in metas.items()}
    chosen = max(candidates, key=lambda name: (scores[name], -candidates.index(name)))
    record = {"split": "validation", "validation": metas[chosen]["validation"],
              "rule": "the highest validation accuracy at the last epoch", "validation_accuracy": scores,
              "chosen": chosen}
    return chosen, metas[chosen], record


def _run_pruning(name: str, recipe: PruningRecipe, out: Path, teacher: nn.Module, entry: dict[str, Any],
                 train: data_mod.ImageDataset, evaluation: data_mod.ImageDataset, test: data_mod.ImageDataset,
                 original: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    shape = tuple(train.images.shape[1:])
    student = copy.deepcopy(teacher)
    weights = magnitude_prune_(student, math.floor(original["params"] / recipe.target_reduction))
    config = dataclasses.replace(recipe.finetune, kd_epochs=recipe.finetune.kd_epochs + recipe.finetune.sparse_epochs,
                                 sparse_epochs=0)
    history = finetune(student, teacher, train, evaluation, config, checkpoint=out / "finetune.pt",
                       input_shape=shape, progress=False)
    for module, attribute in weights:
        prune.remove(module, attribute)
    return _save_dense(name, recipe, out, student, entry["arch_kwargs"], entry, test, original, source, config,
                       history)


def _run_channels(name: str, recipe: ChannelPruningRecipe, out: Path, teacher: nn.Module, entry: dict[str, Any],
                  train: data_mod.ImageDataset, evaluation: data_mod.ImageDataset, test: data_mod.ImageDataset,
                  original: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    shape = tuple(train.images.shape[1:])
    if recipe.cut is None:
        target = math.floor(original[recipe.match] / recipe.target_reduction)
    else:
        like = ASNetRecipe(recipe.base, recipe.cut)
        pre, _ = split_model(copy.deepcopy(teacher), recipe.cut)
        neurons = pre(train.batch(torch.arange(1))[0].to(next(teacher.parameters()).device)).numel()
        target = complexity(_empty(teacher, like, neurons, entry), shape)[recipe.match]
    student, fraction = channel_pruned(teacher, target, recipe.match, shape)
    config = dataclasses.replace(recipe.finetune, kd_epochs=recipe.finetune.kd_epochs + recipe.finetune.sparse_epochs,
                                 sparse_epochs=0)
    history = finetune(student, teacher, train, evaluation, config, checkpoint=out / "finetune.pt",
                       input_shape=shape, progress=False)
    channels = [module[0].out_channels for child, module in student.named_children() if child.startswith("conv")]
    meta = _save_dense(name, recipe, out, student, {**entry["arch_kwargs"], "channels": channels}, entry, test,
                       original, source, config, history)
    return {**meta, "pruned_channel_fraction": round(fraction, 4)}


def _save_dense(name: str, recipe: PruningRecipe | ChannelPruningRecipe, out: Path, student: nn.Module,
                arch_kwargs: dict[str, Any], entry: dict[str, Any], test: data_mod.ImageDataset,
                original: dict[str, Any], source: dict[str, Any], config: FinetuneConfig,
                history: list[dict[str, Any]]) -> dict[str, Any]:
    """Metadata of a fine-tuned pruned network (architecture of the base) and its checkpoint ``out/model.pt``."""
    shape = tuple(test.images.shape[1:])
    result = complexity(student, shape)
    meta = {"arch": entry["arch"], "arch_kwargs": arch_kwargs, "dataset": entry["dataset"], **source,
            "recipe_name": name, "recipe": _plain(dataclasses.asdict(recipe)),
            "base_model": recipe.base, "seed": recipe.seed, "epochs": config.kd_epochs, "history": history,
            "wall_time_s": round(sum(row.get("seconds", 0.0) for row in history), 1), "device": str(next(
                student.parameters()).device), "precision": config.precision,
            "test_accuracy": evaluate(student, test)["accuracy"], "base_test_accuracy": entry["test_accuracy"],
            "nonzero_params": result["nonzero_params"], "params": result["params"], "macs": result["macs"],
            "sparse_macs": result["sparse_macs"], **{k: round(v, 3) for k, v in reduction(original, result).items()}}
    zoo.save_checkpoint(student, meta, out / "model.pt")
    return meta


def _arch_kwargs(recipe: ASNetRecipe, neurons: int, entry: dict[str, Any]) -> dict[str, Any]:
    return {"base_arch": entry["arch"], "base_kwargs": entry["arch_kwargs"], "layer": recipe.layer,
            "neurons": neurons, "rank": recipe.rank, "degree": recipe.degree,
            "num_classes": entry["arch_kwargs"]["num_classes"]}


def _empty(teacher: nn.Module, recipe: ASNetRecipe, neurons: int, entry: dict[str, Any]) -> ASNet:
    pre, _ = split_model(copy.deepcopy(teacher), recipe.layer)
    return ASNet.empty(pre, neurons, recipe.rank, recipe.degree, entry["arch_kwargs"]["num_classes"]).to(
        next(teacher.parameters()).device)


def _plain(value: Any) -> Any:
    """``value`` with tuples as lists (the manifest is JSON)."""
    return json.loads(json.dumps(value))


__all__ = ["directions", "run", "select"]
