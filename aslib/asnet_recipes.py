"""Named ASNet recipes: build a zoo network's ASNet on the augmented training set, fine-tune it, ship it.

A recipe (:class:`ASNetRecipe`, named in :data:`RECIPES`) fixes everything that decides the
result: the base network, cut, ``r``, ``p``, the directions of the projection, the streamed build
(steps 1-2: :func:`~aslib.asnet.build_asnet` over ``build_passes`` augmented passes of the whole
training split, ridge chosen by cross-validation) and the fine-tuning (step 3:
:class:`~aslib.finetuning.FinetuneConfig`, whose sparse phase stops shrinking at ``target_reduction``
times fewer nonzero weights than the base network has parameters; with ``macs_reduction`` and ``l1_pre`` > 0 the
pre-model's convolutions stop shrinking at that many times fewer sparse MACs than the base network's dense MACs,
``FinetuneConfig.target_macs``). :func:`run` executes it
resumably in a folder (``build.pt``, then ``finetune.pt`` after every epoch) and writes the
checkpoint that :func:`aslib.zoo.ship` records; ``python -m aslib.cli train --recipe NAME --ship``
does both.

A recipe with ``validation`` > 0 holds that many training images out (:func:`aslib.data.validation_split`,
seeded by the recipe's seed): the build and the fine-tuning see the rest, the history is measured on the
held-out images, and every choice among recipes (:func:`select`: the cut, ...) reads that history; the test
split is read once, for the finished network's ``test_accuracy``.

The ``projection`` of a recipe is ``"active_subspace"`` (the ASNet), or, for the baselines at the
same cut, rank, build data and fine-tuning budget, ``"pca"`` (the top principal directions of the
activations at the cut, uncentred second moment, sketched by Frequent Directions over the same
pass) or ``"random"`` (a seeded random orthonormal basis).
"""
from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.utils import prune

from . import data as data_mod
from . import zoo
from ._utils import atomic_save, load_tensors, seeded
from .asnet import ASNet, build_asnet, split_model
from .finetuning import FinetuneConfig, finetune
from .metrics import complexity, reduction
from .pruning import CHANNEL_MATCH, channel_pruned, magnitude_prune_
from .subspace import ActiveSubspace
from .inference import evaluate

PROJECTIONS = ("active_subspace", "pca", "random")

RECIPE_FINETUNE = FinetuneConfig(
    kd_epochs=50, sparse_epochs=30, batch_size=300, kd_lr=(1e-3, 1e-3, 1e-3), sparse_lr=(3e-4, 3e-4, 3e-4),
    alpha=0.9, temperature=4.0, l1=0.05, l1_pre=0.0, l1_growth=1.5, sparse_optimizer="adam", sparse_loss="distill",
    schedule="cosine", precision="bfloat16", augment=True, seed=0)
"""The CPU fine-tuning of the shipped ASNets: 50 distillation epochs (Adam, cosine), then 30 sparse epochs
(Adam + l1 proximal steps whose strength grows 1.5x per epoch until the nonzero target, then the zero
pattern fixed), both on the distillation loss, bfloat16 autocast."""

DEMO_FINETUNE = dataclasses.replace(RECIPE_FINETUNE, kd_epochs=2, sparse_epochs=2, max_batches=40, l1=1.0, l1_pre=0.5,
                                    l1_growth=2.0)
"""A few minutes of the recipe's fine-tuning on a CPU (2 + 2 epochs of 40 batches), with l1 strengths large enough to
sparsify within them, the pre-model's convolutions included: the default of notebook 05 and of ``aslib asnet``."""


