"""Universal attacks: the recursive active-subspace attack (Algorithm 4.1), UAP with DeepFool, SGD-UAP,
and two controls (a random direction and a low-frequency checkerboard), with the measures that judge them.

Units and conventions:

* Every image tensor is in the dataset's *normalised* units, shape ``(N, C, H, W)`` (any
  ``(N, *shape)`` works); a universal perturbation ``v`` has shape ``x.shape[1:]`` and is added to
  every sample. The noise level ``xi`` is a norm of ``v`` in normalised units (l2 by default, as in
  the paper; ``norm="linf"`` gives the l-infinity variant).
* Every function puts the model in eval mode and restores each module's mode afterwards, also
  on error; parameters and their ``.grad`` are never touched (gradients are taken with respect to
  the inputs only). Computations are batched and run on the device of the inputs, which must be
  the model's device.

Where things live: :mod:`~aslib.attacks.common` (validation, projection, :class:`AttackResult`,
the registry :data:`ATTACKS` and :func:`craft`), :mod:`~aslib.attacks.evaluation` (attack ratio,
fooling rate, norms), :mod:`~aslib.attacks.as_attack` (Algorithm 4.1),
:mod:`~aslib.attacks.deepfool_batched`, :mod:`~aslib.attacks.uap` (UAP),
:mod:`~aslib.attacks.sgd_uap` (SGD-UAP), :mod:`~aslib.attacks.random_direction` and
:mod:`~aslib.attacks.checkerboard` (the controls). Sweeps and
transfer studies are in :mod:`aslib.studies`; vectors shipped with the package are in :mod:`aslib.store.vectors`.
"""
from aslib.attacks.as_attack import DIRECTION_SOLVERS, as_attack, dominant_direction
from aslib.attacks.checkerboard import checkerboard_attack, checkerboard_perturbation
from aslib.attacks.common import ATTACKS, NORMS, PRECISIONS, AttackResult, attack_seed, craft, project
from aslib.attacks.deepfool_batched import DEEPFOOL_MARGIN, DeepFoolResult, deepfool
from aslib.attacks.evaluation import attack_ratio, fooling_rate, perturbation_norms, valid_bounds
from aslib.attacks.random_direction import random_attack, random_perturbation
from aslib.attacks.sgd_uap import sgd_uap
from aslib.attacks.uap import UAP_VARIANTS, uap

METHODS = ("as", "uap", "sgd_uap", "random", "checkerboard")
"""The registered methods in the order the studies run them."""

BASELINES = METHODS[1:]
"""What the AS attack is compared against: the attacks from the literature, then the controls."""

CONTROLS = ("random", "checkerboard")
"""The controls: vectors of the same norm that search nothing (random) or only choose a sign (checkerboard)."""

__all__ = ["ATTACKS", "AttackResult", "BASELINES", "CONTROLS", "DEEPFOOL_MARGIN", "DIRECTION_SOLVERS",
           "DeepFoolResult", "METHODS", "NORMS", "PRECISIONS", "UAP_VARIANTS", "as_attack", "attack_ratio",
           "attack_seed", "checkerboard_attack", "checkerboard_perturbation", "craft", "deepfool",
           "dominant_direction", "fooling_rate", "perturbation_norms", "project", "random_attack",
           "random_perturbation", "sgd_uap", "uap", "valid_bounds"]
