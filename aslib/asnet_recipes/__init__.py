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

Where each part lives: the recipe types, budgets and the named table in :mod:`~aslib.asnet_recipes.recipes`,
executing and choosing in :mod:`~aslib.asnet_recipes.runs`. Every name is also available from
``aslib.asnet_recipes``.
"""
from .recipes import *
from .runs import *