@dataclass(frozen=True)
class ASNetRecipe:
    """Everything that makes one shipped ASNet (see the module docstring); ``build_batches`` limits each
    build pass to that many batches of 500 images (``None``: the whole training split)."""

    base: str
    layer: str
    rank: int = 50
    degree: int = 2
    projection: str = "active_subspace"
    build_passes: int = 2
    ridges_per_sample: tuple[float, ...] = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)
    target_reduction: float | None = 11.0
    finetune: FinetuneConfig = field(default_factory=lambda: RECIPE_FINETUNE)
    seed: int = 0
    build_batches: int | None = None
    validation: int = 0
    macs_reduction: float | None = None

    def __post_init__(self) -> None:
        if self.projection not in PROJECTIONS:
            raise ValueError(f"projection must be one of {PROJECTIONS}, got {self.projection!r}")
        for name in ("target_reduction", "macs_reduction"):
            if getattr(self, name) is not None and not getattr(self, name) > 1:
                raise ValueError(f"{name} must be > 1 (e.g. 11.0) or None, got {getattr(self, name)!r}")
        if self.macs_reduction is not None and not self.finetune.l1_pre > 0:
            raise ValueError("macs_reduction needs a sparse pre-model (its convolutions hold the MACs): give the "
                             f"finetune configuration l1_pre > 0, got {self.finetune.l1_pre!r}")


@dataclass(frozen=True)
class PruningRecipe:
    """The baseline without an ASNet: the base network's Conv/Linear weights globally magnitude-pruned
    (``torch.nn.utils.prune.global_unstructured``) to ``params / target_reduction`` nonzeros, then
    distilled from the unpruned network with the masks fixed, for ``kd_epochs + sparse_epochs`` epochs of
    ``finetune`` (the same budget as an ASNet recipe with that configuration).

    The magnitudes are compared after dividing each layer's by its root mean square: a convolution
    followed by batch norm computes the same function at any scale of its weights, so raw magnitudes
    are not comparable across layers (on the shipped VGG raw global pruning to 11x leaves 53, 24 and 18
    of the 147,456 weights of conv13-15 and the network at chance)."""

    base: str
    target_reduction: float = 11.0
    finetune: FinetuneConfig = field(default_factory=lambda: RECIPE_FINETUNE)
    seed: int = 0
    validation: int = 0

    def __post_init__(self) -> None:
        if not self.target_reduction > 1:
            raise ValueError(f"target_reduction must be > 1 (e.g. 11.0), got {self.target_reduction!r}")


@dataclass(frozen=True)
class ChannelPruningRecipe:
    """The structured baseline: whole channels removed from the base network by Torch-Pruning's group
    L2-magnitude criterion (``torch_pruning.pruner.MetaPruner`` with ``GroupMagnitudeImportance(p=2)``, the
    same fraction of channels in every conv layer, the classifier's outputs kept), the fraction found by
    bisection as the smallest that leaves at most ``1 / target_reduction`` of the base network's parameters
    (``match="params"``) or MACs (``match="macs"``), or, with ``cut`` instead of ``target_reduction``, at most the
    dense count of an ASNet of the default ``r`` and ``p`` at that cut; the smaller dense network is then distilled
    from the unpruned one for ``kd_epochs + sparse_epochs`` epochs of ``finetune``, as :class:`PruningRecipe`."""

    base: str
    target_reduction: float | None = 11.0
    match: str = "params"
    finetune: FinetuneConfig = field(default_factory=lambda: RECIPE_FINETUNE)
    seed: int = 0
    validation: int = 0
    cut: str | None = None

    def __post_init__(self) -> None:
        if (self.target_reduction is None) == (self.cut is None):
            raise ValueError("give either target_reduction (e.g. 11.0) or cut (match the dense count of the ASNet "
                             f"at that cut), not both or neither; got {self.target_reduction!r} and {self.cut!r}")
        if self.target_reduction is not None and not self.target_reduction > 1:
            raise ValueError(f"target_reduction must be > 1 (e.g. 11.0), got {self.target_reduction!r}")
        if self.match not in CHANNEL_MATCH:
            raise ValueError(f"match must be one of {CHANNEL_MATCH}, got {self.match!r}")


