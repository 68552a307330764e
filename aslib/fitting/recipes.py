"""The one registry of named recipes, :data:`RECIPES`: networks trained from scratch (:class:`TrainingRecipe`, run by
:func:`aslib.fitting.training.train`) and networks compressed from a trained one (:class:`ASNetRecipe`,
:class:`PruningRecipe`, :class:`ChannelPruningRecipe`, on what they share, :class:`CompressionRecipe`; run by
:func:`aslib.fitting.runs.run`), with the fine-tuning budgets of the shipped ASNets, their baselines and the
frontier. ``aslib train --recipe NAME`` runs any of them."""
from __future__ import annotations

import dataclasses
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Literal, get_args

from aslib.contracts import Count, CountOrZero, NonNegativeReal, PositiveReal, Proportion, contract
from aslib.fitting.finetuning import FinetuneConfig
from aslib.nets.pruning import CHANNEL_MATCH

Schedule = Literal["onecycle", "step"]
"""A learning-rate schedule of a :class:`TrainingRecipe`: one-cycle (cosine annealing) or the paper's steps."""
SCHEDULES = get_args(Schedule)
"""The learning-rate schedules of a :class:`TrainingRecipe`."""


@contract
@dataclass(frozen=True)
class TrainingRecipe:
    """Everything that defines a training run (hyper-parameters in the optimiser's units).

    ``swa_epochs`` > 0 adds stochastic weight averaging after the schedule: that many more
    epochs of SGD at the constant rate ``swa_lr`` (a fresh optimiser), averaging the weights at
    the end of each, then batch-norm statistics recomputed for the average
    (``torch.optim.swa_utils``). The averaged network is the result.
    """

    arch: str
    dataset: str
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    epochs: Count = 30
    batch_size: Count = 128
    lr: PositiveReal = 0.1
    momentum: NonNegativeReal = 0.9
    weight_decay: NonNegativeReal = 5e-4
    schedule: Schedule = "onecycle"
    label_smoothing: Proportion = 0.0
    seed: int = 0
    swa_epochs: CountOrZero = 0
    swa_lr: PositiveReal = 0.01

    def __post_init__(self) -> None:
        if self.label_smoothing == 1:
            raise ValueError("label_smoothing must be below 1 (1 makes every target uniform), got 1; e.g. 0.1")


TRAINING_RECIPES = {
    "vgg19_bn_w025_cifar10": TrainingRecipe("vgg19_bn", "cifar10", {"width": 0.25}, epochs=120, lr=0.1,
                                            weight_decay=2.5e-4, label_smoothing=0.1, swa_epochs=8, swa_lr=0.01),
    "resnet20_cifar10": TrainingRecipe("resnet20", "cifar10", epochs=60, lr=0.2, weight_decay=5e-4),
    "lenet_fashion_mnist": TrainingRecipe("lenet", "fashion_mnist", epochs=8, lr=0.05, weight_decay=5e-4),
    "smoke_lenet_fashion_mnist": TrainingRecipe("lenet", "fashion_mnist", epochs=1, lr=0.05),
    # GPU presets of the paper's networks (documented, not shipped).
    "paper_vgg19_bn_cifar10": TrainingRecipe("vgg19_bn", "cifar10", epochs=164, lr=0.1, schedule="step",
                                             weight_decay=5e-4),
    "paper_resnet110_cifar10": TrainingRecipe("resnet110", "cifar10", epochs=200, lr=0.1, schedule="step",
                                              weight_decay=1e-4),
    "paper_vgg19_bn_cifar100": TrainingRecipe("vgg19_bn", "cifar100", {"num_classes": 100}, epochs=164, lr=0.1,
                                              schedule="step"),
    "paper_resnet110_cifar100": TrainingRecipe("resnet110", "cifar100", {"num_classes": 100}, epochs=200, lr=0.1,
                                               schedule="step", weight_decay=1e-4),
}
"""The networks trained from scratch: the three shipped ones (CPU-sized), a one-epoch smoke run and the GPU presets
of the paper's networks (``paper_...``, documented, not shipped)."""


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


@contract
@dataclass(frozen=True)
class CompressionRecipe:
    """What every compression recipe holds: the ``base`` network (a zoo name) and, by keyword, the fine-tuning
    budget ``finetune``, the ``seed`` and the training images held out as a ``validation`` split (0: none), on which
    the run's history is measured and its choices made."""

    base: str
    _: KW_ONLY
    finetune: FinetuneConfig = field(default_factory=lambda: RECIPE_FINETUNE)
    seed: CountOrZero = 0
    validation: CountOrZero = 0


