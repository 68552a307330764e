"""The estimator :class:`ActiveSubspace`: checks the gradient rows, counts samples and energy, and leaves the
rows to one store (:mod:`aslib.linalg.subspace.storage`) chosen by its method."""
from __future__ import annotations

import math
from typing import Literal

import torch
from jaxtyping import Shaped
from torch import Tensor

from aslib._utils import NonFiniteError
from aslib.contracts import Count, CountOrZero, Fraction, contract
from aslib.linalg.subspace.solvers import SOLVERS, count_active, streaming_method
from aslib.linalg.subspace.storage import Gram, Sketch, StoredRows, make_store

Method = Literal["exact", "randomized", "frequent_directions", "gram", "auto"]
METHODS = SOLVERS + ("gram", "auto")


def _gradient_rows(gradients: Tensor, dim: int | None, rank: int | None) -> tuple[Tensor, float]:
    """The gradients as rows ``(b, n)`` and their energy ``sum g^2`` (float64, one pass, which also finds NaN and
    inf: an infinite energy from finite float32 values is impossible); ``dim`` the width seen so far."""
    rows = gradients.detach().flatten(1) if gradients.ndim > 2 else gradients.detach()
    if rows.is_complex():
        raise TypeError(f"gradients must be real, got dtype {rows.dtype}")
    if not rows.is_floating_point():
        rows = rows.to(torch.get_default_dtype())  # integer or boolean gradients are numbers
    if rows.ndim != 2:
        raise ValueError(f"gradients must be (m, n) or (m, *layer_shape), got shape {tuple(gradients.shape)}")
    if dim is not None and rows.shape[1] != dim:
        raise ValueError(f"gradients have {rows.shape[1]} columns but this estimator holds {dim}")
    energy = float(torch.linalg.vector_norm(rows, dtype=torch.float64)) ** 2
    if not math.isfinite(energy):
        bad = (~torch.isfinite(rows)).any(dim=1).nonzero().flatten().tolist()
        if not bad:
            raise ValueError("the gradients' squared norm overflows float64 (entries above about 1e154); "
                             "rescale the function whose gradients these are")
        raise NonFiniteError(f"gradients contain NaN or inf values in rows {bad[:10]}; check the model "
                             "and the inputs (e.g. a loss that overflows or an uninitialised layer).")
    if rank is not None and rank > rows.shape[1]:
        raise ValueError(f"rank {rank} is larger than the layer's {rows.shape[1]} neurons; "
                         f"choose rank <= {rows.shape[1]}")
    return rows, energy