BASELINE_FINETUNE = dataclasses.replace(RECIPE_FINETUNE, kd_epochs=6, sparse_epochs=8, l1_growth=2.0)
"""The shorter budget (14 epochs) at which the ASNet and its baselines are compared side by side: 6
distillation and 8 sparse epochs, the l1 strength doubling every sparse epoch so that every projection
reaches the nonzero target within the budget."""

GRADUAL_FINETUNE = dataclasses.replace(RECIPE_FINETUNE, sparse_epochs=60, l1_growth=1.25)
"""The longer sparse phase of the cut-conv6 ASNet: 60 sparse epochs, the l1 strength growing 1.25x per epoch
(a gentler path to the nonzero target), then the remaining epochs with the zero pattern fixed."""

_VGG = "vgg19_bn_w025_cifar10"
VALIDATION_IMAGES = 5000
"""Training images held out (500 per class, seeded) by the ``..._val14`` recipes for their choices."""
VALIDATION_CUTS = ("conv5", "conv6")
"""The cuts among which :func:`select` chooses the ``..._val14`` ASNet on the validation split."""
RECIPES: dict[str, ASNetRecipe | PruningRecipe | ChannelPruningRecipe] = {
    f"{_VGG}_asnet_conv5": ASNetRecipe(_VGG, "conv5"),
    f"{_VGG}_asnet_conv6": ASNetRecipe(_VGG, "conv6", target_reduction=10.0, finetune=GRADUAL_FINETUNE),
    **{f"{_VGG}_{tag}_{cut}_val14": ASNetRecipe(_VGG, cut, projection=projection, finetune=BASELINE_FINETUNE,
                                                 validation=VALIDATION_IMAGES)
       for cut in VALIDATION_CUTS for tag, projection in (("asnet", "active_subspace"), ("pca", "pca"),
                                                          ("random", "random"))},
    **{f"{_VGG}_channels_macs_{cut}_val14": ChannelPruningRecipe(_VGG, None, "macs", finetune=BASELINE_FINETUNE,
                                                                 validation=VALIDATION_IMAGES, cut=cut)
       for cut in VALIDATION_CUTS},
    f"{_VGG}_pruned_val14": PruningRecipe(_VGG, finetune=BASELINE_FINETUNE, validation=VALIDATION_IMAGES),
    f"{_VGG}_channels_params_val14": ChannelPruningRecipe(_VGG, 11.0, "params", finetune=BASELINE_FINETUNE,
                                                          validation=VALIDATION_IMAGES),
}
"""The shipped ASNets (``..._asnet_conv6`` with the longer sparse phase :data:`GRADUAL_FINETUNE` at 10x, and
``..._asnet_conv5`` with :data:`RECIPE_FINETUNE` at 11x), and the equal-budget comparison with every choice on a
validation split (``..._val14``): the ASNet at each candidate cut (:func:`select` keeps the one with the higher
validation accuracy), its PCA and random projections at each cut, magnitude pruning and channel pruning at the
ASNet's nonzero parameters (11x), and channel pruning at the dense MACs of the ASNet at each cut."""
CHOSEN_CUT = "conv6"
"""The cut that :func:`select` chose for the shipped ``..._val14`` ASNet (its manifest's ``selection``)."""
PAPER_PARAMS_X = 23.98
"""The abstract's parameter reduction of the sparse ASNet of VGG-19 on CIFAR-10 (original / nonzero)."""
PAPER_MACS_X = 7.30
"""The abstract's MAC (FLOP) reduction of the same network (original dense / sparse MACs)."""
SPARSE_PRE_FINETUNE = dataclasses.replace(BASELINE_FINETUNE, l1_pre=10 * BASELINE_FINETUNE.l1)
""":data:`BASELINE_FINETUNE` with the pre-model's convolutions sparsified too, their l1 strength ten times that of
the AS and PCE layers (the paper's ratio of per-step shrinkage: equal l1, learning rates 1e-4 against 1e-5)."""
FRONTIER_REDUCTIONS = (11.0, 16.0, PAPER_PARAMS_X)
"""The nonzero-parameter targets of the accuracy-compression frontier (the last one the paper's)."""
RECIPES.update({
    **{f"{_VGG}_asnet_{CHOSEN_CUT}_sparsepre_{round(x)}x_val14": ASNetRecipe(
        _VGG, CHOSEN_CUT, target_reduction=x, macs_reduction=round(x * PAPER_MACS_X / PAPER_PARAMS_X, 2),
        finetune=SPARSE_PRE_FINETUNE, validation=VALIDATION_IMAGES) for x in FRONTIER_REDUCTIONS},
    **{f"{_VGG}_pruned_{round(x)}x_val14": PruningRecipe(_VGG, x, finetune=BASELINE_FINETUNE,
                                                         validation=VALIDATION_IMAGES)
       for x in FRONTIER_REDUCTIONS[1:]},
})
"""The frontier at the budget of :data:`BASELINES`: the ASNet at the chosen cut with its pre-model sparsified too
(:data:`SPARSE_PRE_FINETUNE`), at each of :data:`FRONTIER_REDUCTIONS` times fewer nonzero parameters and MACs reduced
in the paper's proportion (7.30 / 23.98 of the parameter target; the last point is the paper's,
:data:`PAPER_PARAMS_X` and :data:`PAPER_MACS_X`), and magnitude pruning (the ``..._pruned_val14`` network at 11x,
and these at 16x and 24x)."""
FRONTIER = {"ASNet, sparse pre-model": [f"{_VGG}_asnet_{CHOSEN_CUT}_sparsepre_{round(x)}x_val14"
                                        for x in FRONTIER_REDUCTIONS],
            "magnitude pruning": [f"{_VGG}_pruned_val14"] + [f"{_VGG}_pruned_{round(x)}x_val14"
                                                              for x in FRONTIER_REDUCTIONS[1:]]}
