"""Universal adversarial perturbations (UAP, Moosavi-Dezfooli et al. 2017): the paper's baseline.

Two variants: ``"original"`` (the published algorithm) and ``"authors"`` (the loop of the
active-subspace paper's code). Both fold DeepFool steps computed in mini-batches of
``minibatch`` samples; ``minibatch=1`` is exactly the sequential algorithm.
"""
from __future__ import annotations

import time
from typing import Literal, get_args

import torch
from torch import nn

from aslib._utils import model_mode
from aslib.attacks.common import (AttackResult, Images, Labels, Norm, Precision, check_precision, predict, _project,
    register, rescale, validate)
from aslib.attacks.deepfool_batched import check_deepfool_options, run_deepfool
from aslib.contracts import Count, CountOrZero, NonNegativeReal, PositiveReal, Proportion, contract

UapVariant = Literal["original", "authors"]
UAP_VARIANTS = get_args(UapVariant)
"""The variants of :func:`uap`: the published algorithm and the loop of the active-subspace paper's code."""


def _batch_original(model: nn.Module, x: torch.Tensor, clean: torch.Tensor, batch: torch.Tensor,
                    v: torch.Tensor, xi: float, norm: str, deepfool_args: tuple, precision: str) -> torch.Tensor:
    """One mini-batch of the original UAP: DeepFool on the unfooled samples at the current ``v``, folded in order."""
    batch = batch[predict(model, x[batch], v, precision=precision) == clean[batch]]
    if not len(batch):
        return v
    steps, _, converged = run_deepfool(model, x[batch] + v, *deepfool_args, norm)
    changed = False
    for i in converged.nonzero().flatten().tolist():
        sample = batch[i:i + 1]
        if changed and predict(model, x[sample], v, precision=precision) != clean[sample]:
            continue
        v, changed = _project(v + steps[i], xi, norm), True
    return v


def _batch_authors(model: nn.Module, x: torch.Tensor, batch: torch.Tensor, v: torch.Tensor, xi: float,
                   norm: str, deepfool_args: tuple) -> torch.Tensor:
    """One mini-batch of the authors' UAP: DeepFool on every sample, kept when it took < max_iter - 1 iterations."""
    num_candidates, overshoot, max_iter = deepfool_args
    steps, iterations, _ = run_deepfool(model, x[batch] + v, num_candidates, overshoot, max_iter, norm)
    for i in (iterations < max_iter - 1).nonzero().flatten().tolist():
        v = _project(v + steps[i], xi, norm)
    return v


@register("uap")
@contract
def uap(model: nn.Module, x: Images, y: Labels, xi: PositiveReal, *, norm: Norm = "l2", seed: CountOrZero = 0,
        batch_size: Count = 256, minibatch: Count = 32, max_passes: Count = 10, target_fooling: Proportion = 0.8,
        overshoot: NonNegativeReal = 0.02, num_candidates: Count = 10, df_max_iter: Count | None = None,
        variant: UapVariant = "original", precision: Precision = "float32") -> AttackResult:
    """Universal adversarial perturbation, batched.

    ``variant="original"``: each pass visits the samples in a fresh seeded random order, in
    mini-batches of ``minibatch``. For a mini-batch, the samples not fooled by the current ``v``
    (prediction at ``x+v`` equal to the clean prediction) get one batched DeepFool call at
    ``x_i + v``; then, in visiting order, each converged step ``r_i`` is folded in as
    ``v <- P(v + r_i)`` provided ``x_i + v`` (with the ``v`` updated so far) is still not fooled.
    DeepFool steps are thus computed at the ``v`` of the start of their mini-batch; with
    ``minibatch=1`` this is exactly the sequential algorithm. The pass ends with the fooling
    rate (against clean predictions) on all samples; stop when it reaches ``target_fooling``.
    ``df_max_iter`` defaults to 50 (DeepFool's default).

    ``variant="authors"``: fixed order, no shuffling, DeepFool on every sample (fooled or not) at
    ``x_i + v``, a step kept only when DeepFool took fewer than ``df_max_iter - 1`` iterations
    (``df_max_iter`` defaults to 10, so < 9), and the stopping rate is the attack ratio against
    the true labels ``y``. Mini-batching is as above.

    Both variants rescale the final ``v`` to norm exactly ``xi`` (unless it is zero).

    Args:
        x: crafting images ``(N, C, H, W)``, normalised units; y: true labels ``(N,)``.
        xi: noise level (norm of ``v`` in normalised units).
        norm, seed, batch_size: as every attack; the seed shuffles the original variant's passes.
        minibatch: samples per batched DeepFool call (an algorithmic setting, unlike ``batch_size``).
        max_passes: passes over the data; target_fooling: the stopping rate (0.8 = delta 0.2).
        overshoot, num_candidates, df_max_iter: DeepFool settings.
        precision: of the forwards that check which samples are fooled, ``"float32"`` or a reduced
            precision (see :data:`aslib.attacks.PRECISIONS`); DeepFool itself runs in float32.

    Returns:
        :class:`AttackResult`; ``history`` holds the stopping rate after each pass.
    """
    validate(model, x, y, xi, norm, batch_size)
    check_precision(precision, x.device)
    df_iter = (50 if variant == "original" else 10) if df_max_iter is None else df_max_iter
    check_deepfool_options(num_candidates, overshoot, df_iter)
    deepfool_args = (num_candidates, overshoot, df_iter)
    start = time.perf_counter()
    x, y = x.detach(), y.detach()
    generator = torch.Generator().manual_seed(seed)
    with model_mode(model):
        clean = predict(model, x, None, batch_size, precision=precision)
        reference = clean if variant == "original" else y
        v, history = torch.zeros_like(x[0]), []
        for _ in range(max_passes):
            order = torch.randperm(len(x), generator=generator) if variant == "original" else torch.arange(len(x))
            for batch in order.to(x.device).split(minibatch):
                if variant == "original":
                    v = _batch_original(model, x, clean, batch, v, xi, norm, deepfool_args, precision)
                else:
                    v = _batch_authors(model, x, batch, v, xi, norm, deepfool_args)
            history.append((predict(model, x, v, batch_size, precision=precision) != reference).float().mean().item())
            if history[-1] >= target_fooling:
                break
    return AttackResult(rescale(v, xi, norm), history, len(history), time.perf_counter() - start,
                        "uap", float(xi), norm)
