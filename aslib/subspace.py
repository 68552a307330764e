"""Active subspace estimation from gradient samples.

For a scalar function ``c`` of a layer activation ``x_l`` (``n`` neurons) and gradient samples
``g_j = grad c(x_l^(j))`` stacked as rows of ``G`` ``(m, n)``, the active subspace matrix is
``C = G^T G / m = V diag(lambda) V^T``. :class:`ActiveSubspace` estimates ``lambda`` and ``V`` by

* ``"exact"``: SVD of the stored gradient matrix (``lambda_i = sigma_i^2 / m``);
* ``"randomized"``: ``torch.svd_lowrank`` of the stored matrix, with oversampling and power iterations;
* ``"frequent_directions"``: a streaming sketch ``B`` ``(2l, n)`` kept on the gradients' device
  (Liberty 2013; Ghashami et al. 2016) with ``||G^T G - B^T B||_2 <= ||G - G_k||_F^2 / (l - k)``
  for every ``k < l``. Rows arrive in batches (:meth:`ActiveSubspace.partial_fit`), none is dropped,
  and two sketches merge (:meth:`ActiveSubspace.merge`) within the same bound;
* ``"gram"``: the exact ``G^T G`` ``(n, n)`` accumulated in float64 as rows arrive (memory ``n^2``
  whatever ``m``), for narrow layers;
* ``"auto"``: whichever of the two streaming estimators costs fewer multiply-adds per gradient row
  (:func:`streaming_method`): the Gram matrix (``n^2``) when ``n <= (2 + sqrt(40)) l``, else the sketch
  (``4 l n`` for its products plus ``36 l^2`` for its ``2l x 2l`` eigenproblems).

Number of active neurons (Definition 3.1). With ``E_r = sum_{i<=r} lambda_i / trace(C)``:

* ``convention="code"`` (default, the authors' code): the smallest ``r`` with ``E_r > delta^2``
  (``delta = 0.95`` -> more than 90.25 % of the gradient energy);
* ``convention="paper"``: the smallest ``r`` with tail ``1 - E_r <= 1 - delta`` (95 % of the energy).

``trace(C)`` is the exact mean squared gradient norm, tracked for every method. The authors'
function returns a 0-based index (``r - 1``) computed on the sketch's own singular values only;
:meth:`ActiveSubspace.n_active_authors` reproduces that count for comparison.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import Literal, Sequence

import torch
from tqdm.auto import tqdm

from ._utils import NonFiniteError, check_choice, check_fraction, check_positive, seeded
from .data import local_share
from .distributed import all_gather, is_distributed
from .frequent_directions import frequent_directions_bound, shrink, shrink_rows, sketch_directions, stacked_eigh
from .gradients import layer_gradients

Solver = Literal["exact", "randomized", "frequent_directions"]
SOLVERS = ("exact", "randomized", "frequent_directions")
Method = Literal["exact", "randomized", "frequent_directions", "gram", "auto"]
METHODS = SOLVERS + ("gram", "auto")


def top_directions(rows: torch.Tensor, k: int | None = None, method: Solver = "exact", *, seed: int = 0,
                   oversample: int = 10, power_iters: int = 4,
                   rank_hint: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Top ``k`` singular values ``(k,)`` and right singular vectors ``(n, k)`` of ``rows`` ``(m, n)``.

    The one solver behind :class:`ActiveSubspace` and the attack direction of
    :func:`aslib.attacks.as_attack` (the top input-layer active direction). Computed in the
    rows' dtype and on their device:

    * ``"exact"``: :func:`torch.linalg.svd`;
    * ``"randomized"``: :func:`torch.svd_lowrank` with ``(k or rank_hint or all) + oversample``
      columns and ``power_iters`` power iterations, seeded with ``seed`` (global RNG untouched);
    * ``"frequent_directions"``: the rows are a sketch; eigen-decomposition of its small Gram
      matrix in float64 (:func:`aslib.frequent_directions.sketch_directions`).

    ``k=None`` returns every direction the method provides. Signs are arbitrary.
    """
    check_choice("method", method, SOLVERS)
    if rows.ndim != 2 or rows.shape[0] == 0:
        raise ValueError(f"rows must be a non-empty (m, n) matrix, got {tuple(rows.shape)}")
    if k is not None and not (isinstance(k, int) and 1 <= k <= min(rows.shape)):
        raise ValueError(f"k must be an int in [1, {min(rows.shape)}] (at most min(m, n) of rows "
                         f"{tuple(rows.shape)}) or None for all, got {k!r}")
    if method == "exact":
        _, sigma, vh = torch.linalg.svd(rows, full_matrices=False)
        v = vh.T
    elif method == "randomized":
        q = min(min(rows.shape), (k or rank_hint or min(rows.shape)) + oversample)
        with seeded(seed, rows.device):
            _, sigma, v = torch.svd_lowrank(rows, q=q, niter=power_iters)
    else:
        sigma, v = sketch_directions(rows)
    k = len(sigma) if k is None else min(k, len(sigma))
    return sigma[:k], v[:, :k]