@contract
@dataclass(frozen=True)
class ASNetRecipe(CompressionRecipe):
    """Everything that makes one shipped ASNet (see the module docstring); ``build_batches`` limits each
    build pass to that many batches of 500 images (``None``: the whole training split)."""

    layer: str
    rank: Count = 50
    degree: Count = 2
    projection: str = "active_subspace"
    build_passes: Count = 2
    ridges_per_sample: tuple[NonNegativeReal, ...] = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)
    target_reduction: PositiveReal | None = 11.0
    build_batches: Count | None = None
    macs_reduction: PositiveReal | None = None

    def __post_init__(self) -> None:
        if self.projection not in PROJECTIONS:
            raise ValueError(f"projection must be one of {PROJECTIONS}, got {self.projection!r}")
        for name in ("target_reduction", "macs_reduction"):
            if getattr(self, name) is not None and not getattr(self, name) > 1:
                raise ValueError(f"{name} must be > 1 (e.g. 11.0) or None, got {getattr(self, name)!r}")
        if self.macs_reduction is not None and not self.finetune.l1_pre > 0:
            raise ValueError("macs_reduction needs a sparse pre-model (its convolutions hold the MACs): give the "
                             f"finetune configuration l1_pre > 0, got {self.finetune.l1_pre!r}")


@contract
@dataclass(frozen=True)
class PruningRecipe(CompressionRecipe):
    """The baseline without an ASNet: the base network's Conv/Linear weights globally magnitude-pruned
    (``torch.nn.utils.prune.global_unstructured``) to ``params / target_reduction`` nonzeros, then
    distilled from the unpruned network with the masks fixed, for ``kd_epochs + sparse_epochs`` epochs of
    ``finetune`` (the same budget as an ASNet recipe with that configuration).

    The magnitudes are compared after dividing each layer's by its root mean square: a convolution
    followed by batch norm computes the same function at any scale of its weights, so raw magnitudes
    are not comparable across layers (on the shipped VGG raw global pruning to 11x leaves 53, 24 and 18
    of the 147,456 weights of conv13-15 and the network at chance)."""

    target_reduction: PositiveReal = 11.0

    def __post_init__(self) -> None:
        if not self.target_reduction > 1:
            raise ValueError(f"target_reduction must be > 1 (e.g. 11.0), got {self.target_reduction!r}")


