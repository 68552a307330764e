"""Active-subspace studies as tidy tables (lists of dicts): checks of the estimators on known spectra
(notebook 01), the layers of a network and their neurons (notebook 02), and active neurons across
the layers of a trained network (notebook 03).

Every function takes the fitted :class:`~aslib.linalg.subspace.ActiveSubspace` estimators (or gradient rows
``(m, n)``) and returns one row per setting; the notebooks show them with ``nb.table``. Work stays
on the device of the given tensors.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from jaxtyping import Float
from torch import Tensor

from aslib._utils import model_device, model_mode
from aslib.contracts import Count, Fraction, PositiveReal, Shape, contract
from aslib.linalg.frequent_directions import frequent_directions_bound
from aslib.linalg.stats import estimate
from aslib.linalg.subspace import ActiveSubspace, bootstrap, count_active, n_active_authors, subspace_distance, summary
from aslib.nets.models import cut_points

__all__ = ["authors_counts", "captured_energy", "compare_estimators", "compare_subspaces", "count_by_images",
           "count_conventions", "count_reliability", "cut_neurons", "fd_bound_table", "layer_table", "stability_table"]

DELTAS = (0.9, 0.95, 0.99)


def _nonempty(name: str, items: Any) -> None:
    if len(items) == 0:
        raise ValueError(f"{name} is empty: give at least one")


def _gradient_rows(gradients: torch.Tensor) -> torch.Tensor:
    if gradients.ndim != 2 or len(gradients) == 0:
        raise ValueError(f"gradients must be a non-empty (m, n) matrix, got shape {tuple(gradients.shape)}")
    return gradients


# ---------------------------------------------------------------- estimators on known spectra (notebook 01)
@contract
def stability_table(subspaces: Mapping[str, ActiveSubspace], *, ranks: Sequence[Count] = (1, 2), n_boot: Count = 200,
                    seed: int = 0) -> list[dict[str, Any]]:
    """Eigenvalue gap against bootstrap stability: one row per function x rank ``r``.

    ``subspaces`` maps a function's name to an exact (or randomized) estimator, which keeps its
    gradient rows. Each row holds ``lambda_r``, ``lambda_r_plus_1`` (units of the squared gradient) and
    the median subspace distance (in [0, 1]) of ``n_boot`` resampled ``r``-dimensional subspaces.
    """
    _nonempty("subspaces", subspaces)
    _nonempty("ranks", ranks)
    rows = []
    for name, est in subspaces.items():
        for r in ranks:
            if not 1 <= r < len(est.eigenvalues):
                raise ValueError(f"rank {r} needs 1 <= r < {len(est.eigenvalues)} (eigenvalues of {name!r})")
            dists = bootstrap(est, n_boot=n_boot, rank=r, seed=seed)["distances"]
            rows.append({"function": name, "rank": r, "lambda_r": float(est.eigenvalues[r - 1]),
                         "lambda_r_plus_1": float(est.eigenvalues[r]),
                         "median_bootstrap_distance": float(dists.median())})
    return rows


@contract
def compare_estimators(estimators: Mapping[str, ActiveSubspace], reference: ActiveSubspace,
                       truth: Float[Tensor, "n k"], *, rank: Count,
                       seconds: Mapping[str, float] | None = None) -> list[dict[str, Any]]:
    """Memory, time and accuracy of each estimator's top ``rank`` directions: one row per estimator.

    ``reference`` is the exact estimate and ``truth`` ``(n, >= rank)`` the population eigenvectors.
    Columns: numbers stored (sketch or gradient matrix entries), seconds (when ``seconds`` maps the
    names to fit times), subspace distances to the reference and to the truth, and the largest
    relative error of ``lambda_1..rank`` against the reference.
    """
    _nonempty("estimators", estimators)
    if rank < 1 or truth.ndim != 2 or truth.shape[1] < rank:
        raise ValueError(f"need rank >= 1 and truth (n, >= rank), got rank={rank}, truth {tuple(truth.shape)}")
    top = reference.eigenvalues[:rank]
    rows = []
    for name, est in estimators.items():
        row: dict[str, Any] = {"method": name, "numbers_stored": est.store.stored_numbers}
        if seconds is not None:
            row["seconds"] = seconds[name]
        row["distance to exact (top k)"] = subspace_distance(est.components[:, :rank], reference.components[:, :rank])
        row["distance to population (top k)"] = subspace_distance(est.components[:, :rank], truth[:, :rank])
        row["max rel. error of lambda_1..k"] = float(((est.eigenvalues[:rank] - top).abs() / top).max())
        rows.append(row)
    return rows


@contract
def fd_bound_table(gradients: Float[Tensor, "m n"], sketches: Sequence[ActiveSubspace]) -> list[dict[str, Any]]:
    """The Frequent Directions guarantee ``||G^T G - B^T B||_2 <= ||G - G_k||_F^2 / (l - k)``, checked
    for each sketch (fitted on all of ``gradients`` ``(m, n)``) at ``k = 0`` and ``k = l // 2``.

    One row per sketch x k: ``l``, ``k``, the spectral error, the bound, their ratio and ``holds``.
    """
    _nonempty("sketches", sketches)
    gram = _gradient_rows(gradients).T @ gradients
    rows = []
    for est in sketches:
        if est.method_ != "frequent_directions" or est.n_samples != len(gradients):
            raise ValueError("each sketch must be a frequent_directions estimator fitted on all the gradient rows")
        sketch = est.store.sketch
        error = float(torch.linalg.matrix_norm(gram - sketch.T @ sketch, 2))
        for k in (0, est.ell // 2):
            bound = frequent_directions_bound(gradients, est.ell, k)
            rows.append({"l": est.ell, "k": k, "sketch_error": error, "bound": bound,
                         "error_over_bound": error / bound, "holds": error <= bound})
    return rows


@contract
def count_conventions(population: Float[Tensor, " n"], estimators: Mapping[str, ActiveSubspace], *,
                      deltas: Sequence[Fraction] = (0.8, 0.9, 0.95, 0.99), authors: str | None = None
                      ) -> list[dict[str, Any]]:
    """Active-neuron counts per threshold ``delta`` under both conventions (code, paper).

    ``population`` ``(n,)`` is a known spectrum (normalised by its own sum); each estimator is
    normalised by its exact trace. ``authors`` names the estimator whose authors' 0-based index
    is added as the last column.
    """
    _nonempty("deltas", deltas)
    if authors is not None and authors not in estimators:
        raise ValueError(f"authors={authors!r} is not one of the estimators {list(estimators)}")
    total = float(population.sum())
    rows = []
    for delta in deltas:
        row: dict[str, Any] = {"delta": delta}
        for conv in ("code", "paper"):
            row[f"population ({conv})"] = count_active(population, total, delta, conv)
            row.update({f"{name} ({conv})": est.n_active(delta, conv) for name, est in estimators.items()})
        if authors is not None:
            row[f"authors' index ({authors})"] = n_active_authors(estimators[authors], delta)
        rows.append(row)
    return rows


# ---------------------------------------------------------------- the layers of a network (notebooks 02, 03)
@torch.no_grad()
@contract
def cut_neurons(model: nn.Module, image_shape: Shape) -> dict[str, tuple[tuple[int, ...], int]]:
    """Activation shape ``(C, H, W)`` and flattened size (neurons) after every cut point of ``model``,
    from one eval-mode forward pass of a zero image ``(1, *image_shape)`` (the model's mode is restored)."""
    cuts, out = set(cut_points(model)), {}
    x = torch.zeros(1, *image_shape, device=model_device(model))
    with model_mode(model):
        for name, child in model.named_children():
            x = child(x)
            if name in cuts:
                out[name] = (tuple(x.shape[1:]), x[0].numel())
    return out


@contract
def layer_table(analysis: Mapping[str, ActiveSubspace], *, deltas: Sequence[Fraction] = DELTAS) -> list[dict[str, Any]]:
    """One row per layer: :func:`~aslib.linalg.subspace.summary` (neurons, samples, ``active@delta`` per
    threshold, the authors' count) plus ``directions kept`` and ``lambda_1 / trace``."""
    _nonempty("analysis", analysis)
    rows = []
    for name, est in analysis.items():
        row = {"layer": name, **summary(est, tuple(deltas), 3)}
        row["directions kept"] = len(est.eigenvalues)
        row["lambda_1_share"] = float(est.eigenvalues[0]) / est.trace
        rows.append(row)
    return rows


@contract
def count_reliability(gradients: Float[Tensor, "m n"], *, sizes: Sequence[Count], sketch_sizes: Sequence[Count],
                      delta: Fraction = 0.95) -> list[dict[str, Any]]:
    """Active-neuron counts on the first ``m`` gradient rows for each ``m`` in ``sizes``.

    ``gradients`` ``(M, n)``. Per row: the exact count (code and paper convention) and, for each
    sketch size ``l``, the Frequent Directions count (exact trace), the authors' index and the
    number of directions the sketch kept (a count equal to it is a lower bound).
    """
    _nonempty("sizes", sizes)
    if max(sizes) > len(_gradient_rows(gradients)) or min(sizes) < 1:
        raise ValueError(f"sizes must lie in 1..{len(gradients)} (the gradient rows), got {list(sizes)}")
    rows = []
    for m in sizes:
        exact = ActiveSubspace("exact").fit(gradients[:m])
        row: dict[str, Any] = {"images_m": m, "exact": exact.n_active(delta),
                               "exact_paper_convention": exact.n_active(delta, "paper")}
        for ell in sketch_sizes:
            fd = ActiveSubspace("frequent_directions", sketch_size=ell).fit(gradients[:m])
            row[f"FD l={ell}"] = fd.n_active(delta)
            row[f"FD l={ell}, authors"] = n_active_authors(fd, delta)
            row[f"FD l={ell} kept"] = len(fd.eigenvalues)
        rows.append(row)
    return rows


@contract
def count_by_images(gradients: Float[Tensor, "m n"], *, sizes: Sequence[Count], draws: Count = 30,
                    delta: Fraction = 0.95, level: Fraction = 0.95, stable_below: PositiveReal = 1.1,
                    seed: int = 0) -> dict[str, Any]:
    """The exact active-neuron count as an estimate: its spread over which images are used, and its growth.

    ``gradients`` ``(M, n)``: one gradient row per image. Each of ``draws`` random orders of the ``M`` rows
    gives the exact count (code convention, threshold ``delta``) on its first ``m`` rows for every ``m`` in
    ``sizes`` (ascending, at most ``M``), so the counts of one draw are nested. Counts use the eigenvalues of
    the ``m x m`` Gram block (float64), which are the nonzero eigenvalues of ``G_m^T G_m``.

    Returns ``{"rows": [...], "growth": {...}}``. A row per ``m``: the number of distinct subsets (1 when
    ``m = M``), the mean and standard deviation of the count over the draws and the central ``level`` range of
    the draws. ``growth``: the factor ``count(m_k) / count(m_{k-1})`` between the two largest sizes within each
    draw (mean and central range), and a verdict: ``"still growing"`` when the whole range lies above
    ``stable_below``, ``"stopped growing"`` when it lies below, ``"undecided"`` otherwise. The ranges describe
    which ``m`` of these ``M`` images are used; the sampling of the ``M`` images themselves is not in them, so
    they are narrower than the spread over fresh images, most at ``m`` close to ``M``.
    """
    g = _gradient_rows(gradients)
    _nonempty("sizes", sizes)
    sizes = [int(m) for m in sizes]
    if sorted(set(sizes)) != sizes or sizes[0] < 1 or sizes[-1] > len(g):
        raise ValueError(f"sizes must be distinct, ascending and lie in 1..{len(g)} (the gradient rows), "
                         f"got {list(sizes)}")
    if len(sizes) < 2:
        raise ValueError("sizes needs at least two entries to measure the growth of the count")
    if draws < 2:
        raise ValueError(f"draws must be at least 2 (random orders of the images), got {draws}")
    kernel = g.double() @ g.double().T  # (M, M)
    generator = torch.Generator().manual_seed(seed)
    counts = torch.empty(draws, len(sizes), dtype=torch.float64)
    for b in range(draws):
        order = torch.randperm(len(g), generator=generator).to(g.device)
        for j, m in enumerate(sizes):
            block = kernel[order[:m]][:, order[:m]]
            eigenvalues = torch.linalg.eigvalsh(block).flip(0).clamp_min(0)
            counts[b, j] = count_active(eigenvalues, float(block.trace()), delta)
    tail = (1 - level) / 2

    def spread(values: torch.Tensor) -> tuple[float, float, float, float]:
        """Mean and sample std (:func:`aslib.linalg.stats.estimate`) and the central ``level`` range of the draws."""
        low, high = torch.quantile(values.double(), torch.tensor([tail, 1 - tail], dtype=torch.float64)).tolist()
        est = estimate(values.tolist())
        return est.mean, est.std, low, high

    rows = []
    for j, m in enumerate(sizes):
        mean, std, low, high = spread(counts[:, j])
        rows.append({"images_m": m, "subsets": 1 if m == len(g) else draws, "count_mean": mean, "count_std": std,
                     "count_low": low, "count_high": high})
    factors = counts[:, -1] / counts[:, -2].clamp_min(1)
    mean, std, low, high = spread(factors)
    verdict = ("still growing" if low > stable_below else "stopped growing" if high < stable_below
               else "undecided")
    growth = {"from_m": sizes[-2], "to_m": sizes[-1], "draws": draws, "factor_mean": mean, "factor_std": std,
              "factor_low": low, "factor_high": high, "level": level, "stable_below": stable_below,
              "verdict": verdict}
    return {"rows": rows, "growth": growth}


@contract
def captured_energy(gradients: Float[Tensor, "m n"], subspace: ActiveSubspace, rank: Count) -> float:
    """Fraction ``sum_j ||V_k^T g_j||^2 / sum_j ||g_j||^2`` (in [0, 1]) of the energy of the gradient
    rows ``(m, n)`` that lies in the top ``rank`` directions of ``subspace``."""
    if not 1 <= rank <= subspace.components.shape[1]:
        raise ValueError(f"rank must lie in 1..{subspace.components.shape[1]}, got {rank}")
    g = _gradient_rows(gradients)
    v = subspace.components[:, :rank].to(device=g.device, dtype=g.dtype)
    return float((g @ v).pow(2).sum() / g.pow(2).sum())


@contract
def compare_subspaces(variants: Mapping[str, ActiveSubspace], reference: ActiveSubspace,
                      gradients: Float[Tensor, "m n"], *, ranks: Sequence[Count], rank: Count,
                      bootstraps: Mapping[int, dict] | None = None,
                      noise_label: str = "bootstrap median") -> list[dict[str, Any]]:
    """One row per variant of a layer's active subspace (another BN mode, another function, ...).

    Columns: trace, ``lambda_1 / trace``, counts at 0.9/0.95/0.99, the subspace distance of the top
    ``k`` directions to ``reference`` for each ``k`` in ``ranks``, and the fraction of the energy of
    ``gradients`` ``(m, n)`` (the reference's rows) in the variant's top ``rank`` directions.
    ``bootstraps`` (``{k: bootstrap(reference, rank=k)}``) adds a last row with the median
    bootstrap distances: the sampling noise of each distance.
    """
    _nonempty("variants", variants)
    _nonempty("ranks", ranks)
    rows = []
    for label, est in variants.items():
        row: dict[str, Any] = {"variant": label, "trace": est.trace,
                               "lambda_1_share": float(est.eigenvalues[0]) / est.trace}
        row.update({f"active@{d}": est.n_active(d) for d in DELTAS})
        row.update({f"distance k={k}": subspace_distance(est.components[:, :k], reference.components[:, :k])
                    for k in ranks})
        row[f"eval energy in top {rank}"] = captured_energy(gradients, est, rank)
        rows.append(row)
    if bootstraps:
        n_boot = len(next(iter(bootstraps.values()))["distances"])
        noise = {key: "-" for key in rows[0]}
        noise.update({"variant": f"{noise_label} ({n_boot} resamples)",
                      **{f"distance k={k}": float(bootstraps[k]["distances"].median()) for k in ranks}})
        rows.append(noise)
    return rows


@contract
def authors_counts(analysis: Mapping[str, ActiveSubspace], *, delta: Fraction = 0.95) -> list[dict[str, Any]]:
    """The authors' off-by-one count against Definition 3.1, one row per layer: the count with the
    exact trace, the count on the sketch's own energy, the authors' index and the energy ratio."""
    _nonempty("analysis", analysis)
    rows = []
    for name, est in analysis.items():
        eig = est.eigenvalues
        rows.append({"layer": name, "neurons": est.dim, "n_active_exact_trace": est.n_active(delta),
                     "count_on_sketch_energy": count_active(eig, float(eig.sum()), delta),
                     "n_active_authors": n_active_authors(est, delta),
                     "sketch_energy_share": float(eig.sum()) / est.trace})
    return rows
