"""Frequent Directions (Liberty 2013; Ghashami et al. 2016): a streaming sketch of gradient rows.

A sketch ``B`` of at most ``2 l`` rows summarises the rows ``G`` ``(m, n)`` seen so far: when it is
full, :func:`shrink` subtracts the ``l``-th squared singular value from all of them, which keeps
``||G^T G - B^T B||_2 <= ||G - G_k||_F^2 / (l - k)`` for every ``k < l``
(:func:`frequent_directions_bound`). :class:`aslib.linalg.subspace.ActiveSubspace` drives the sketch;
this module holds the linear algebra.
"""
from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

from aslib.contracts import Count, CountOrZero, contract


@contract
def sketch_directions(rows: Float[Tensor, "p n"]) -> tuple[Tensor, Tensor]:
    """Nonzero singular values ``(j,)`` (descending) and right singular vectors ``(n, j)`` of sketch rows ``(p, n)``,
    in the rows' dtype.

    Solved once in float64 from the ``p x p`` Gram matrix (:func:`stacked_eigh`), so the directions of the
    tail stay orthonormal; singular values below ``1e-6`` of the largest (eigenvalues below ``1e-12``) are
    dropped as rounding.
    """
    exact = rows.double()
    evals, vecs = stacked_eigh(exact, exact.new_zeros(0))
    sigma = evals.sqrt()
    return sigma.to(rows.dtype), (exact.T @ (vecs / sigma)).to(rows.dtype)


@contract
def stacked_gram(rows: Float[Tensor, "p n"], sigma: Float[Tensor, " k"]) -> Tensor:
    """The Gram matrix ``rows rows^T`` ``(p, p)`` (float64) of a sketch's rows ``(p, n)`` whose first
    ``k = len(sigma)`` rows are orthogonal with norms ``sigma`` ``(k,)`` (float64), followed by ``p - k`` new rows.

    Only the new rows' products ``rows[k:] @ rows^T`` (``(p - k) p n`` multiply-adds, in the rows' dtype on
    their device) are computed: the old rows' block is ``diag(sigma^2)``, exact.
    """
    k, p = len(sigma), len(rows)
    gram = torch.empty(p, p, dtype=torch.float64, device=rows.device)
    bottom = (rows[k:] @ rows.T).double()
    gram[k:] = bottom
    gram[:k, k:] = bottom[:, :k].T
    gram[:k, :k] = torch.diag(sigma.to(device=rows.device, dtype=torch.float64) ** 2)
    return gram


@contract
def stacked_eigh(rows: Float[Tensor, "p n"], sigma: Float[Tensor, " k"]) -> tuple[Tensor, Tensor]:
    """Nonzero eigenvalues ``(j,)`` (float64, descending) and eigenvectors ``(p, j)`` (float64) of
    :func:`stacked_gram` ``(rows, sigma)``, solved in float64, which keeps the tail of a steep spectrum.
    """
    evals, vecs = torch.linalg.eigh(stacked_gram(rows, sigma))
    evals, vecs = evals.flip(0), vecs.flip(1)
    keep = int((evals > evals[0].clamp_min(0) * 1e-12).sum()) if len(rows) else 0
    return evals[:keep], vecs[:, :keep]


@contract
def shrink_rows(rows: Float[Tensor, "p n"], sigma: Float[Tensor, " k"], ell: Count, out: Float[Tensor, "q n"]
                ) -> tuple[Tensor, float]:
    """One Frequent-Directions shrinkage of the sketch ``rows`` ``(p, n)`` (structured as in
    :func:`stacked_eigh`) by its ``ell``-th squared singular value ``delta``, written into ``out[:j]``.

    The new rows are ``diag(sqrt(lambda - delta) / sqrt(lambda)) U^T rows`` (one product, ``j p n``
    multiply-adds), orthogonal with norms ``sigma'`` ``(j,)`` (float64, ``j <= ell - 1``); returns
    ``sigma'`` and ``delta``. ``out`` must not overlap ``rows``.
    """
    evals, vecs = stacked_eigh(rows, sigma)
    delta = float(evals[ell - 1]) if len(evals) >= ell else 0.0
    kept = min(ell - 1, int((evals > delta).sum()))
    shrunk = (evals[:kept] - delta).sqrt()
    weights = (vecs[:, :kept] * (shrunk / evals[:kept].sqrt())).T.to(rows.dtype)
    torch.matmul(weights, rows, out=out[:kept])
    return shrunk, delta


@contract
def shrink(sketch: Float[Tensor, "p n"], ell: Count) -> tuple[Tensor, float]:
    """One Frequent-Directions shrinkage of ``sketch`` ``(p, n)`` to at most ``ell - 1`` nonzero rows.

    Returns the new sketch ``(ell, n)`` (``sigma_i <- sqrt(sigma_i^2 - sigma_ell^2)``) and the
    subtracted energy ``delta = sigma_ell^2``.
    """
    out = sketch.new_zeros(ell, sketch.shape[1])
    _, delta = shrink_rows(sketch, sketch.new_zeros(0, dtype=torch.float64), ell, out)
    return out, delta


@contract
def frequent_directions_bound(gradients: Float[Tensor, "m n"], ell: Count, k: CountOrZero) -> float:
    """The guarantee ``||G - G_k||_F^2 / (ell - k)`` for gradient rows ``(m, n)``."""
    if k >= ell:
        raise ValueError(f"need 0 <= k < ell, got k={k}, ell={ell}")
    sigma = torch.linalg.svdvals(gradients.double())
    return float((sigma[k:] ** 2).sum() / (ell - k))
