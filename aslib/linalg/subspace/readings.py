"""What one reads from a fitted :class:`~aslib.linalg.subspace.ActiveSubspace` beyond its spectrum: the active variables
of activations, the leading directions completed in ``C``'s null space, bootstrap intervals, the authors'
active-neuron index and a plain-dict summary. Directions are ``(n, k)`` orthonormal columns, eigenvalues in units of
the squared gradient."""
from __future__ import annotations

from typing import Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from aslib.contracts import Count, Fraction, contract
from aslib.linalg.subspace.estimator import ActiveSubspace
from aslib.linalg.subspace.solvers import count_active, null_space_completion, subspace_distance
from aslib.linalg.subspace.storage import StoredRows

__all__ = ["active_variables", "bootstrap", "leading_directions", "n_active_authors", "summary"]


@contract
def leading_directions(estimator: ActiveSubspace, rank: Count) -> Tensor:
    """The ``rank`` leading directions ``(n, rank)`` of a fitted ``estimator``, orthonormal columns.

    When ``C`` itself has fewer nonzero eigenvalues than ``rank`` (e.g. the loss gradient behind a linear
    post-model spans only ``K - 1`` directions) and the estimate lost nothing to it (an exact method, or a sketch
    whose shrinkage is rounding: below ten epsilons of the gradients' dtype times their energy), the rest are an
    orthonormal basis of part of ``C``'s null space, seeded by the estimator's ``seed``
    (:func:`~aslib.linalg.subspace.solvers.null_space_completion`): every such completion is an eigenbasis of ``C``.
    Raises ValueError when the directions are missing because a sketch was too small.
    """
    found = estimator.components
    if rank > found.shape[0]:
        raise ValueError(f"rank={rank} is larger than the {found.shape[0]} neurons; choose rank <= {found.shape[0]}")
    if rank <= found.shape[1]:
        return found[:, :rank]
    if estimator.shrinkage > 10 * torch.finfo(found.dtype).eps * estimator.squared_norm_sum:
        raise ValueError(f"rank={rank} but the sketch holds only {found.shape[1]} directions; use a larger "
                         "sketch_size (at least rank + 1) or the exact method")
    return null_space_completion(found, rank, estimator.seed)


@contract
def active_variables(estimator: ActiveSubspace, activations: Float[Tensor, "b ..."], rank: Count | None = None
                     ) -> Tensor:
    """Active variables ``z = V_1^T x`` ``(B, rank)`` of activations ``(B, n)`` or ``(B, *layer_shape)`` (default
    rank: every direction the ``estimator`` estimated)."""
    v = estimator.components
    rank = v.shape[1] if rank is None else rank
    if rank > v.shape[1]:
        raise ValueError(f"rank={rank} but only {v.shape[1]} directions were estimated; "
                         f"refit with rank >= {rank} (layer has {estimator.dim} neurons)")
    x = activations.flatten(1)
    if x.shape[1] != estimator.dim:
        raise ValueError(f"activations have {x.shape[1]} features, the subspace was fitted on {estimator.dim}")
    return x @ v[:, :rank].to(x.dtype)


@contract
def n_active_authors(estimator: ActiveSubspace, delta: Fraction = 0.95) -> int:
    """The authors' ``active_eigs``: 0-based index over the estimated spectrum only (= count - 1)."""
    eig = estimator.eigenvalues
    return count_active(eig, float(eig.sum()), delta, "code") - 1


@contract
def bootstrap(estimator: ActiveSubspace, n_boot: Count = 200, rank: Count | None = None, level: Fraction = 0.9,
              seed: int = 0) -> dict[str, Tensor]:
    """Bootstrap intervals of the eigenvalues and of the distance of the ``rank``-dimensional subspace.

    Resamples the stored gradient rows with replacement ``n_boot`` times (exact/randomized methods; each
    resample solved exactly, :meth:`~aslib.linalg.subspace.storage.StoredRows.resample`). Returns
    ``eigenvalues_low``/``eigenvalues_high`` ``(k,)`` at the given two-sided level, and ``distances``
    ``(n_boot,)`` between the full-sample and resampled subspaces.
    """
    store = estimator.store
    if not isinstance(store, StoredRows):
        raise ValueError(f"{estimator.method_} does not store gradients, and the bootstrap resamples them; fit "
                         "with method='exact' to keep them")
    g = store.gradients
    m, k = len(g), min(g.shape)
    if rank is not None and rank > k:
        raise ValueError(f"rank must be an int in 1..{k} (the directions {m} rows of {g.shape[1]} values have) "
                         f"or None, got {rank!r}")
    r = rank or min(k, estimator.rank or k)
    generator = torch.Generator().manual_seed(seed)
    base, eigs, dists = estimator.components[:, :r], [], []
    for _ in range(n_boot):
        evals, v = store.resample(torch.randint(0, m, (m,), generator=generator).to(g.device), r)
        eigs.append(evals / m)
        dists.append(subspace_distance(v, base))
    eigs_t, alpha = torch.stack(eigs), (1 - level) / 2
    return {"eigenvalues_low": eigs_t.quantile(alpha, dim=0), "eigenvalues_high": eigs_t.quantile(1 - alpha, dim=0),
            "distances": torch.tensor(dists)}


@contract
def summary(estimator: ActiveSubspace, deltas: Sequence[Fraction] = (0.9, 0.95, 0.99), leading: Count = 5) -> dict:
    """Plain-dict summary of a fitted ``estimator``: method in use, neurons, samples, directions estimated, fraction
    of the trace they capture, active neurons per threshold, the authors' index, leading eigenvalues.

    A count equal to ``directions`` is a lower bound: the estimated spectrum (e.g. a shrunk frequent-directions
    sketch, which captures ``captured`` of the trace) never reached the threshold; use a larger ``sketch_size``
    or ``method="exact"``.
    """
    eig = estimator.eigenvalues
    out = {"method": estimator.method_, "neurons": estimator.dim, "samples": estimator.n_samples,
           "trace": estimator.trace, "directions": len(eig),
           "captured": float(eig.sum()) / max(estimator.trace, 1e-300)}
    out.update({f"active@{d}": estimator.n_active(d) for d in deltas})
    out["active_authors@0.95"] = n_active_authors(estimator, 0.95)
    out["leading_eigenvalues"] = [float(e) for e in eig[:leading]]
    return out
