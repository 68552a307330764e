"""The recipe types (:class:`ASNetRecipe`, :class:`PruningRecipe`, :class:`ChannelPruningRecipe`, on what they share,
:class:`CompressionRecipe`), their fine-tuning
budgets and the named table :data:`RECIPES` of the shipped ASNets, their baselines and the frontier; executing a
recipe lives in :mod:`aslib.asnet_recipes.runs`."""
from __future__ import annotations

import dataclasses
from dataclasses import KW_ONLY, dataclass, field

from ..contracts import Count, CountOrZero, NonNegativeReal, PositiveReal, contract
from ..finetuning import FinetuneConfig
from ..pruning import CHANNEL_MATCH

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
between which :func:`select` chose on the validation split; the chosen one ships with the record."""
VALIDATION_IMAGES = 5000
"""Training images held out (500 per class, seeded) by the ``..._val14`` recipes for their choices."""
VALIDATION_CUTS = ("conv5", "conv6")
"""The cuts among which :func:`select` chooses the ``..._val14`` ASNet on the validation split."""
RECIPES: dict[str, CompressionRecipe] = {
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
"""The shipped ASNets (``..._asnet_conv6`` with the longer sparse phase :data:`GRADUAL_FINETUNE` at 10x, and
``..._asnet_conv5`` with :data:`RECIPE_FINETUNE` at 11x; both hold out the validation split, so their histories never
read the test split), and the equal-budget comparison with every choice on a
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

__all__ = ["ASNetRecipe", "BASELINES", "BASELINE_FINETUNE", "CHOSEN_CUT", "ChannelPruningRecipe", "CompressionRecipe",
           "DEMO_FINETUNE", "FRONTIER", "FRONTIER_REDUCTIONS", "GRADUAL_FINETUNE", "PAPER_MACS_X", "PAPER_PARAMS_X",
           "PROJECTIONS", "PruningRecipe", "RECIPES", "RECIPE_FINETUNE", "SCHEDULE_CANDIDATES", "SHIPPED_ASNETS",
           "SPARSE_PRE_FINETUNE", "VALIDATION_CUTS", "VALIDATION_IMAGES"]
