"""Figures of active subspaces: eigenvalue decay, active neurons per layer, sufficient summary plots."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from jaxtyping import Float
from torch import Tensor

from aslib.contracts import Count, contract

from aslib.linalg.subspace import ActiveSubspace
from aslib.teach.plotting.common import _axes, curves

__all__ = ["active_neurons", "counts_vs_images", "eigenvalue_decay", "error_and_bound", "sufficient_summary",
           "sufficient_summary_2d"]


@contract
def eigenvalue_decay(subspaces: Mapping[str, ActiveSubspace], bands: Mapping[str, dict] | None = None,
                     normalize: bool = True, top: Count = 100, ax=None):
    """Eigenvalues of each estimator on a log scale (divided by the trace when ``normalize``).

    ``bands`` maps a name to the output of :func:`aslib.linalg.subspace.bootstrap` to draw its interval.
    """
    fig, ax = _axes(ax)
    for name, est in subspaces.items():
        scale = est.trace if normalize else 1.0
        eig = est.eigenvalues[:top].double().cpu() / scale
        idx = torch.arange(1, len(eig) + 1)
        line, = ax.semilogy(idx, eig, label=name)
        if bands and name in bands:
            lo = bands[name]["eigenvalues_low"][:top].double().cpu() / scale
            hi = bands[name]["eigenvalues_high"][:top].double().cpu() / scale
            k = min(len(lo), len(idx))
            ax.fill_between(idx[:k], lo[:k], hi[:k], color=line.get_color(), alpha=0.25)
    ax.set_xlabel("index i")
    ax.set_ylabel("eigenvalue / trace" if normalize else "eigenvalue")
    ax.set_title("Eigenvalue decay of the gradient covariance")
    ax.legend(fontsize="small")
    return fig


@contract
def active_neurons(rows: Sequence[dict], key: str = "active@0.95", ax=None):
    """The structural figure: neurons vs active neurons per layer (log scale), from ``LayerAnalysis.table()``."""
    fig, ax = _axes(ax, figsize=(8, 3.5))
    layers = [row["layer"] for row in rows]
    x = range(len(rows))
    ax.semilogy(x, [row["neurons"] for row in rows], "o-", label="neurons")
    ax.semilogy(x, [max(row[key], 1) for row in rows], "s-", label=f"active neurons ({key})")
    ax.set_xticks(list(x), layers, rotation=60, fontsize="small")
    ax.set_ylabel("count")
    ax.set_title("Neurons vs active neurons per layer")
    ax.legend()
    fig.tight_layout()
    return fig


@contract
def sufficient_summary(z: Float[Tensor, " m"], values: Float[Tensor, " m"], ax=None,
                       xlabel: str = "active variable $z_1$"):
    """Scatter of the function values against the first active variable (``z`` ``(m,)``, ``values`` ``(m,)``)."""
    fig, ax = _axes(ax)
    ax.scatter(z.detach().cpu(), values.detach().cpu(), s=6, alpha=0.6)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("function value")
    ax.set_title("Sufficient summary plot")
    return fig


@contract
def sufficient_summary_2d(z: Float[Tensor, "m r"], values: Float[Tensor, " m"],
                          title: str = "f over the two active variables"):
    """Two panels: the values ``(m,)`` against ``z_1``, and coloured over ``(z_1, z_2)`` (``z`` ``(m, >= 2)``)."""
    if z.ndim != 2 or z.shape[1] < 2 or len(z) != len(values):
        raise ValueError(f"need z (m, >= 2) and values (m,), got {tuple(z.shape)} and {tuple(values.shape)}")
    z, values = z.detach().cpu(), values.detach().cpu()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    sufficient_summary(z[:, 0], values, ax=axes[0])
    points = axes[1].scatter(z[:, 0], z[:, 1], c=values, s=6, cmap="viridis")
    axes[1].set_xlabel("$z_1$")
    axes[1].set_ylabel("$z_2$")
    axes[1].set_title(title)
    fig.colorbar(points, ax=axes[1])
    fig.tight_layout()
    return fig


@contract
def error_and_bound(rows: Sequence[dict], x: str, error: str, bound: str, ax=None,
                    labels: tuple[str, str] = ("ridge-approximation error", "Poincaré bound (eigenvalue tail)"),
                    xlabel: str = "r (number of active variables)", ylabel: str = "mean squared error"):
    """An error and its upper bound against ``x`` on a log scale (columns ``x``, ``error``, ``bound`` of ``rows``)."""
    if not rows:
        raise ValueError("no rows to plot")
    fig, ax = _axes(ax)
    xs = [row[x] for row in rows]
    ax.semilogy(xs, [row[error] for row in rows], "o-", label=labels[0])
    ax.semilogy(xs, [row[bound] for row in rows], "s--", label=labels[1])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    return fig


@contract
def counts_vs_images(rows: Sequence[dict], title: str = "", ax=None):
    """Active-neuron counts against the number of images, one line per estimator, from the rows of
    :func:`aslib.studies.count_reliability` (columns ``images m``, ``exact``, ``FD l=...``, ``FD l=..., authors``)."""
    if not rows:
        raise ValueError("no rows to plot")
    names = [key for key in rows[0] if key == "exact" or (key.startswith("FD l=") and not key.endswith(" kept"))]
    long = [{"m": row["images_m"], "count": row[name],
             "estimator": name.replace(", authors", ", authors' index")} for row in rows for name in names]
    fig = curves(long, "m", "count", "estimator", ax=ax, title=title, ylabel="active neurons")
    (ax or fig.axes[0]).legend(fontsize="x-small")
    return fig
