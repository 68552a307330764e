"""The three ways :class:`~aslib.linalg.subspace.ActiveSubspace` holds its gradient rows, one class each with the same
duties: ``add`` a batch of rows ``(b, n)``, ``merge`` another store of its kind, ``state``/``load`` for sending
between processes, ``stored_numbers``, ``shrinkage`` (gradient energy the store discarded) and ``solve``
(singular values ``(k,)`` and right singular vectors ``(n, k)`` of the rows seen, descending).

* :class:`StoredRows` (``"exact"``, ``"randomized"``): every row, solved by
  :func:`~aslib.linalg.subspace.top_directions`;
* :class:`Sketch` (``"frequent_directions"``): a Frequent Directions buffer of at most ``2 l`` rows;
* :class:`Gram` (``"gram"``): ``G^T G`` ``(n, n)`` in float64.
"""
from __future__ import annotations

from typing import Any, Literal

import torch

from aslib.contracts import Count, contract
from aslib.linalg.frequent_directions import shrink_rows, sketch_directions, stacked_eigh
from aslib.linalg.subspace.solvers import top_directions


def _descending_eigh(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues ``(p,)`` (descending, negative rounding clamped to 0) and eigenvectors ``(p, p)`` (columns,
    in the same order) of a symmetric positive semi-definite ``matrix`` ``(p, p)``, in its dtype."""
    evals, vecs = torch.linalg.eigh(matrix)
    return evals.flip(0).clamp_min(0), vecs.flip(1)


class StoredRows:
    """Every gradient row, kept on its device; ``method`` ``"exact"`` or ``"randomized"`` (with the randomized SVD's
    ``seed``, ``oversample``, ``power_iters`` and ``rank_hint``)."""

    shrinkage = 0.0

    @contract
    def __init__(self, method: Literal["exact", "randomized"], **options: Any):
        self.method, self.options = method, options
        self._rows: list[torch.Tensor] = []
        self._kernel: torch.Tensor | None = None  # G G^T (m, m) of the rows, for resampling wide rows

    def add(self, rows: torch.Tensor) -> None:
        self._rows.append(rows)
        self._kernel = None

    def merge(self, other: "StoredRows") -> None:
        self._rows.extend(other._rows)
        self._kernel = None

    @property
    def gradients(self) -> torch.Tensor:
        """All rows ``(m, n)``, concatenated once."""
        if len(self._rows) > 1:
            self._rows = [torch.cat(self._rows)]
        return self._rows[0]

    def state(self) -> dict:
        return {"rows": self.gradients.detach().cpu(), "gram": None}

    def load(self, state: dict, device: torch.device | str) -> None:
        self._rows, self._kernel = [state["rows"].to(device)], None

    @property
    def stored_numbers(self) -> int:
        return self.gradients.numel()

    def solve(self, n_samples: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        return top_directions(self.gradients, None, self.method, **self.options)

    def resample(self, index: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Eigenvalues ``(min(m, n),)`` of ``G_I^T G_I`` and its ``rank`` leading eigenvectors ``(n, rank)``
        (orthonormal columns) for the rows ``G_I`` picked by ``index`` ``(m,)`` (with repeats: a bootstrap
        resample). Solved on the smaller side by ``_descending_eigh``: ``G_I^T G_I`` ``(n, n)`` for tall rows,
        else the resample's block of the kernel ``G G^T`` ``(m, m)``, computed once for all resamples (a full
        SVD per resample of wide rows costs about 15 times more)."""
        g = self.gradients
        if len(g) <= g.shape[1]:
            if self._kernel is None:
                self._kernel = g @ g.T
            evals, u = _descending_eigh(self._kernel[index][:, index])
            v = g[index].T @ u[:, :rank] / evals[:rank].sqrt().clamp_min(1e-30)
        else:
            evals, v = _descending_eigh(g[index].T @ g[index])
            v = v[:, :rank]
        return evals[:min(g.shape)], torch.linalg.qr(v)[0]


class Sketch:
    """Frequent Directions with sketch size ``ell``: ``_buffer[:k]`` holds the shrunk sketch (orthogonal rows of
    norms ``_sigma``, float64), ``_buffer[k:k + _filled]`` the rows added since; ``2 l`` rows (``l`` once folded)
    are folded into ``_spare``, which becomes the buffer."""

    @contract
    def __init__(self, ell: Count):
        self.ell, self.shrinkage = ell, 0.0
        self._buffer: torch.Tensor | None = None
        self._spare: torch.Tensor | None = None
        self._sigma = torch.zeros(0, dtype=torch.float64)
        self._filled, self._folded = 0, False

    def add(self, rows: torch.Tensor) -> None:
        if self._buffer is None:
            shape = (2 * self.ell, rows.shape[1])
            self._buffer, self._spare = rows.new_empty(shape), rows.new_empty(shape)
        start = 0
        while start < len(rows):
            k, capacity = len(self._sigma), self.ell if self._folded else 2 * self.ell
            take = min(len(rows) - start, capacity - self._filled)
            self._buffer[k + self._filled:k + self._filled + take] = rows[start:start + take]
            self._filled += take
            start += take
            if self._filled == capacity:
                self._fold()

    def _fold(self) -> None:
        """Shrink the sketch and its new rows (:func:`~aslib.linalg.frequent_directions.shrink_rows`) into the spare
        buffer, which becomes the buffer."""
        self._sigma, delta = shrink_rows(self.sketch, self._sigma, self.ell, self._spare)
        self._buffer, self._spare = self._spare, self._buffer
        self.shrinkage += delta
        self._filled, self._folded = 0, True

    @property
    def sketch(self) -> torch.Tensor:
        """The sketch rows ``(p, n)``: the shrunk sketch (orthogonal rows) followed by the rows not yet folded."""
        return self._buffer[:len(self._sigma) + self._filled]

    def merge(self, other: "Sketch") -> None:
        self.add(other.sketch)
        self.shrinkage += other.shrinkage

    def state(self) -> dict:
        return {"rows": self.sketch.detach().cpu(), "gram": None}

    def load(self, state: dict, device: torch.device | str) -> None:
        """The state's rows, made orthogonal (:func:`~aslib.linalg.frequent_directions.stacked_eigh`) without
        shrinking."""
        rows = state["rows"].to(device)
        evals, vecs = stacked_eigh(rows, self._sigma)
        size = max(2 * self.ell, len(evals) + self.ell)
        self._buffer, self._spare = rows.new_empty(size, rows.shape[1]), rows.new_empty(size, rows.shape[1])
        torch.matmul(vecs.T.to(rows.dtype), rows, out=self._buffer[:len(evals)])
        self._sigma, self._folded, self.shrinkage = evals.sqrt(), True, state["shrinkage"]

    @property
    def stored_numbers(self) -> int:
        return self.sketch.numel()

    def solve(self, n_samples: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        return sketch_directions(self.sketch)


class Gram:
    """The exact ``G^T G`` ``(n, n)`` accumulated in float64."""

    shrinkage = 0.0

    def __init__(self):
        self.matrix: torch.Tensor | None = None

    def add(self, rows: torch.Tensor) -> None:
        exact = rows.double()
        self.matrix = exact.T @ exact if self.matrix is None else self.matrix.addmm_(exact.T, exact)

    def merge(self, other: "Gram") -> None:
        self.matrix = other.matrix.clone() if self.matrix is None else self.matrix.add_(other.matrix)

    def state(self) -> dict:
        return {"rows": None, "gram": self.matrix.cpu()}

    def load(self, state: dict, device: torch.device | str) -> None:
        self.matrix = state["gram"].to(device)

    @property
    def stored_numbers(self) -> int:
        return self.matrix.numel()

    def solve(self, n_samples: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``min(m, n)`` leading eigenpairs of ``G^T G`` as singular values and vectors, in ``dtype``."""
        evals, vecs = _descending_eigh(self.matrix)
        keep = min(n_samples, self.matrix.shape[0])
        return evals[:keep].sqrt().to(dtype), vecs[:, :keep].to(dtype)


@contract
def make_store(method: Literal["exact", "randomized", "frequent_directions", "gram"], *, ell: Count,
               **options: Any) -> StoredRows | Sketch | Gram:
    """The store of a resolved ``method`` (``options``: the randomized SVD's settings, for :class:`StoredRows`)."""
    if method == "frequent_directions":
        return Sketch(ell)
    return Gram() if method == "gram" else StoredRows(method, **options)
