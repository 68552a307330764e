"""Figure helpers every topic uses: grouped curves with error bars, image grids, perturbation pictures."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import torch
from jaxtyping import Float
from torch import Tensor

from aslib.contracts import Count, PositiveReal, contract
from aslib.studies.tables import header

__all__ = ["curves", "image_grid", "perturbation_image"]


@contract
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
    ax.set_xlabel(header(x))
    ax.set_ylabel(ylabel or header(y))
    ax.set_title(title)
    ax.legend()
    return fig


@contract
def image_grid(images: Float[Tensor, "n c h w"], titles: Sequence[str] | None = None, ncols: Count = 8,
               scale: PositiveReal = 1.6):
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


@contract
def perturbation_image(vector: Float[Tensor, "c h w"]) -> torch.Tensor:
    """Map a perturbation ``(C, H, W)`` to [0, 1] for display (0.5 = no change, symmetric scaling)."""
    v = vector.detach().cpu()
    return (0.5 + 0.5 * v / v.abs().max().clamp_min(1e-12)).clamp(0, 1)


def _axes(ax, figsize=(5.5, 3.5)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax
