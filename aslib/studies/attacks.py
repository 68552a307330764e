"""Attack studies beyond the paper (notebook 07): the methods side by side at one budget, clipping to valid
images and l-inf budgets, the eigen-direction study, AS as a starting point for SGD-UAP, vector cosines and
DeepFool paths.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor, nn

from aslib import data as data_mod
from aslib._utils import model_device
from aslib.attacks import (METHODS, AttackResult, attack_ratio, attack_seed, craft, deepfool, fooling_rate,
    random_perturbation, sgd_uap)
from aslib.attacks.common import Images, Labels, Norm
from aslib.contracts import Count, NonNegativeReal, PositiveReal, PositiveReals, Proportion, contract
from aslib.linalg.subspace import ActiveSubspace, top_directions
from aslib.nets.gradients import input_gradients
from aslib.studies.sweeps import Pair, as_pair, check_method_kwargs, method_label

__all__ = ["EigenDirections", "as_start_study", "clipping_rows", "craft_methods", "deepfool_paths", "eigen_directions",
           "linf_budgets", "vector_cosines"]


@contract
def craft_methods(model: nn.Module, x: Images, y: Labels, xi: PositiveReal, *,
                  methods: Sequence[str] = METHODS, method_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
                  norm: Norm = "l2", seed: int = 0) -> dict[str, AttackResult]:
    """One vector per method (:func:`aslib.attacks.craft`, one ``seed``) from ``x`` ``(N, C, H, W)``, ``y`` ``(N,)``
    on the model's device; ``method_kwargs`` is nested: ``{"as": {"max_iter": 8}, "uap": {...}}``."""
    check_method_kwargs(method_kwargs, methods)
    options = method_kwargs or {}
    return {m: craft(m, model, x, y, xi, norm=norm, seed=seed, **options.get(m, {})) for m in methods}


@contract
def linf_budgets(eps255: PositiveReals, dataset: str) -> list[float]:
    """l-infinity noise levels in normalised units for budgets of ``eps/255`` in pixel units: dividing by
    the largest channel std keeps every channel within budget."""
    if any(e <= 0 for e in eps255):
        raise ValueError(f"budgets eps must be > 0 grey levels, got {list(eps255)}")
    largest = float(data_mod.pixel_scale(dataset).flatten().max())
    return [eps / 255 / largest for eps in eps255]


@contract
def clipping_rows(model: nn.Module, test: Pair, vectors: Mapping[str, torch.Tensor], *,
                  bounds: tuple[torch.Tensor, torch.Tensor]) -> list[dict[str, Any]]:
    """Test attack ratio of each vector ``(C, H, W)`` without and with clipping ``x + v`` to ``bounds``
    (``(lo, hi)``, each ``(C, 1, 1)``, see :func:`aslib.attacks.valid_bounds`), the clipped fooling rate
    and the mean kept fraction ``||clip(x + v) - x|| / ||v||`` (at most 1)."""
    x, y = as_pair("test", test)
    lo, hi = bounds
    rows = []
    for m, v in vectors.items():
        clipped = torch.maximum(torch.minimum(x + v, hi), lo)
        kept = ((clipped - x).flatten(1).norm(dim=1) / v.norm()).mean().item()
        rows.append({"method": method_label(m), "test_attack_ratio_unclipped": attack_ratio(model, x, y, v),
                     "test_attack_ratio_clipped": attack_ratio(model, x, y, v, bounds=bounds),
                     "fooling_rate_clipped": fooling_rate(model, x, v, bounds=bounds),
                     "clip_norm_ratio": kept})
    return rows


@contract
@dataclass
class EigenDirections:
    """Test attack ratios (better sign) of ``eigen`` vectors v_k, ``random`` ``(n_random,)`` directions, the
    ``recursive`` AS vector and none (``clean``); ``lambdas`` = lambda_k / trace; ``captured`` ``(top_k,)``
    cumulative share ``||V_k^T u||^2`` of the unit AS vector u; ``cosine`` = |cos(u, v_1)|; ``dim`` = d."""

    eigen: list[Proportion]
    random: Float[Tensor, " n_random"]  # noqa: F821
    recursive: Proportion
    clean: Proportion
    lambdas: list[NonNegativeReal]
    captured: Float[Tensor, " top_k"]  # noqa: F821
    cosine: NonNegativeReal
    dim: Count
    n_eval: Count


@contract
def eigen_directions(model: nn.Module, subspace: ActiveSubspace, test: Pair, vector: torch.Tensor, *,
                     xi: PositiveReal, top_k: Count, n_random: Count) -> EigenDirections:
    """Attack with ``±xi v_k`` for the ``top_k`` eigenvectors of the input-layer ``subspace``, with
    ``n_random`` random directions of norm xi (seeds 0..n_random-1, better sign too) and with the
    recursive AS ``vector`` ``(C, H, W)``, on the ``test`` pair (on the model's device)."""
    x, y = as_pair("test", test)
    if top_k < 1 or n_random < 1 or top_k > subspace.components.shape[1]:
        raise ValueError(f"need 1 <= top_k <= {subspace.components.shape[1]} and n_random >= 1, "
                         f"got top_k={top_k}, n_random={n_random}")

    def best_sign(v: torch.Tensor) -> float:
        return max(attack_ratio(model, x, y, v), attack_ratio(model, x, y, -v))

    basis = subspace.components[:, :top_k].to(device=x.device, dtype=x.dtype)
    eigen = [best_sign(xi * basis[:, k].view_as(x[0])) for k in range(top_k)]
    rnd = torch.tensor([best_sign(random_perturbation(x.shape[1:], xi, seed=s, device=x.device))
                        for s in range(n_random)])
    unit = (vector / vector.norm()).flatten()
    return EigenDirections(eigen=eigen, random=rnd, recursive=attack_ratio(model, x, y, vector),
                           clean=attack_ratio(model, x, y, torch.zeros_like(x[0])),
                           lambdas=[float(subspace.eigenvalues[k]) / subspace.trace for k in range(top_k)],
                           captured=((basis.T @ unit) ** 2).cumsum(0), cosine=abs(float(unit @ basis[:, 0])),
                           dim=subspace.dim, n_eval=len(y))


@contract
def as_start_study(model: nn.Module, crafting_sets: Sequence[Pair], as_vectors: Sequence[torch.Tensor], test: Pair, *,
                   xi: PositiveReal, rank: Count = 10, seed: int = 0, batch_size: Count = 256,
                   **sgd_options: Any) -> list[dict[str, Any]]:
    """Does the active subspace help the strongest baseline? One row per crafting set ``j``.

    ``crafting_sets[j]`` ``(x (n, C, H, W), y (n,))`` and the AS vector crafted on it ``as_vectors[j]``
    ``(C, H, W)`` (norm ``xi``). SGD-UAP (:func:`aslib.attacks.sgd_uap`, seed :func:`aslib.attacks.attack_seed` of
    ``(seed, j, xi)``, ``sgd_options``) runs twice on the same mini-batches: from zero and from the AS vector.
    Columns: the test attack ratio on ``test`` of the AS vector and of both SGD-UAP vectors, and the share
    ``||V_k^T v||^2 / ||v||^2`` of each vector in the top ``rank`` input active directions ``V_k`` of its crafting
    set (the loss gradients' exact SVD; a random direction has the share ``rank / d`` on average). Everything runs
    on the model's device.
    """
    x_t, y_t = as_pair("test", test)
    if len(crafting_sets) != len(as_vectors) or not crafting_sets:
        raise ValueError(f"give one AS vector per crafting set (got {len(crafting_sets)} sets and "
                         f"{len(as_vectors)} vectors)")
    device = model_device(model)
    x_t, y_t = x_t.to(device), y_t.to(device)
    rows = []
    for j, (pair, v_as) in enumerate(zip(crafting_sets, as_vectors)):
        x, y = (t.to(device) for t in as_pair("crafting", pair))
        v_as = v_as.to(device=device, dtype=x.dtype)
        if rank > min(len(y), x[0].numel()):
            raise ValueError(f"rank {rank} exceeds the {min(len(y), x[0].numel())} directions a crafting set of "
                             f"{len(y)} images of {x[0].numel()} values has: pass a smaller rank")
        basis = top_directions(input_gradients(model, x, y, batch_size=batch_size).flatten(1).double(), rank,
                               "exact")[1]  # (d, rank)

        def share(v: torch.Tensor) -> float:
            u = v.flatten().double()
            return float((basis.T @ u).pow(2).sum() / u.pow(2).sum())

        plain = sgd_uap(model, x, y, xi, seed=attack_seed(seed, j, xi), batch_size=batch_size, **sgd_options).vector
        started = sgd_uap(model, x, y, xi, seed=attack_seed(seed, j, xi), batch_size=batch_size, init=v_as,
                          **sgd_options).vector
        rows.append({"set": j, "n_samples": len(y), "xi": float(xi), "rank": rank, "dim": x[0].numel(),
                     "as_test": attack_ratio(model, x_t, y_t, v_as, batch_size=batch_size),
                     "sgd_uap_test": attack_ratio(model, x_t, y_t, plain, batch_size=batch_size),
                     "sgd_uap_from_as_test": attack_ratio(model, x_t, y_t, started, batch_size=batch_size),
                     "as_share": share(v_as), "sgd_uap_share": share(plain), "sgd_uap_from_as_share": share(started)})
    return rows


@contract
def vector_cosines(vectors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Pairwise cosine similarities ``(k, k)`` (float64) of ``k`` vectors of any common shape."""
    if len(vectors) < 1 or any(v.shape != vectors[0].shape for v in vectors):
        raise ValueError("pass at least one vector, all of the same shape")
    flat = torch.stack([v.detach().flatten().double().cpu() for v in vectors])
    flat = flat / flat.norm(dim=1, keepdim=True).clamp_min(torch.finfo(torch.float64).tiny)
    return flat @ flat.T


@contract
def deepfool_paths(model: nn.Module, x: Images, *, steps: Count = 5, overshoot: NonNegativeReal = 0.02) -> torch.Tensor:
    """The DeepFool iterates of the samples ``x`` ``(B, *shape)``: ``(steps + 1, B, *shape)``, entry ``k`` the point
    ``x + r`` after ``k`` steps (:func:`aslib.attacks.deepfool` with ``max_iter = k``; a sample whose label has
    changed stays where it stopped). For figures of the linearise-and-step loop on low-dimensional toys."""
    points = [x.detach().clone()]
    for k in range(1, steps + 1):
        points.append(x + deepfool(model, x, overshoot=overshoot, max_iter=k).perturbation)
    return torch.stack(points)
