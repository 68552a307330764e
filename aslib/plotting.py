"""Figures used by the notebooks and the report (matplotlib; every function returns the figure)."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import torch

from .subspace import ActiveSubspace


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


def curves(rows: Sequence[dict], x: str, y: str, group: str, err: str | None = None, ax=None,
           title: str = "", ylabel: str | None = None):
    """One line per value of ``group``: ``y`` against ``x`` (with ``err`` as error bars)."""
    fig, ax = _axes(ax)
    for name in dict.fromkeys(row[group] for row in rows):
        sel = sorted((r for r in rows if r[group] == name), key=lambda r: r[x])
        xs, ys = [r[x] for r in sel], [r[y] for r in sel]
        if err:
            ax.errorbar(xs, ys, yerr=[r[err] for r in sel], marker="o", capsize=3, label=str(name))
        else:
            ax.plot(xs, ys, marker="o", label=str(name))
    ax.set_xlabel(x)
    ax.set_ylabel(ylabel or y)
    ax.set_title(title)
    ax.legend()
    return fig


def image_grid(images: torch.Tensor, titles: Sequence[str] | None = None, ncols: int = 8, scale: float = 1.6):
    """Show ``(N, C, H, W)`` images with values in [0, 1] in a grid with optional titles."""
    n = len(images)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, scale * nrows + 0.3 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            img = images[i].detach().cpu()
            ax.imshow(img.permute(1, 2, 0).squeeze(-1), cmap="gray" if img.shape[0] == 1 else None, vmin=0, vmax=1)
            if titles:
                ax.set_title(titles[i], fontsize="x-small")
    fig.tight_layout()
    return fig


def perturbation_image(vector: torch.Tensor) -> torch.Tensor:
    """Map a perturbation ``(C, H, W)`` to [0, 1] for display (0.5 = no change, symmetric scaling)."""
    v = vector.detach().cpu()
    return (0.5 + 0.5 * v / v.abs().max().clamp_min(1e-12)).clamp(0, 1)


def _axes(ax, figsize=(5.5, 3.5)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax
