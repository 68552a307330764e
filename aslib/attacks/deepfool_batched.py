"""DeepFool (Moosavi-Dezfooli, Fawzi & Frossard 2016), batched over samples and candidate classes.

DeepFool is the per-sample step inside UAP: it walks from ``x`` to the nearest linearised
decision boundary. The l-infinity variant uses the dual l1 norm and steps along ``sign(w)``.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from aslib._utils import NonFiniteError, forward_logits, model_mode
from aslib.attacks.common import Images, Norm, check_images, check_model_inputs
from aslib.contracts import Count, NonNegativeReal, contract

DEEPFOOL_MARGIN = 1e-4
"""Extra distance DeepFool adds to each step so that the point crosses the boundary (as in DeepFool)."""


class DeepFoolResult(NamedTuple):
    """Per-sample DeepFool output (unpacks as ``perturbation, iterations, converged``).

    Attributes:
        perturbation: ``(B, C, H, W)`` normalised units, including the overshoot factor.
        iterations: ``(B,)`` int64 steps taken per sample.
        converged: ``(B,)`` bool, the label of ``x + perturbation`` differs from the clean label.
    """

    perturbation: torch.Tensor
    iterations: torch.Tensor
    converged: torch.Tensor


def _candidate_gradients(logits: torch.Tensor, point: torch.Tensor, candidates: torch.Tensor,
                         rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logit gaps ``f_k = f_{c_k} - f_{c_0}`` ``(n, k-1)`` and their input gradients ``(n, k-1, d)`` for ``rows``.

    One backward per candidate class; each covers all rows at once.
    """
    gaps = logits.gather(1, candidates[:, 1:]) - logits.gather(1, candidates[:, :1])
    selected = gaps[rows]
    grads = []
    for j in range(selected.shape[1]):
        (grad,) = torch.autograd.grad(selected[:, j].sum(), point, retain_graph=j + 1 < selected.shape[1])
        grads.append(grad[rows].flatten(1))
    return selected.detach(), torch.stack(grads, dim=1)


def _deepfool_step(gaps: torch.Tensor, grads: torch.Tensor, norm: str) -> torch.Tensor:
    """The DeepFool step ``(n, d)`` toward the nearest linearised boundary (dual norm for linf)."""
    dual = grads.abs().sum(2) if norm == "linf" else grads.norm(dim=2)
    distance = torch.where(dual > 0, gaps.abs() / dual.clamp_min(torch.finfo(dual.dtype).tiny), math.inf)
    nearest = distance.argmin(1)
    pert = distance.gather(1, nearest[:, None])
    w = grads[torch.arange(len(grads), device=grads.device), nearest]
    direction = w.sign() if norm == "linf" else w / w.norm(dim=1, keepdim=True).clamp_min(torch.finfo(w.dtype).tiny)
    return torch.where(torch.isfinite(pert), (pert + DEEPFOOL_MARGIN) * direction, 0.0)


@contract
def run_deepfool(model: nn.Module, x: Images, num_candidates: Count, overshoot: NonNegativeReal, max_iter: Count,
                 norm: Norm) -> DeepFoolResult:
    """DeepFool for a model already in eval mode (the UAP inner loop): the declared contract only, none of
    :func:`deepfool`'s checks of the model's device and dtype, and the model's mode is the caller's."""
    with torch.no_grad():
        clean = forward_logits(model, x)
    if clean.shape[1] < 2:
        raise ValueError(f"DeepFool needs a model with at least 2 outputs, got {clean.shape[1]}")
    candidates = clean.topk(min(num_candidates, clean.shape[1]), dim=1).indices
    total = torch.zeros_like(x)
    iterations = torch.zeros(len(x), dtype=torch.long, device=x.device)
    converged = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    active = torch.arange(len(x), device=x.device)
    while len(active):
        point = (x[active] + (1 + overshoot) * total[active]).requires_grad_(True)
        with torch.enable_grad():
            logits = model(point)
            changed = logits.argmax(1) != candidates[active, 0]
            converged[active[changed]] = True
            stepping = ~changed & (iterations[active] < max_iter)
            if not stepping.any():
                break
            gaps, grads = _candidate_gradients(logits, point, candidates[active], stepping)
        if not torch.isfinite(grads).all():
            raise NonFiniteError("non-finite (NaN/inf) gradients in DeepFool: check the model and inputs")
        active = active[stepping]
        total[active] += _deepfool_step(gaps, grads, norm).view(len(active), *x.shape[1:])
        iterations[active] += 1
    return DeepFoolResult((1 + overshoot) * total, iterations, converged)


@contract
def check_deepfool_options(num_candidates: Count, overshoot: NonNegativeReal, max_iter: Count) -> None:
    """The ranges DeepFool's own settings must lie in (shared with UAP, which calls DeepFool): the contract, and
    at least two candidates (the clean label and one other)."""
    if num_candidates < 2:
        raise ValueError(f"num_candidates must be >= 2 (the clean label and at least one other), got {num_candidates}")


@contract
def deepfool(model: nn.Module, x: Images, *, norm: Norm = "l2", num_candidates: Count = 10,
             overshoot: NonNegativeReal = 0.02, max_iter: Count = 50) -> DeepFoolResult:
    """Batched DeepFool over samples and candidate classes (a per-sample, not universal, attack).

    For each sample the candidates are the ``num_candidates`` largest clean logits (the first is
    the clean label). Each iteration runs one forward of the still-active samples at
    ``x + (1 + overshoot) * r`` and one backward per candidate class, steps toward the nearest
    linearised boundary ``|f_k| / ||w_k||`` (``||.||_1``, the dual norm, for ``norm="linf"``,
    with step ``sign(w_k)``) plus a margin of :data:`DEEPFOOL_MARGIN`, and stops a sample once its
    label changes.

    Args:
        x: ``(B, C, H, W)`` normalised images.

    Returns:
        :class:`DeepFoolResult` ``(perturbation, iterations, converged)``.
    """
    check_images(x)
    check_model_inputs(model, x)
    check_deepfool_options(num_candidates, overshoot, max_iter)
    with model_mode(model):
        return run_deepfool(model, x.detach(), num_candidates, overshoot, max_iter, norm)
