"""The numerical pieces every active subspace estimate shares: the top directions of a matrix of rows, the
distance between two subspaces, the active-neuron count (Definition 3.1) and the choice of streaming
estimator."""
from __future__ import annotations

from typing import Literal

import torch
from jaxtyping import Float
from torch import Tensor

from aslib._utils import seeded
from aslib.contracts import Count, CountOrZero, Fraction, NonNegativeReal, contract
from aslib.linalg.frequent_directions import sketch_directions

Solver = Literal["exact", "randomized", "frequent_directions"]
SOLVERS = ("exact", "randomized", "frequent_directions")


@contract
def top_directions(rows: Float[Tensor, "m n"], k: Count | None = None, solver: Solver = "exact", *, seed: int = 0,
                   oversample: CountOrZero = 10, power_iters: CountOrZero = 4,
                   rank_hint: Count | None = None) -> tuple[Tensor, Tensor]:
    """Top ``k`` singular values ``(k,)`` and right singular vectors ``(n, k)`` of ``rows`` ``(m, n)``.

    The solver of the stored-rows estimators of :class:`~aslib.linalg.subspace.ActiveSubspace` (and of their
    bootstrap) and of the attack direction of :func:`aslib.attacks.as_attack` (the top input-layer active
    direction). Computed in the rows' dtype and on their device:

    * ``"exact"``: :func:`torch.linalg.svd`;
    * ``"randomized"``: :func:`torch.svd_lowrank` with ``(k or rank_hint or all) + oversample``
      columns and ``power_iters`` power iterations, seeded with ``seed`` (global RNG untouched);
    * ``"frequent_directions"``: the rows are a sketch; eigen-decomposition of its small Gram
      matrix in float64 (:func:`aslib.linalg.frequent_directions.sketch_directions`).

    ``k=None`` returns every direction the solver provides. Signs are arbitrary.
    """
    if rows.shape[0] == 0:
        raise ValueError(f"rows must be a non-empty (m, n) matrix, got {tuple(rows.shape)}")
    if k is not None and k > min(rows.shape):
        raise ValueError(f"k must be an int in [1, {min(rows.shape)}] (at most min(m, n) of rows "
                         f"{tuple(rows.shape)}) or None for all, got {k!r}")
    if solver == "exact":
        _, sigma, vh = torch.linalg.svd(rows, full_matrices=False)
        v = vh.T
    elif solver == "randomized":
        q = min(min(rows.shape), (k or rank_hint or min(rows.shape)) + oversample)
        with seeded(seed, rows.device):
            _, sigma, v = torch.svd_lowrank(rows, q=q, niter=power_iters)
    else:
        sigma, v = sketch_directions(rows)
    k = len(sigma) if k is None else min(k, len(sigma))
    return sigma[:k], v[:, :k]


@contract
def subspace_distance(a: Float[Tensor, "n r"], b: Float[Tensor, "n r"]) -> float:
    """Sign- and basis-invariant distance ``||P_a - P_b||_2`` between the column spans of ``a`` and ``b``.

    ``a``, ``b``: ``(n, r)`` with orthonormal columns. Equals the sine of the largest principal angle.
    """
    a, b = a.double(), b.double()
    return float(torch.linalg.matrix_norm(b - a @ (a.T @ b), 2))


@contract
def null_space_completion(found: Float[Tensor, "n k"], rank: Count, seed: int) -> Tensor:
    """``found`` ``(n, k)`` (orthonormal columns) completed to ``rank`` orthonormal columns ``(n, rank)`` by a
    random orthonormal basis (seeded by ``seed``) of part of the complement of its span."""
    generator = torch.Generator().manual_seed(seed)
    extra = torch.randn(found.shape[0], rank - found.shape[1], generator=generator, dtype=torch.float64)
    extra -= found.double() @ (found.double().T @ extra)
    completion = torch.linalg.qr(extra).Q
    return torch.cat([found, completion.to(found)], dim=1)


@contract
def count_active(eigenvalues: Float[Tensor, " k"], total: NonNegativeReal, delta: Fraction = 0.95,
                 convention: Literal["code", "paper"] = "code") -> int:
    """Definition 3.1: number of eigenvalues needed to reach the energy threshold (1-based count).

    ``eigenvalues`` ``(k,)`` descending; ``total`` the trace of the full matrix. When the
    estimated eigenvalues do not reach the threshold (a truncated or shrunk spectrum), the
    result is ``k``, a lower bound.
    """
    if not torch.isfinite(eigenvalues).all():
        raise ValueError("eigenvalues contain NaN or inf: check the gradients they were estimated from")
    if total == 0:
        return 0
    energy = eigenvalues.double().cumsum(0) / total
    reached = energy > delta**2 if convention == "code" else energy >= delta - 1e-12
    hits = reached.nonzero()
    return int(hits[0]) + 1 if len(hits) else len(eigenvalues)


@contract
def relative_energy(eigenvalues: Float[Tensor, " k"], total: NonNegativeReal) -> Tensor:
    """Cumulative fraction of ``total`` captured by the leading eigenvalues ``(k,)`` (zeros when ``total`` is 0)."""
    return eigenvalues.double().cumsum(0) / total if total > 0 else torch.zeros_like(eigenvalues, dtype=torch.double)


@contract
def streaming_method(n: Count, ell: Count) -> Literal["gram", "frequent_directions"]:
    """The cheaper streaming estimator for ``n`` neurons and sketch size ``ell``, by multiply-adds per
    gradient row: ``"gram"`` (``n^2``, exact) when ``n^2 <= 4 ell n + 36 ell^2``, i.e.
    ``n <= (2 + sqrt(40)) ell``, else ``"frequent_directions"`` (``4 ell n`` for the products of a fold of
    ``ell`` rows, ``36 ell^2`` for its ``2 ell x 2 ell`` eigenproblem at ``9 p^3`` flops).
    """
    return "gram" if n * n <= 4 * ell * n + 36 * ell * ell else "frequent_directions"