class ActiveSubspace:
    """Estimator of the active subspace of ``C = E[g g^T]`` from gradient rows ``(m, n)``.

    Args:
        method: ``"exact"``, ``"randomized"``, ``"frequent_directions"``, ``"gram"`` or ``"auto"`` (resolved
            to ``"gram"`` or ``"frequent_directions"`` by the first batch's width, see :mod:`aslib.linalg.subspace`).
        rank: number of directions to keep (default: all the method provides).
        sketch_size: ``l`` of Frequent Directions (default ``min(400, floor(0.8 n))`` as in the paper).
        oversample, power_iters: randomized SVD settings.
        seed: seed of the randomized SVD.

    After :meth:`fit` or :meth:`partial_fit`: ``method_`` (the method in use, ``"auto"`` resolved),
    ``eigenvalues`` ``(k,)`` (units of the squared gradient), ``components`` ``(n, k)`` orthonormal columns,
    ``trace`` (exact mean squared gradient norm), ``n_samples``, ``dim``.
    """

    @contract
    def __init__(self, method: Method = "exact", *, rank: Count | None = None, sketch_size: Count | None = None,
                 oversample: CountOrZero = 10, power_iters: CountOrZero = 4, seed: int = 0):
        if sketch_size is not None and sketch_size < 2:
            raise ValueError(f"sketch_size must be an int >= 2, got {sketch_size!r}")
        self.method, self.rank, self.sketch_size = method, rank, sketch_size
        self.oversample, self.power_iters, self.seed = oversample, power_iters, seed
        self.reset()

    def reset(self) -> "ActiveSubspace":
        self.n_samples, self.dim, self.squared_norm_sum, self.method_ = 0, None, 0.0, None
        self._store: StoredRows | Sketch | Gram | None = None
        self._dtype = torch.get_default_dtype()  # of the gradients, and so of the directions
        self._result: tuple[torch.Tensor, torch.Tensor] | None = None
        return self

    @property
    def ell(self) -> int:
        """Frequent-Directions sketch size ``l``."""
        if self.dim is None:
            raise RuntimeError("no data yet: call fit() or partial_fit() first")
        return self.sketch_size or max(2, min(400, int(0.8 * self.dim)))

    def _start(self, dim: int, method: str | None = None) -> None:
        """Fix the width and the method (``"auto"`` resolved by :func:`streaming_method`) and open the store."""
        self.dim = dim
        self.method_ = method or (streaming_method(dim, self.ell) if self.method == "auto" else self.method)
        self._store = make_store(self.method_, ell=self.ell, seed=self.seed, oversample=self.oversample,
                                 power_iters=self.power_iters, rank_hint=self.rank)

    @contract
    def partial_fit(self, gradients: Shaped[Tensor, "m ..."]) -> "ActiveSubspace":
        """Add a batch of gradient rows ``(b, n)`` (or ``(b, *layer_shape)``, flattened)."""
        rows, energy = _gradient_rows(gradients, self.dim, self.rank)
        if len(rows) == 0:
            return self
        if self._store is None:
            self._start(rows.shape[1])
        self._dtype = rows.dtype
        self._store.add(rows)
        return self._counted(len(rows), energy)

    @contract
    def fit(self, gradients: Shaped[Tensor, "m ..."]) -> "ActiveSubspace":
        """Estimate from all gradient rows ``(m, n)`` at once (resets earlier data)."""
        self.reset()
        if gradients.ndim and len(gradients) == 0:
            raise ValueError("no gradient rows given: fit() needs at least one sample")
        return self.partial_fit(gradients)

    def state(self) -> dict:
        """The estimator's data as plain tensors and numbers (to send between processes)."""
        data = self._store.state() if self.n_samples else {"rows": None, "gram": None}
        return {"method": self.method_ or self.method, "rank": self.rank, "sketch_size": self.sketch_size,
                "dim": self.dim, "n_samples": self.n_samples, "squared_norm_sum": self.squared_norm_sum,
                "shrinkage": self.shrinkage, "dtype": str(self._dtype).removeprefix("torch."), **data}

    @classmethod
    def from_state(cls, state: dict, device: torch.device | str = "cpu") -> "ActiveSubspace":
        """Rebuild an estimator from :meth:`state` (rows are re-inserted without further shrinking)."""
        est = cls(state["method"], rank=state["rank"], sketch_size=state["sketch_size"])
        est._dtype, est.n_samples, est.squared_norm_sum = (getattr(torch, state["dtype"]), state["n_samples"],
                                                           state["squared_norm_sum"])
        if state["n_samples"]:
            est._start(state["dim"])
            est._store.load(state, device)
        return est

    @contract
    def merge(self, other: "ActiveSubspace") -> "ActiveSubspace":
        """Fold another estimator of the same method and dimension into this one (in place)."""
        theirs = other.method_ or other.method
        mine = self.method_ or (theirs if self.method == "auto" else self.method)
        if theirs != mine:
            raise ValueError(f"cannot merge a {theirs!r} estimator into a {mine!r} one")
        if other.n_samples == 0:
            return self
        if self.dim is not None and other.dim != self.dim:
            raise ValueError(f"cannot merge dimension {other.dim} into dimension {self.dim}")
        if self._store is None:
            self.sketch_size, self._dtype = self.sketch_size or other.sketch_size, other._dtype
            self._start(other.dim, mine)
        self._store.merge(other._store)
        return self._counted(other.n_samples, other.squared_norm_sum)

    def _counted(self, rows: int, energy: float) -> "ActiveSubspace":
        """Count ``rows`` more samples of gradient ``energy``; the spectrum is solved again when next read."""
        self.n_samples, self.squared_norm_sum = self.n_samples + rows, self.squared_norm_sum + energy
        self._result = None
        return self

    @property
    def store(self) -> StoredRows | Sketch | Gram:
        """Where the rows went (:mod:`aslib.linalg.subspace.storage`): the stored ``gradients`` ``(m, n)`` (exact and
        randomized), the Frequent-Directions ``sketch`` ``(p, n)``, or the Gram ``matrix`` ``(n, n)``; each
        with ``stored_numbers``, how many numbers it holds."""
        if self.n_samples == 0:
            raise RuntimeError("no data yet: call fit() or partial_fit() first")
        return self._store

    @property
    def shrinkage(self) -> float:
        """Gradient energy (sum of squares) the store discarded: positive for a shrunk sketch only."""
        return self._store.shrinkage if self._store is not None else 0.0

    def _solve(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.n_samples == 0:
            raise RuntimeError("no data yet: call fit() or partial_fit() with at least one gradient row")
        if self._result is None:
            sigma, v = self._store.solve(self.n_samples, self._dtype)
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

    @property
    def trace(self) -> float:
        """Exact ``trace(C)`` = mean squared gradient norm over all samples seen."""
        return self.squared_norm_sum / max(self.n_samples, 1)

    @contract
    def n_active(self, delta: Fraction = 0.95, convention: Literal["code", "paper"] = "code") -> int:
        """Number of active neurons (Definition 3.1, see :mod:`aslib.linalg.subspace`), 1-based."""
        return count_active(self.eigenvalues, self.trace, delta, convention)