"""The networks of each frontier, from the least to the most compressed."""
SHIPPED_ASNETS = [f"{_VGG}_asnet_conv6", f"{_VGG}_asnet_conv5"]
"""The shipped ASNets, in the order notebook 05 shows them (the first carries the report's claims)."""
BASELINES = [f"{_VGG}_asnet_{CHOSEN_CUT}_val14", f"{_VGG}_pca_{CHOSEN_CUT}_val14", f"{_VGG}_random_{CHOSEN_CUT}_val14",
             f"{_VGG}_pruned_val14", f"{_VGG}_channels_params_val14", f"{_VGG}_channels_macs_{CHOSEN_CUT}_val14"]
"""The equal-budget comparison, every choice on the validation split: the ASNet chosen by :func:`select` first,
then the PCA and random projections at its cut, the magnitude- and channel-pruned VGGs at its nonzero parameters and
the channel-pruned VGG at its dense MACs."""



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


def run(name_or_recipe: str | ASNetRecipe | PruningRecipe | ChannelPruningRecipe, out: str | Path, *, device: str | torch.device = "cpu",
        progress: bool = True) -> dict[str, Any]:
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
    unknown = [name for name in candidates if name not in RECIPES]
    if unknown:
        raise ValueError(f"unknown recipe(s) {unknown}; the recipes are {sorted(RECIPES)}")
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


__all__ = ["ASNetRecipe", "BASELINES", "BASELINE_FINETUNE", "CHOSEN_CUT", "ChannelPruningRecipe", "FRONTIER",
           "FRONTIER_REDUCTIONS", "PAPER_MACS_X", "PAPER_PARAMS_X", "PROJECTIONS", "PruningRecipe", "RECIPES",
           "RECIPE_FINETUNE", "SHIPPED_ASNETS", "SPARSE_PRE_FINETUNE", "VALIDATION_CUTS", "VALIDATION_IMAGES",
           "directions", "run", "select"]