@contract
@dataclass(frozen=True)
class ChannelPruningRecipe(CompressionRecipe):
    """The structured baseline: whole channels removed from the base network by Torch-Pruning's group
    L2-magnitude criterion (``torch_pruning.pruner.MetaPruner`` with ``GroupMagnitudeImportance(p=2)``, the
    same fraction of channels in every conv layer, the classifier's outputs kept), the fraction found by
    bisection as the smallest that leaves at most ``1 / target_reduction`` of the base network's parameters
    (``match="params"``) or MACs (``match="macs"``), or, with ``cut`` instead of ``target_reduction``, at most the
    dense count of an ASNet of the default ``r`` and ``p`` at that cut; the smaller dense network is then distilled
    from the unpruned one for ``kd_epochs + sparse_epochs`` epochs of ``finetune``, as :class:`PruningRecipe`."""

    target_reduction: PositiveReal | None = 11.0
    match: str = "params"
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
(a gentler path to the nonzero target), then the remaining epochs with the zero pattern fixed; kept against
:data:`RECIPE_FINETUNE` on the validation split (:data:`SCHEDULE_CANDIDATES`)."""

_VGG = "vgg19_bn_w025_cifar10"
SCHEDULE_CANDIDATES = (f"{_VGG}_asnet_conv6", f"{_VGG}_asnet_conv6_recipe_schedule")
"""The two fine-tuning schedules of the long cut-conv6 ASNet (:data:`GRADUAL_FINETUNE`, :data:`RECIPE_FINETUNE`)
between which :func:`~aslib.fitting.runs.select` chose on the validation split; the chosen one ships with the record."""
VALIDATION_IMAGES = 5000
"""Training images held out (500 per class, seeded) by the ``..._val14`` recipes for their choices."""
VALIDATION_CUTS = ("conv5", "conv6")
"""The cuts among which :func:`~aslib.fitting.runs.select` chooses the ``..._val14`` ASNet on the validation split."""
RECIPES: dict[str, TrainingRecipe | CompressionRecipe] = {
    **TRAINING_RECIPES,
    f"{_VGG}_asnet_conv5": ASNetRecipe(_VGG, "conv5", validation=VALIDATION_IMAGES),
    f"{_VGG}_asnet_conv6": ASNetRecipe(_VGG, "conv6", target_reduction=10.0, finetune=GRADUAL_FINETUNE,
                                       validation=VALIDATION_IMAGES),
    f"{_VGG}_asnet_conv6_recipe_schedule": ASNetRecipe(_VGG, "conv6", target_reduction=10.0,
                                                       validation=VALIDATION_IMAGES),
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
"""Every named recipe: :data:`TRAINING_RECIPES`, then the shipped ASNets (``..._asnet_conv6`` with the longer sparse
phase :data:`GRADUAL_FINETUNE` at 10x, and
``..._asnet_conv5`` with :data:`RECIPE_FINETUNE` at 11x; both hold out the validation split, so their histories never
read the test split), and the equal-budget comparison with every choice on a
validation split (``..._val14``): the ASNet at each candidate cut (:func:`~aslib.fitting.runs.select` keeps the one
with the higher
validation accuracy), its PCA and random projections at each cut, magnitude pruning and channel pruning at the
ASNet's nonzero parameters (11x), and channel pruning at the dense MACs of the ASNet at each cut."""
CHOSEN_CUT = "conv6"
"""The cut that :func:`~aslib.fitting.runs.select` chose for the shipped ``..._val14`` ASNet (its manifest's
``selection``)."""
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


def compression_recipes() -> list[str]:
    """The names of the compression recipes in :data:`RECIPES` (those that :func:`aslib.fitting.runs.run` runs and
    :func:`aslib.fitting.runs.select` chooses among), in registry order."""
    return [name for name, recipe in RECIPES.items() if isinstance(recipe, CompressionRecipe)]


FRONTIER = {"ASNet, sparse pre-model": [f"{_VGG}_asnet_{CHOSEN_CUT}_sparsepre_{round(x)}x_val14"
                                        for x in FRONTIER_REDUCTIONS],
            "magnitude pruning": [f"{_VGG}_pruned_val14"] + [f"{_VGG}_pruned_{round(x)}x_val14"
                                                              for x in FRONTIER_REDUCTIONS[1:]]}
"""The networks of each frontier, from the least to the most compressed."""
SHIPPED_ASNETS = [f"{_VGG}_asnet_conv6", f"{_VGG}_asnet_conv5"]
"""The shipped ASNets, in the order notebook 05 shows them (the first carries the report's claims)."""
BASELINES = [f"{_VGG}_asnet_{CHOSEN_CUT}_val14", f"{_VGG}_pca_{CHOSEN_CUT}_val14", f"{_VGG}_random_{CHOSEN_CUT}_val14",
             f"{_VGG}_pruned_val14", f"{_VGG}_channels_params_val14", f"{_VGG}_channels_macs_{CHOSEN_CUT}_val14"]
"""The equal-budget comparison, every choice on the validation split: the ASNet chosen by
:func:`~aslib.fitting.runs.select` first,
then the PCA and random projections at its cut, the magnitude- and channel-pruned VGGs at its nonzero parameters and
the channel-pruned VGG at its dense MACs."""

__all__ = ["ASNetRecipe", "BASELINES", "BASELINE_FINETUNE", "CHOSEN_CUT", "ChannelPruningRecipe", "CompressionRecipe",
           "DEMO_FINETUNE", "FRONTIER", "FRONTIER_REDUCTIONS", "GRADUAL_FINETUNE", "PAPER_MACS_X", "PAPER_PARAMS_X",
           "PROJECTIONS", "PruningRecipe", "RECIPES", "RECIPE_FINETUNE", "SCHEDULE_CANDIDATES", "SHIPPED_ASNETS",
           "SCHEDULES", "SPARSE_PRE_FINETUNE", "Schedule", "TRAINING_RECIPES", "TrainingRecipe", "VALIDATION_CUTS",
           "VALIDATION_IMAGES", "compression_recipes"]
