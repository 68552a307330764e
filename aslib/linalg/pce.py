"""Polynomial chaos expansion (PCE): total-degree Hermite basis, least-squares fit, R^2.

The ASNet head maps the standardised active variables
``zt in R^r`` to ``Phi(zt) = [phi_alpha(zt)]_{|alpha| <= p}`` and then linearly to the logits.
Here ``phi_alpha(z) = prod_i psi_{alpha_i}(z_i)`` with the **orthonormal probabilists' Hermite
polynomials** ``psi_k = He_k / sqrt(k!)``, so ``E[phi_a phi_b] = delta_ab`` for ``z ~ N(0, I)``.
The authors use unnormalised physicists' Hermite polynomials instead;
both span all polynomials of total degree ``<= p``, so the fitted function class is identical
and only the coefficient scaling (and the conditioning of the fit) differs.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from jaxtyping import Float, Int, Real
from torch import Tensor, nn

from aslib._utils import check_finite
from aslib.contracts import Count, CountOrZero, NonNegativeReal, contract


@contract
def num_terms(dim: Count, degree: Count) -> int:
    """Number of multi-indices ``alpha in N^dim`` with ``|alpha| <= degree``: ``C(dim+degree, degree)``."""
    return math.comb(dim + degree, degree)


@contract
def total_degree_indices(dim: Count, degree: Count) -> Tensor:
    """All multi-indices of total degree ``<= degree``, ordered by degree.

    Returns an int64 tensor ``(N_b, dim)``, ``N_b = C(dim+degree, degree)``. Row 0 is the
    constant term, then the ``dim`` unit vectors ``e_1 .. e_dim``, then degree 2
    (``2e_1, e_1+e_2, ..., e_1+e_dim, 2e_2, ...``) and so on: within a degree ``k`` the terms
    are the non-decreasing coordinate sequences ``j_1 <= ... <= j_k`` in lexicographic order.
    Built one degree at a time by appending a coordinate ``>=`` the last one used, which
    enumerates every multi-index exactly once.
    """
    eye = torch.eye(dim, dtype=torch.int64)
    blocks = [torch.zeros(1, dim, dtype=torch.int64), eye]
    current, last = eye, torch.arange(dim)  # degree-1 terms and the last coordinate of each
    for _ in range(2, degree + 1):
        allowed = torch.arange(dim)[None, :] >= last[:, None]  # (n_prev, dim)
        parent, coord = allowed.nonzero(as_tuple=True)  # row-major: keeps lexicographic order
        current, last = current[parent] + eye[coord], coord
        blocks.append(current)
    return torch.cat(blocks)


class HermiteBasis(nn.Module):
    """Total-degree orthonormal Hermite basis ``Phi: R^dim -> R^{N_b}`` (no trainable parameters).

    Forward: ``(B, dim)`` float -> ``(B, N_b)`` in the input's dtype and device, with column
    ``t`` equal to ``prod_i psi_{alpha_i}(x_i)`` for ``alpha = indices[t]``
    (see :func:`total_degree_indices` for the order).

    Evaluation: the 1-D table ``psi_k(x_i)`` for all coordinates, ``(B, dim, degree+1)``, by the
    three-term recurrence ``psi_{k+1} = (x psi_k) / sqrt(k+1) - sqrt(k/(k+1)) psi_{k-1}``, then one
    ``gather`` of ``m = min(degree, dim)`` factors per term and a product over them (a term has at
    most ``m`` non-constant factors; missing ones read ``psi_0 = 1``).

    Args:
        dim: number of input variables r (>= 1).
        degree: total polynomial degree p (>= 1).
    """

    indices: torch.Tensor
    factor_index: torch.Tensor

    @contract
    def __init__(self, dim: Count, degree: Count):
        super().__init__()
        self.dim, self.degree = int(dim), int(degree)
        indices = total_degree_indices(dim, degree)
        self.register_buffer("indices", indices)
        self.register_buffer("factor_index", _factor_index(indices, degree), persistent=False)

    @property
    def num_terms(self) -> int:
        """Number of basis functions N_b = C(dim+degree, degree)."""
        return self.indices.shape[0]

    @property
    def macs(self) -> int:
        """Multiplications per sample of :meth:`forward` (this implementation's exact count).

        ``3 * dim * (degree - 1)`` for the recurrence (``x*psi_k``, its scaling and the scaling of
        ``psi_{k-1}``, for ``k = 1 .. degree-1``; ``psi_0 = 1`` and ``psi_1 = x`` are free) plus
        ``N_b * (min(degree, dim) - 1)`` for the products of the gathered factors. Additions are
        not counted (one multiply-accumulate = one MAC, as for conv/linear layers).
        For ``dim=50, degree=2``: ``150 + 1326 = 1476``.
        """
        return 3 * self.dim * (self.degree - 1) + self.num_terms * (self.factor_index.shape[1] - 1)

    def univariate(self, x: torch.Tensor) -> torch.Tensor:
        """1-D table ``(B, dim, degree+1)`` with ``[..., k] = He_k(x) / sqrt(k!)``."""
        self._check_input(x)
        table = [torch.ones_like(x), x]
        for k in range(1, self.degree):
            table.append((x * table[k]) * (1.0 / math.sqrt(k + 1)) - math.sqrt(k / (k + 1)) * table[k - 1])
        return torch.stack(table, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, dim)`` -> ``(B, N_b)`` basis values."""
        flat = self.univariate(x).flatten(1)  # (B, dim*(degree+1)), entry i*(degree+1)+k = psi_k(x_i)
        index = self.factor_index.flatten()[None, :].expand(x.shape[0], -1)  # (B, N_b*m)
        factors = torch.gather(flat, 1, index).view(x.shape[0], self.num_terms, -1)
        return factors.prod(dim=-1)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, degree={self.degree}, num_terms={self.num_terms}"

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"HermiteBasis expects input of shape (B, {self.dim}), got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"HermiteBasis expects a floating-point input, got dtype {x.dtype}")


class Standardize(nn.Module):
    """Frozen affine standardisation ``(x - mean) / std`` per coordinate.

    Buffers ``mean`` and ``std`` have shape ``(dim,)``; forward ``(B, dim)`` -> ``(B, dim)``.
    Build it from data with :meth:`from_data`.
    """

    mean: torch.Tensor
    std: torch.Tensor

    @contract
    def __init__(self, mean: Float[Tensor, " dim"], std: Float[Tensor, " dim"]):
        super().__init__()
        if not bool((std > 0).all()):
            bad = (std <= 0).nonzero().flatten().tolist()
            raise ValueError(f"std must be > 0 everywhere; coordinates {bad[:10]} are not "
                             "(constant feature: drop it or add a small epsilon)")
        self.register_buffer("mean", mean.detach().clone())
        self.register_buffer("std", std.detach().clone())

    @classmethod
    @contract
    def from_data(cls, z: Float[Tensor, "n dim"]) -> "Standardize":
        """Mean and (population) standard deviation of ``z`` ``(n, dim)`` over its rows."""
        if z.shape[0] < 2:
            raise ValueError(f"from_data expects samples of shape (n >= 2, dim), got {tuple(z.shape)}")
        return cls(z.mean(dim=0), z.std(dim=0, correction=0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.mean.shape[0]:
            raise ValueError(f"Standardize expects input of shape (B, {self.mean.shape[0]}), got {tuple(x.shape)}")
        return (x - self.mean) / self.std


class NormalEquations:
    """Streamed least squares: ``F^T F``, ``F^T Y`` and the target moments, accumulated in float64.

    Memory is ``folds * N_b * (N_b + K)`` numbers whatever the number of samples. Every sample
    belongs to one of ``folds`` disjoint folds (:meth:`add` takes the fold of each row), so
    :meth:`cross_validate` scores a ridge penalty on held-out rows exactly, from the statistics
    alone: the fit on all folds but ``k`` predicts fold ``k`` with residual
    ``Y_k^T Y_k - 2 tr(W^T F_k^T Y_k) + tr(W^T F_k^T F_k W)``.

    Args:
        terms: number of features ``N_b``; outputs: number of targets ``K``; folds: >= 1
            (>= 2 for :meth:`cross_validate`); device: where the statistics live.
    """

    @contract
    def __init__(self, terms: Count, outputs: Count, *, folds: Count = 5, device: torch.device | str = "cpu"):
        kw = {"dtype": torch.float64, "device": device}
        self.gram = torch.zeros(folds, terms, terms, **kw)
        self.cross = torch.zeros(folds, terms, outputs, **kw)
        self.target_sum = torch.zeros(folds, outputs, **kw)
        self.target_squares = torch.zeros(folds, outputs, **kw)
        self.counts = torch.zeros(folds, dtype=torch.int64, device=device)

    @property
    def samples(self) -> int:
        """Rows accumulated so far."""
        return int(self.counts.sum())

    @contract
    def add(self, features: Real[Tensor, "b f"], targets: Real[Tensor, "b k"], fold: Int[Tensor, " b"] | int = 0
            ) -> None:
        """Accumulate rows ``features`` ``(B, N_b)`` and ``targets`` ``(B, K)``; ``fold`` is an int or an
        int tensor ``(B,)`` of fold indices (e.g. ``image_index % folds``, so that augmented copies of
        an image stay in one fold)."""
        folds, terms, outputs = self.cross.shape
        if features.dim() != 2 or features.shape[1] != terms or targets.shape != (features.shape[0], outputs):
            raise ValueError(f"expected features (B, {terms}) and targets (B, {outputs}), got "
                             f"{tuple(features.shape)} and {tuple(targets.shape)}")
        for name, tensor in (("features", features), ("targets", targets)):
            check_finite(tensor, name, "remove or fix those samples before fitting")
        fold = torch.as_tensor(fold, device=self.counts.device).expand(features.shape[0])
        if fold.min() < 0 or fold.max() >= folds:
            raise ValueError(f"fold indices must lie in [0, {folds}), got values in "
                             f"[{int(fold.min())}, {int(fold.max())}]")
        a = features.to(self.gram.device, torch.float64)
        b = targets.to(self.gram.device, torch.float64)
        for k in fold.unique().tolist():
            rows = fold == k
            ak, bk = a[rows], b[rows]
            self.gram[k] += ak.T @ ak
            self.cross[k] += ak.T @ bk
            self.target_sum[k] += bk.sum(0)
            self.target_squares[k] += (bk * bk).sum(0)
            self.counts[k] += int(rows.sum())

    @contract
    def solve(self, ridge: NonNegativeReal = 0.0, *, exclude: CountOrZero | None = None) -> Tensor:
        """Weights ``(N_b, K)`` (float64) minimising ``||F W - Y||^2 + ridge ||W||^2`` over all folds
        except ``exclude``; ``ridge = 0`` needs at least ``N_b`` rows (linearly independent features)."""
        keep = [k for k in range(len(self.counts)) if k != exclude]
        n = int(self.counts[keep].sum())
        terms = self.gram.shape[1]
        if ridge == 0 and n < terms:
            raise ValueError(f"need at least N_b={terms} samples for an unregularised fit, got n={n}; "
                             "accumulate more samples or pass ridge > 0")
        gram = self.gram[keep].sum(0) + ridge * torch.eye(terms, dtype=torch.float64, device=self.gram.device)
        factor, info = torch.linalg.cholesky_ex(gram)
        if int(info) != 0:
            raise ValueError(f"the normal equations are singular (n={n}, N_b={terms}): the features are linearly "
                             "dependent on these samples; accumulate more samples or pass ridge > 0")
        return torch.cholesky_solve(self.cross[keep].sum(0), factor)

    @contract
    def residual(self, weights: Float[Tensor, "f k"], fold: CountOrZero | None = None) -> Tensor:
        """Sum of squared residuals ``(K,)`` of ``weights`` ``(N_b, K)`` on one fold (all folds if ``None``)."""
        keep = list(range(len(self.counts))) if fold is None else [fold]
        gram, cross = self.gram[keep].sum(0), self.cross[keep].sum(0)
        w = weights.to(gram)
        return self.target_squares[keep].sum(0) - 2 * (w * cross).sum(0) + (w * (gram @ w)).sum(0)

    def total(self) -> torch.Tensor:
        """Total sum of squares ``(K,)`` of the targets about their mean."""
        n = self.samples
        return self.target_squares.sum(0) - self.target_sum.sum(0) ** 2 / n

    @contract
    def r2(self, weights: Float[Tensor, "f k"]) -> float:
        """In-sample R² of ``weights`` over all rows (as :func:`r2_score`)."""
        return _mean_r2(self.residual(weights), self.total())

    @contract
    def cross_validate(self, ridges: Sequence[NonNegativeReal]) -> list[dict[str, float]]:
        """Held-out R² of each ridge penalty: fit on all folds but one, predict that fold, pool the
        residuals of the folds (the R² of the out-of-fold predictions, as :func:`r2_score`)."""
        if len(self.counts) < 2 or int((self.counts > 0).sum()) < 2:
            raise ValueError("cross-validation needs at least two non-empty folds; build with folds >= 2")
        if not ridges:
            raise ValueError("no ridge penalties given; pass e.g. ridges=[0, 1e-3 * samples]")
        rows = []
        for ridge in ridges:
            res = sum(self.residual(self.solve(ridge, exclude=k), k) for k in range(len(self.counts))
                      if self.counts[k] > 0)
            rows.append({"ridge": float(ridge), "r2_heldout": _mean_r2(res, self.total())})
        return rows


def _mean_r2(residual: torch.Tensor, total: torch.Tensor) -> float:
    constant = total <= 0
    scores = torch.where(constant, (residual <= 0).to(torch.float64), 1 - residual / torch.where(constant, 1.0, total))
    return float(scores.mean())


@contract
def r2_score(pred: Float[Tensor, "n ..."], target: Real[Tensor, "n ..."]) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` per output, averaged uniformly.

    ``pred`` and ``target``: ``(n,)`` or ``(n, K)``. An output whose target is constant scores
    1.0 if predicted exactly and 0.0 otherwise (as scikit-learn's ``r2_score``).
    """
    if pred.shape != target.shape or pred.dim() not in (1, 2) or pred.shape[0] < 2:
        raise ValueError(f"pred and target must have the same shape (n >= 2,) or (n >= 2, K), "
                         f"got {tuple(pred.shape)} and {tuple(target.shape)}")
    p = pred.detach().to(torch.float64).reshape(pred.shape[0], -1)
    t = target.detach().to(device=pred.device, dtype=torch.float64).reshape(p.shape)
    ss_res = ((t - p) ** 2).sum(dim=0)
    ss_tot = ((t - t.mean(dim=0)) ** 2).sum(dim=0)
    constant = ss_tot == 0
    scores = torch.where(constant, (ss_res == 0).to(torch.float64), 1 - ss_res / torch.where(constant, 1.0, ss_tot))
    return float(scores.mean())


def _factor_index(indices: torch.Tensor, degree: int) -> torch.Tensor:
    """Flat positions in the ``(dim, degree+1)`` table of each term's factors: ``(N_b, min(degree, dim))``.

    Factor ``j`` of term ``t`` is ``psi_{alpha_c}(x_c)`` for the coordinate ``c`` holding the
    ``j``-th largest exponent of ``alpha = indices[t]``; zero exponents read ``psi_0 = 1``.
    """
    width = min(degree, indices.shape[1])
    exponents, coords = indices.sort(dim=1, descending=True)
    return coords[:, :width] * (degree + 1) + exponents[:, :width]
