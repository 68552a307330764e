"""The recursive active-subspace universal attack (Algorithm 4.1 of the paper).

The attack direction at each step is the top active direction of the *input layer*: the top
right singular vector of the matrix of per-sample input gradients, found by the same solver as
every other active subspace of the kit (:func:`aslib.linalg.subspace.top_directions`).

Deliberate differences from the authors' code: the dominant direction is an exact SVD in
float64 by default (theirs is a rank-1 randomized SVD without power iterations); ``patience``
stops after that many non-improving iterations (theirs after one more).

l-infinity variant (not in the paper): the attack steps along ``sign(d)`` (the steepest
l-infinity direction for the dominant singular vector ``d``) with first step ``2 xi`` and
projects by clamping to ``[-xi, xi]``.
"""
from __future__ import annotations

import time

from typing import Literal, get_args

import torch
from jaxtyping import Float
from torch import Tensor, nn

from aslib._utils import chunks, model_mode
from aslib.attacks.common import (AttackResult, Images, Labels, Norm, Precision, check_precision, labels_of, _project,
    register, rescale, validate)
from aslib.contracts import Count, CountOrZero, PositiveReal, contract
from aslib.linalg.subspace import top_directions
from aslib.nets.gradients import input_gradients

DirectionSolver = Literal["exact", "randomized", "authors"]
DIRECTION_SOLVERS = get_args(DirectionSolver)
"""The solvers of :func:`dominant_direction` (``solver=``)."""


@contract
def dominant_direction(grads: Float[Tensor, "m d"], *, solver: DirectionSolver = "exact", seed: CountOrZero = 0,
                       oversample: CountOrZero = 5, power_iters: CountOrZero = 4) -> Tensor:
    """Unit top right singular vector ``(d,)`` of the gradient matrix ``grads`` ``(m, d)``.

    Computed in float64 by :func:`aslib.linalg.subspace.top_directions`: ``solver="exact"`` is a full
    SVD, ``solver="randomized"`` a seeded ``torch.svd_lowrank`` with ``1 + oversample`` columns and
    ``power_iters`` power iterations (for very large ``d``), and ``solver="authors"`` the authors'
    direction: a rank-1 randomized SVD without oversampling or power iterations, i.e. the
    normalised ``G^T G w`` for a seeded Gaussian ``w`` (one power step). Sign convention: the
    direction has a non-negative inner product with the summed gradient, so ``+d`` increases the
    mean loss to first order.
    """
    if grads.shape[0] == 0:
        raise ValueError("grads holds no rows (m = 0): the dominant direction needs one gradient or more")
    g = grads.double()
    if solver == "authors":
        oversample, power_iters = 0, 0
    top = top_directions(g, 1, "exact" if solver == "exact" else "randomized", seed=seed, oversample=oversample,
                         power_iters=power_iters)[1][:, 0]
    if g.sum(0) @ top < 0:
        top = -top
    return top.to(grads.dtype)


@torch.no_grad()
def _candidate_predictions(model: nn.Module, x: torch.Tensor, candidates: torch.Tensor,
                           batch_size: int, precision: str) -> torch.Tensor:
    """Labels ``(k, N)`` of ``x + candidates[j]``; each chunk of samples is one forward for all k candidates."""
    k, labels = len(candidates), []
    for part in chunks(len(x), batch_size):
        inputs = (x[part].unsqueeze(0) + candidates.unsqueeze(1)).flatten(0, 1)
        labels.append(labels_of(model, inputs, precision).view(k, -1))
    return torch.cat(labels, dim=1)


def _line_search(model: nn.Module, x: torch.Tensor, y: torch.Tensor, v: torch.Tensor, d: torch.Tensor,
                 xi: float, norm: str, step_max: float, backtracks: int, previous: float,
                 batch_size: int, precision: str) -> tuple[torch.Tensor, float, torch.Tensor]:
    """Backtracking on step and sign; returns (new v, its attack ratio, mask of samples still correct).

    Trials ``P(v + s d)`` and ``P(v - s d)``, ``s = step_max, step_max/2, ...`` (``backtracks``
    trials). The better sign wins (ties go to minus); the first trial beating ``previous`` is
    accepted, and when none does the last trial is taken (as the authors' code does).
    """
    step = step_max
    for _ in range(backtracks):
        trials = torch.stack([_project(v + step * d, xi, norm), _project(v - step * d, xi, norm)])
        wrong = _candidate_predictions(model, x, trials, batch_size, precision) != y
        ratios = wrong.float().mean(1)
        pick = 0 if ratios[0] > ratios[1] else 1
        ratio = ratios[pick].item()
        if ratio > previous:
            break
        step /= 2
    return trials[pick], ratio, ~wrong[pick]