def subspace_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Sign- and basis-invariant distance ``||P_a - P_b||_2`` between the column spans of ``a`` and ``b``.

    ``a``, ``b``: ``(n, r)`` with orthonormal columns. Equals the sine of the largest principal angle.
    """
    if a.shape != b.shape:
        raise ValueError(f"subspace bases must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    a, b = a.double(), b.double()
    return float(torch.linalg.matrix_norm(b - a @ (a.T @ b), 2))


def count_active(eigenvalues: torch.Tensor, total: float, delta: float = 0.95,
                 convention: Literal["code", "paper"] = "code") -> int:
    """Definition 3.1: number of eigenvalues needed to reach the energy threshold (1-based count).

    ``eigenvalues`` ``(k,)`` descending; ``total`` the trace of the full matrix. When the
    estimated eigenvalues do not reach the threshold (a truncated or shrunk spectrum), the
    result is ``k``, a lower bound.
    """
    check_fraction("delta", delta, high_open=True)
    check_choice("convention", convention, ("code", "paper"))
    check_positive("total", total, allow_zero=True)
    if not torch.isfinite(eigenvalues).all():
        raise ValueError("eigenvalues contain NaN or inf: check the gradients they were estimated from")
    if total == 0:
        return 0
    energy = eigenvalues.double().cumsum(0) / total
    reached = energy > delta**2 if convention == "code" else energy >= delta - 1e-12
    hits = reached.nonzero()
    return int(hits[0]) + 1 if len(hits) else len(eigenvalues)


class ActiveSubspace:
    """Estimator of the active subspace of ``C = E[g g^T]`` from gradient rows ``(m, n)``.

    Args:
        method: ``"exact"``, ``"randomized"``, ``"frequent_directions"``, ``"gram"`` or ``"auto"`` (resolved
            to ``"gram"`` or ``"frequent_directions"`` by the first batch's width, see the module docstring).
        rank: number of directions to keep (default: all the method provides).
        sketch_size: ``l`` of Frequent Directions (default ``min(400, floor(0.8 n))`` as in the paper).
        oversample, power_iters: randomized SVD settings.
        seed: seed of the randomized SVD.

    After :meth:`fit` or :meth:`partial_fit`: ``eigenvalues`` ``(k,)`` (units of the squared
    gradient), ``components`` ``(n, k)`` orthonormal columns, ``trace`` (exact mean squared
    gradient norm), ``n_samples``, ``dim``.
    """

    def __init__(self, method: Method = "exact", *, rank: int | None = None, sketch_size: int | None = None,
                 oversample: int = 10, power_iters: int = 4, seed: int = 0):
        check_choice("method", method, METHODS)
        if rank is not None:
            check_positive("rank", rank, integer=True)
        if sketch_size is not None and not (isinstance(sketch_size, int) and sketch_size >= 2):
            raise ValueError(f"sketch_size must be an int >= 2, got {sketch_size!r}")
        check_positive("oversample", oversample, integer=True, allow_zero=True)
        check_positive("power_iters", power_iters, integer=True, allow_zero=True)
        self.method, self.rank, self.sketch_size = method, rank, sketch_size
        self.oversample, self.power_iters, self.seed = oversample, power_iters, seed
        self.reset()

    def reset(self) -> "ActiveSubspace":
        self.n_samples, self.dim, self.squared_norm_sum = 0, None, 0.0
        self._rows: list[torch.Tensor] = []
        # frequent directions: _buffer[:k] holds the shrunk sketch (orthogonal rows of norms _sigma, float64),
        # _buffer[k:k + _filled] the rows added since; 2 l rows (l once folded) are folded into _spare
        self._buffer: torch.Tensor | None = None
        self._spare: torch.Tensor | None = None
        self._sigma = torch.zeros(0, dtype=torch.float64)
        self._filled, self._folded = 0, False
        self._gram: torch.Tensor | None = None  # method "gram": G^T G (n, n), float64
        self._dtype = torch.get_default_dtype()  # of the gradients, and so of the directions
        self.shrinkage = 0.0
        self._result: tuple[torch.Tensor, torch.Tensor] | None = None
        return self

    # ------------------------------------------------------------------ data in
    def _check_rows(self, gradients: torch.Tensor) -> tuple[torch.Tensor, float]:
        """The gradients as rows ``(b, n)`` and their energy ``sum g^2`` (float64, one pass, which also finds
        NaN and inf: an infinite energy from finite float32 values is impossible)."""
        if not isinstance(gradients, torch.Tensor):
            raise ValueError(f"gradients must be a tensor (m, n), got {type(gradients).__name__}")
        rows = gradients.detach().flatten(1) if gradients.ndim > 2 else gradients.detach()
        if rows.is_complex():
            raise TypeError(f"gradients must be real, got dtype {rows.dtype}")
        if not rows.is_floating_point():
            rows = rows.to(torch.get_default_dtype())  # integer or boolean gradients are numbers
        if rows.ndim != 2:
            raise ValueError(f"gradients must be (m, n) or (m, *layer_shape), got shape {tuple(gradients.shape)}")
        if self.dim is not None and rows.shape[1] != self.dim:
            raise ValueError(f"gradients have {rows.shape[1]} columns but this estimator holds {self.dim}")
        energy = float(torch.linalg.vector_norm(rows, dtype=torch.float64)) ** 2
        if not math.isfinite(energy):
            bad = (~torch.isfinite(rows)).any(dim=1).nonzero().flatten().tolist()
            if not bad:
                raise ValueError("the gradients' squared norm overflows float64 (entries above about 1e154); "
                                 "rescale the function whose gradients these are")
            raise NonFiniteError(f"gradients contain NaN or inf values in rows {bad[:10]}; check the model "
                                 "and the inputs (e.g. a loss that overflows or an uninitialised layer).")
        if self.rank is not None and self.rank > rows.shape[1]:
            raise ValueError(f"rank {self.rank} is larger than the layer's {rows.shape[1]} neurons; "
                             f"choose rank <= {rows.shape[1]}")
        return rows, energy

    @property
    def ell(self) -> int:
        """Frequent-Directions sketch size ``l``."""
        if self.dim is None:
            raise RuntimeError("no data yet: call fit() or partial_fit() first")
        return self.sketch_size or max(2, min(400, int(0.8 * self.dim)))

    def partial_fit(self, gradients: torch.Tensor) -> "ActiveSubspace":
        """Add a batch of gradient rows ``(b, n)`` (or ``(b, *layer_shape)``, flattened)."""
        rows, energy = self._check_rows(gradients)
        if len(rows) == 0:
            return self
        self.dim, self._dtype = rows.shape[1], rows.dtype
        if self.method == "auto":
            self.method = streaming_method(self.dim, self.ell)
        self.n_samples += len(rows)
        self.squared_norm_sum += energy
        self._result = None
        if self.method == "gram":
            exact = rows.double()
            self._gram = exact.T @ exact if self._gram is None else self._gram.addmm_(exact.T, exact)
            return self
        if self.method != "frequent_directions":
            self._rows.append(rows)
            return self
        ell = self.ell
        if self._buffer is None:
            self._buffer, self._spare = rows.new_empty(2 * ell, self.dim), rows.new_empty(2 * ell, self.dim)
        start = 0
        while start < len(rows):
            k, capacity = len(self._sigma), ell if self._folded else 2 * ell
            take = min(len(rows) - start, capacity - self._filled)
            self._buffer[k + self._filled:k + self._filled + take] = rows[start:start + take]
            self._filled += take
            start += take
            if self._filled == capacity:
                self._fold()
        return self

    def _fold(self) -> None:
        """Shrink the sketch and its ``l`` new rows (:func:`~aslib.frequent_directions.shrink_rows`) into the
        spare buffer, which becomes the buffer."""
        rows = self._buffer[:len(self._sigma) + self._filled]
        self._sigma, delta = shrink_rows(rows, self._sigma, self.ell, self._spare)
        self._buffer, self._spare = self._spare, self._buffer
        self.shrinkage += delta
        self._filled, self._folded = 0, True

    def fit(self, gradients: torch.Tensor) -> "ActiveSubspace":
        """Estimate from all gradient rows ``(m, n)`` at once (resets earlier data)."""
        self.reset()
        if isinstance(gradients, torch.Tensor) and gradients.ndim and len(gradients) == 0:
            raise ValueError("no gradient rows given: fit() needs at least one sample")
        return self.partial_fit(gradients)

    def state(self) -> dict:
        """The estimator's data as plain tensors and numbers (to send between processes)."""
        rows = self.sketch if self.method == "frequent_directions" and self.n_samples else (
            self.gradients if self._rows else None)
        return {"method": self.method, "rank": self.rank, "sketch_size": self.sketch_size, "dim": self.dim,
                "n_samples": self.n_samples, "squared_norm_sum": self.squared_norm_sum, "shrinkage": self.shrinkage,
                "dtype": str(self._dtype).removeprefix("torch."),
                "rows": None if rows is None else rows.detach().cpu(),
                "gram": None if self._gram is None else self._gram.cpu()}

    @classmethod
    def from_state(cls, state: dict, device: torch.device | str = "cpu") -> "ActiveSubspace":
        """Rebuild an estimator from :meth:`state` (rows are re-inserted without further shrinking)."""
        est = cls(state["method"], rank=state["rank"], sketch_size=state["sketch_size"])
        est.dim, est._dtype = state["dim"], getattr(torch, state["dtype"])
        est.n_samples, est.squared_norm_sum, est.shrinkage = (state["n_samples"], state["squared_norm_sum"],
                                                              state["shrinkage"])
        if state["gram"] is not None:
            est._gram = state["gram"].to(device)
        if state["rows"] is None:
            return est
        rows = state["rows"].to(device)
        if est.method == "frequent_directions":
            evals, vecs = stacked_eigh(rows, est._sigma)  # the same rows, made orthogonal: no shrinkage
            size = max(2 * est.ell, len(evals) + est.ell)
            est._buffer, est._spare = rows.new_empty(size, est.dim), rows.new_empty(size, est.dim)
            torch.matmul(vecs.T.to(rows.dtype), rows, out=est._buffer[:len(evals)])
            est._sigma, est._folded = evals.sqrt(), True
        else:
            est._rows = [rows]
        return est

    def merge(self, other: "ActiveSubspace") -> "ActiveSubspace":
        """Fold another estimator of the same method and dimension into this one (in place)."""
        if self.method == "auto" and self.n_samples == 0:
            self.method = other.method
        if other.method != self.method:
            raise ValueError(f"cannot merge a {other.method!r} estimator into a {self.method!r} one")
        if other.n_samples == 0:
            return self
        if self.dim is not None and other.dim != self.dim:
            raise ValueError(f"cannot merge dimension {other.dim} into dimension {self.dim}")
        if self.method == "gram":
            self._gram = other._gram.clone() if self._gram is None else self._gram.add_(other._gram)
            self.dim, self._dtype = other.dim, other._dtype
        elif self.method != "frequent_directions":
            self._rows.extend(other._rows)
            self.dim = other.dim
        else:
            if self.dim is None:
                self.dim, self.sketch_size = other.dim, self.sketch_size or other.sketch_size
            rows = other.sketch
            n, s = self.n_samples, self.squared_norm_sum
            self.partial_fit(rows)
            self.n_samples, self.squared_norm_sum = n, s
            self.shrinkage += other.shrinkage
        self.n_samples += other.n_samples
        self.squared_norm_sum += other.squared_norm_sum
        self._result = None
        return self

    @property
    def sketch(self) -> torch.Tensor:
        """The current Frequent-Directions sketch rows ``(p, n)`` (``B`` with ``B^T B ≈ G^T G``): the shrunk
        sketch (orthogonal rows) followed by the rows not yet folded in."""
        if self.method != "frequent_directions":
            raise AttributeError("only the frequent_directions method keeps a sketch")
        if self.n_samples == 0:
            raise RuntimeError("no data yet: call fit() or partial_fit() first")
        return self._buffer[:len(self._sigma) + self._filled]

    @property
    def stored_numbers(self) -> int:
        """How many numbers the estimator holds: the sketch's or the gradients' entries, or the Gram's ``n^2``."""
        if self.n_samples == 0:
            return 0
        if self.method == "frequent_directions":
            return self.sketch.numel()
        return self._gram.numel() if self.method == "gram" else self.gradients.numel()

    @property
    def gradients(self) -> torch.Tensor:
        """All stored gradient rows ``(m, n)`` (exact and randomized methods only)."""
        if self.method in ("frequent_directions", "gram"):
            raise AttributeError(f"{self.method} does not store gradients; use method='exact' to keep them")
        if not self._rows:
            raise RuntimeError("no data yet: call fit() or partial_fit() first")
        if len(self._rows) > 1:
            self._rows = [torch.cat(self._rows)]
        return self._rows[0]

    # ------------------------------------------------------------------ results
    def _solve(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.n_samples == 0:
            raise RuntimeError("no data yet: call fit() or partial_fit() with at least one gradient row")
        if self._result is not None:
            return self._result
        if self.method == "frequent_directions":
            sigma, v = sketch_directions(self.sketch)
        elif self.method == "gram":
            evals, vecs = torch.linalg.eigh(self._gram)
            keep = min(self.n_samples, self.dim)
            sigma = evals.flip(0)[:keep].clamp_min(0).sqrt().to(self._dtype)
            v = vecs.flip(1)[:, :keep].to(self._dtype)
        else:
            sigma, v = top_directions(self.gradients, None, self.method, seed=self.seed, oversample=self.oversample,
                                      power_iters=self.power_iters, rank_hint=self.rank)
        k = len(sigma) if self.rank is None else min(self.rank, len(sigma))
        self._result = (sigma[:k] ** 2 / self.n_samples, v[:, :k])
        return self._result

    @property
    def eigenvalues(self) -> torch.Tensor:
        """Estimated eigenvalues ``(k,)`` of ``C``, descending."""
        return self._solve()[0]

    @property
    def components(self) -> torch.Tensor:
        """Estimated eigenvectors ``(n, k)`` of ``C`` as orthonormal columns (sign arbitrary)."""
        return self._solve()[1]

    def leading(self, rank: int) -> torch.Tensor:
        """The ``rank`` leading directions ``(n, rank)``, orthonormal columns.

        When ``C`` itself has fewer nonzero eigenvalues than ``rank`` (e.g. the loss gradient behind a
        linear post-model spans only ``K - 1`` directions) and the estimate lost nothing to it (an exact
        method, or a sketch whose shrinkage is rounding: below ten epsilons of the gradients' dtype times their
        energy), the rest are an orthonormal basis of part of ``C``'s
        null space, seeded by ``seed``: every such completion is an eigenbasis of ``C``. Raises ValueError
        when the directions are missing because a sketch was too small.
        """
        check_positive("rank", rank, integer=True)
        found = self.components
        if rank > found.shape[0]:
            raise ValueError(f"rank={rank} is larger than the {found.shape[0]} neurons; "
                             f"choose rank <= {found.shape[0]}")
        if rank <= found.shape[1]:
            return found[:, :rank]
        if self.shrinkage > 10 * torch.finfo(found.dtype).eps * self.squared_norm_sum:
            raise ValueError(f"rank={rank} but the sketch holds only {found.shape[1]} directions; use a larger "
                             "sketch_size (at least rank + 1) or the exact method")
        generator = torch.Generator().manual_seed(self.seed)
        extra = torch.randn(found.shape[0], rank - found.shape[1], generator=generator, dtype=torch.float64)
        extra -= found.double() @ (found.double().T @ extra)
        completion = torch.linalg.qr(extra).Q
        return torch.cat([found, completion.to(found)], dim=1)

    @property
    def trace(self) -> float:
        """Exact ``trace(C)`` = mean squared gradient norm over all samples seen."""
        return self.squared_norm_sum / max(self.n_samples, 1)

    def transform(self, activations: torch.Tensor, rank: int | None = None) -> torch.Tensor:
        """Active variables ``z = V_1^T x`` ``(B, rank)`` for activations ``(B, n)`` or ``(B, *layer_shape)``."""
        v = self.components
        rank = v.shape[1] if rank is None else rank
        check_positive("rank", rank, integer=True)
        if rank > v.shape[1]:
            raise ValueError(f"rank={rank} but only {v.shape[1]} directions were estimated; "
                             f"refit with rank >= {rank} (layer has {self.dim} neurons)")
        x = activations.flatten(1)
        if x.shape[1] != self.dim:
            raise ValueError(f"activations have {x.shape[1]} features, the subspace was fitted on {self.dim}")
        return x @ v[:, :rank].to(x.dtype)

    def n_active(self, delta: float = 0.95, convention: Literal["code", "paper"] = "code") -> int:
        """Number of active neurons (Definition 3.1, see the module docstring), 1-based."""
        return count_active(self.eigenvalues, self.trace, delta, convention)

    def n_active_authors(self, delta: float = 0.95) -> int:
        """The authors' ``active_eigs``: 0-based index over the estimated spectrum only (= count - 1)."""
        eig = self.eigenvalues
        return count_active(eig, float(eig.sum()), delta, "code") - 1

    def bootstrap(self, n_boot: int = 200, rank: int | None = None, level: float = 0.9,
                  seed: int = 0) -> dict[str, torch.Tensor]:
        """Bootstrap intervals of the eigenvalues and of the distance of the ``rank``-dimensional subspace.

        Resamples the stored gradient rows with replacement ``n_boot`` times (exact/randomized
        methods). Returns ``eigenvalues_low``/``eigenvalues_high`` ``(k,)`` at the given two-sided
        level, and ``distances`` ``(n_boot,)`` between the full-sample and resampled subspaces.
        """
        check_positive("n_boot", n_boot, integer=True)
        check_fraction("level", level, high_open=True)
        g = self.gradients
        m = len(g)
        k = min(m, g.shape[1])
        if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= k):
            raise ValueError(f"rank must be an int in 1..{k} (the directions {m} rows of {g.shape[1]} values have) "
                             f"or None, got {rank!r}")
        r = rank or min(k, self.rank or k)
        generator = torch.Generator().manual_seed(seed)
        base = self.components[:, :r]
        gram_side = m <= g.shape[1]
        kernel = (g @ g.T) if gram_side else None
        eigs, dists = [], []
        for _ in range(n_boot):
            idx = torch.randint(0, m, (m,), generator=generator).to(g.device)
            if gram_side:
                sub = kernel[idx][:, idx]
                evals, u = torch.linalg.eigh(sub)
                evals, u = evals.flip(0).clamp_min(0), u.flip(1)
                v = g[idx].T @ u[:, :r] / evals[:r].sqrt().clamp_min(1e-30)
            else:
                evals, v = torch.linalg.eigh(g[idx].T @ g[idx])
                evals, v = evals.flip(0).clamp_min(0), v.flip(1)[:, :r]
            eigs.append(evals[:k] / m)
            dists.append(subspace_distance(torch.linalg.qr(v)[0], base))
        eigs_t = torch.stack(eigs)
        alpha = (1 - level) / 2
        return {"eigenvalues_low": eigs_t.quantile(alpha, dim=0), "eigenvalues_high": eigs_t.quantile(1 - alpha, dim=0),
                "distances": torch.tensor(dists)}

    def summary(self, deltas: tuple[float, ...] = (0.9, 0.95, 0.99), leading: int = 5) -> dict:
        """Plain-dict summary: method, neurons, samples, directions estimated, fraction of the trace they
        capture, active neurons per threshold, leading eigenvalues.

        A count equal to ``directions`` is a lower bound: the estimated spectrum (e.g. a shrunk
        frequent-directions sketch, which captures ``captured`` of the trace) never reached the
        threshold; use a larger ``sketch_size`` or ``method="exact"``.
        """
        out = {"method": self.method, "neurons": self.dim, "samples": self.n_samples, "trace": self.trace,
               "directions": len(self.eigenvalues), "captured": float(self.eigenvalues.sum()) / max(self.trace, 1e-300)}
        out.update({f"active@{d}": self.n_active(d) for d in deltas})
        out["active_authors@0.95"] = self.n_active_authors(0.95)
        out["leading_eigenvalues"] = [float(e) for e in self.eigenvalues[:leading]]
        return out


def streaming_method(n: int, ell: int) -> Literal["gram", "frequent_directions"]:
    """The cheaper streaming estimator for ``n`` neurons and sketch size ``ell``, by multiply-adds per
    gradient row: ``"gram"`` (``n^2``, exact) when ``n^2 <= 4 ell n + 36 ell^2``, i.e.
    ``n <= (2 + sqrt(40)) ell``, else ``"frequent_directions"`` (``4 ell n`` for the products of a fold of
    ``ell`` rows, ``36 ell^2`` for its ``2 ell x 2 ell`` eigenproblem at ``9 p^3`` flops).
    """
    check_positive("n", n, integer=True)
    check_positive("ell", ell, integer=True)
    return "gram" if n * n <= 4 * ell * n + 36 * ell * ell else "frequent_directions"


def relative_energy(eigenvalues: torch.Tensor, total: float) -> torch.Tensor:
    """Cumulative fraction of ``total`` captured by the leading eigenvalues ``(k,)`` (zeros when ``total`` is 0)."""
    check_positive("total", total, allow_zero=True)
    return eigenvalues.double().cumsum(0) / total if total > 0 else torch.zeros_like(eigenvalues, dtype=torch.double)


class LayerAnalysis(dict):
    """``{layer name: ActiveSubspace}`` from :func:`layer_subspaces`, with a tabular summary."""

    def table(self, deltas: tuple[float, ...] = (0.9, 0.95, 0.99), leading: int = 3) -> list[dict]:
        """One row per layer: name, neurons, samples, active neurons per threshold, leading eigenvalues."""
        return [{"layer": name, **est.summary(deltas, leading)} for name, est in self.items()]


def fit_layers(estimators: dict[str, ActiveSubspace], gradients: dict[str, torch.Tensor],
               pool: ThreadPoolExecutor | None = None) -> None:
    """Feed one batch of every layer's gradient rows ``{name: (b, n_layer)}`` to that layer's estimator.

    With a ``pool`` of workers and CPU gradients, the layers run concurrently, the widest first;
    :func:`layer_subspaces` shares the caller's torch threads out among one worker per layer (one thread each
    when there are more layers than threads). The folds' small float64 eigenproblems and the per-batch
    copies gain little from a second thread, so one layer per core is faster than the layers one after
    another at all threads (``benchmarks/bench_subspace.py`` prints both). Each estimator still sees its
    batches in order, so its result is that of sequential ``partial_fit`` calls at the workers' thread
    count. On a GPU the layers run in turn.
    """
    names = list(estimators)
    if set(gradients) != set(names):
        missing, unexpected = sorted(set(names) - set(gradients)), sorted(set(gradients) - set(names))
        raise ValueError(f"fit_layers needs one gradient batch per estimator: missing {missing}, unexpected "
                         f"{unexpected}; pass the same layer names in both")
    if pool is None or any(gradients[name].device.type != "cpu" for name in names):
        for name in names:
            estimators[name].partial_fit(gradients[name])
        return
    widest_first = sorted(names, key=lambda name: -gradients[name][:1].numel())
    for done in [pool.submit(estimators[name].partial_fit, gradients[name]) for name in widest_first]:
        done.result()


def layer_subspaces(model: torch.nn.Module, layers: Sequence[str] | str, data, *,
                    method: Method = "frequent_directions", function="loss", rank: int | None = None,
                    sketch_size: int | None = None, train_mode: bool = False, batch_size: int = 128,
                    max_batches: int | None = None, progress: bool = False) -> LayerAnalysis:
    """Active subspaces of several layers from one pass over ``data``.

    Args:
        model: any ``nn.Module`` returning logits; analysed in eval mode unless ``train_mode``.
        layers: names from ``model.named_modules()`` (or ``"input"``), e.g. ``cut_points(model)``.
        data: a dataset, an iterable of ``(x, y)`` batches, or a pair of tensors.
        method, rank, sketch_size: passed to :class:`ActiveSubspace` (one per layer).
        function: ``"loss"`` (cross-entropy), ``"logit"`` (minus true-class logit) or a callable.
    Under ``torch.distributed`` each rank sketches its shard of ``data`` and the sketches are
    merged (in rank order) so that every rank holds the same estimate. On the CPU the layers' estimators
    take each batch concurrently (:func:`fit_layers`).
    Returns:
        :class:`LayerAnalysis` mapping each layer to its fitted estimator.
    """
    names = [layers] if isinstance(layers, str) else list(layers)
    data = local_share(data, batch_size)
    result = LayerAnalysis((n, ActiveSubspace(method, rank=rank, sketch_size=sketch_size)) for n in names)
    stream = layer_gradients(model, names, data, function=function, train_mode=train_mode,
                             batch_size=batch_size, max_batches=max_batches)
    threads = torch.get_num_threads()
    workers = min(threads, len(names))
    with ThreadPoolExecutor(workers, initializer=torch.set_num_threads, initargs=(threads // workers,)) \
            if workers > 1 else nullcontext() as pool:
        for grads in tqdm(stream, disable=not progress, desc="gradients", leave=False):
            fit_layers(result, grads, pool)
    if is_distributed():
        device = next(model.parameters()).device
        for name in names:
            parts = all_gather(result[name].state())
            merged = ActiveSubspace.from_state(parts[0], device)
            for part in parts[1:]:
                merged.merge(ActiveSubspace.from_state(part, device))
            result[name] = merged
    return result


__all__ = ["ActiveSubspace", "LayerAnalysis", "layer_subspaces", "METHODS", "SOLVERS", "count_active",
           "fit_layers", "frequent_directions_bound", "relative_energy", "shrink", "streaming_method",
           "subspace_distance", "top_directions"]
