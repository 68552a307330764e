"""Figures of active subspaces: eigenvalue decay, active neurons per layer, sufficient summary plots."""
from __future__ import annotations

from typing import Mapping, Sequence

import torch

from ..subspace import ActiveSubspace
from .common import _axes

__all__ = ["active_neurons", "eigenvalue_decay", "sufficient_summary"]


def eigenvalue_decay(subspaces: Mapping[str, ActiveSubspace], bands: Mapping[str, dict] | None = None,
                     normalize: bool = True, top: int = 100, ax=None):
    """Eigenvalues of each estimator on a log scale (divided by the trace when ``normalize``).

    ``bands`` maps a name to the output of :meth:`ActiveSubspace.bootstrap` to draw its interval.
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


def sufficient_summary(z: torch.Tensor, values: torch.Tensor, ax=None, xlabel: str = "active variable $z_1$"):
    """Scatter of the function values against the first active variable (``z`` ``(m,)``, ``values`` ``(m,)``)."""
    fig, ax = _axes(ax)
    ax.scatter(z.detach().cpu(), values.detach().cpu(), s=6, alpha=0.6)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("function value")
    ax.set_title("Sufficient summary plot")
    return fig
