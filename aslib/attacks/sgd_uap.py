"""SGD-UAP (Shafahi, Najibi, Xu, Dickerson, Davis & Goldstein, "Universal adversarial training",
AAAI 2020): stochastic gradient ascent of a clamped cross-entropy on one shared perturbation.

Each step takes a mini-batch of crafting images, computes the gradient of the mean clamped loss
``min(CE(f(x + v), y), clamp)`` with respect to ``v`` (clamping keeps samples that are already
fooled from dominating), moves ``v`` by ``step_size`` along the normalised gradient (l2) or its
sign (l-infinity) and projects back onto the ``xi`` ball. The final vector is rescaled to norm
exactly ``xi``, as every attack of the kit.
"""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from jaxtyping import Float
from torch import Tensor

from aslib._utils import check_finite, model_mode
from aslib.attacks.common import (AttackResult, Images, Labels, Norm, _project, predict, project, register, rescale,
    validate)
from aslib.contracts import Count, CountOrZero, PositiveReal, contract


@register("sgd_uap")
@contract
def sgd_uap(model: nn.Module, x: Images, y: Labels, xi: PositiveReal, *, norm: Norm = "l2", seed: CountOrZero = 0,
            batch_size: Count = 256, minibatch: Count = 32, epochs: Count = 10, step_size: PositiveReal | None = None,
            clamp: PositiveReal = 10.0, init: Float[Tensor, "*sample"] | None = None) -> AttackResult:  # noqa: F821
    """Universal perturbation by mini-batch stochastic gradient ascent (SGD-UAP).

    Args:
        x: crafting images ``(N, C, H, W)``, normalised units; y: true labels ``(N,)``.
        xi: noise level (norm of ``v`` in normalised units).
        norm, seed, batch_size: as every attack; the seed shuffles the mini-batches of each epoch.
        minibatch: samples per gradient step (an algorithmic setting, unlike ``batch_size``).
        epochs: passes over the crafting set.
        step_size: length of each step in the attack's norm; default ``xi / 4``.
        clamp: upper bound of the per-sample cross-entropy (nats).
        init: starting vector ``x.shape[1:]`` (projected onto the ``xi`` ball); default zeros.

    Returns:
        :class:`AttackResult`; ``history`` holds the crafting-set attack ratio after each epoch and
        ``iterations`` the number of epochs.
    """
    validate(model, x, y, xi, norm, batch_size)
    step = xi / 4 if step_size is None else step_size
    if init is not None:
        check_finite(init, "init")
    start = time.perf_counter()
    x, y = x.detach(), y.detach()
    generator = torch.Generator().manual_seed(seed)
    with model_mode(model):
        v = torch.zeros_like(x[0]) if init is None else project(init.detach().to(x), xi, norm=norm)
        history = []
        for _ in range(epochs):
            for batch in torch.randperm(len(x), generator=generator).to(x.device).split(minibatch):
                delta = v.clone().requires_grad_(True)
                with torch.enable_grad():
                    loss = F.cross_entropy(model(x[batch] + delta), y[batch], reduction="none").clamp(max=clamp)
                    (grad,) = torch.autograd.grad(loss.mean(), delta)
                check_finite(grad, "SGD-UAP gradients")
                if norm == "linf":
                    direction = grad.sign()
                else:
                    direction = grad / grad.norm().clamp_min(torch.finfo(grad.dtype).tiny)
                v = _project(v + step * direction, xi, norm)
            history.append((predict(model, x, v, batch_size) != y).float().mean().item())
    return AttackResult(rescale(v, xi, norm), history, len(history), time.perf_counter() - start,
                        "sgd_uap", float(xi), norm)