@register("as")
@contract
def as_attack(model: nn.Module, x: Images, y: Labels, xi: PositiveReal, *, norm: Norm = "l2", seed: CountOrZero = 0,
              batch_size: Count = 256, step_max: PositiveReal | None = None, max_iter: Count = 100,
              patience: Count = 10, backtracks: Count = 10, solver: DirectionSolver = "exact",
              precision: Precision = "float32") -> AttackResult:
    """Recursive active-subspace universal attack (Algorithm 4.1).

    Starting from ``v = 0``, each iteration takes the cross-entropy input gradients at ``x + v``
    of the samples still classified correctly (all samples at iteration 0), finds the dominant
    direction ``d`` (top right singular vector of the ``(m, d)`` gradient matrix, see
    :func:`dominant_direction`) and runs a backtracking line search on step and sign: trials
    ``P(v + s d)`` and ``P(v - s d)`` for ``s = step_max, step_max/2, ...`` (at most
    ``backtracks`` trials), both signs evaluated on all ``N`` samples in one batched forward; the
    sign with the higher attack ratio wins (ties go to minus) and the first trial beating the
    previously accepted ratio is accepted; when none does, the last trial is taken anyway, as in
    the authors' code. The best ``v`` seen is kept. The loop stops after ``max_iter``
    iterations, after ``patience`` consecutive iterations that do not improve the best ratio
    (the authors' code waits for one more), or when every sample is misclassified.

    ``norm="linf"`` uses the l-infinity steepest direction ``sign(d)`` and clamps to ``[-xi, xi]``.

    Args:
        model: classifier returning logits ``(N, K)``.
        x: crafting images ``(N, C, H, W)``, normalised units; y: true labels ``(N,)``.
        xi: noise level, a norm of ``v`` in normalised units.
        norm, seed, batch_size: as every attack (:mod:`aslib.attacks.common`); the seed seeds the
            randomized solver (iteration ``i`` uses ``seed + i``).
        step_max: first trial step; default ``xi**2`` (l2, as the authors) or ``2 * xi`` (linf,
            enough to flip any coordinate across the box).
        max_iter, patience, backtracks: iteration, no-progress and line-search limits.
        solver: ``"exact"``, ``"randomized"`` or ``"authors"`` (see :func:`dominant_direction`).
        precision: of the line-search forwards, ``"float32"`` or a reduced precision (see
            :data:`aslib.attacks.PRECISIONS`); gradients are always float32.

    Returns:
        :class:`AttackResult` whose ``vector`` is the best ``v`` rescaled to norm exactly ``xi``
        and whose ``history`` holds the crafting-set attack ratio of the accepted ``v`` per iteration.
    """
    validate(model, x, y, xi, norm, batch_size)
    check_precision(precision, x.device)
    step = (xi ** 2 if norm == "l2" else 2 * xi) if step_max is None else step_max
    start = time.perf_counter()
    x, y = x.detach(), y.detach()
    with model_mode(model):
        v = torch.zeros_like(x[0])
        correct = torch.ones(len(x), dtype=torch.bool, device=x.device)
        previous, best, v_best, stall, history = -1.0, -1.0, v, 0, []
        for iteration in range(max_iter):
            grads = input_gradients(model, x[correct] + v, y[correct], batch_size=batch_size)
            d = dominant_direction(grads, solver=solver, seed=seed + iteration).view_as(v)
            if norm == "linf":
                d = d.sign()
            v, previous, correct = _line_search(model, x, y, v, d, xi, norm, step, backtracks, previous, batch_size,
                                                precision)
            history.append(previous)
            if previous > best:
                best, v_best, stall = previous, v, 0
            else:
                stall += 1
            if stall >= patience or not correct.any():
                break
    return AttackResult(rescale(v_best, xi, norm), history, len(history), time.perf_counter() - start,
                        "as", float(xi), norm)
