"""Figures of ASNet building and compression (notebooks 04 and 05); every function returns the figure."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import torch
from jaxtyping import Float
from torch import Tensor

from aslib.contracts import Count, CountOrZero, PositiveReal, Proportion, contract
from aslib.fitting.finetuning import accuracy_key
from aslib.teach.plotting.common import curves

__all__ = ["active_variable_histograms", "finetune_curves", "frontier_curves", "hermite_curves", "projection_curves",
           "rank_degree_curves", "softened_probabilities", "tradeoff_curve"]


@contract
def hermite_curves(xi: Float[Tensor, " m"], values: Float[Tensor, "m p"]):
    """Univariate polynomials ``values`` ``(M, P)`` (column ``k`` = ``psi_k``) against the points ``xi`` ``(M,)``."""
    if values.ndim != 2 or len(values) != len(xi):
        raise ValueError(f"values must be (len(xi), P) = ({len(xi)}, P), got {tuple(values.shape)}")
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for k in range(values.shape[1]):
        ax.plot(xi, values[:, k], label=fr"$\psi_{k}$")
    ax.set_ylim(-4, 4)
    ax.set_xlabel(r"$\xi$")
    ax.legend()
    ax.set_title("orthonormal Hermite polynomials")
    return fig


@contract
def active_variable_histograms(z: Float[Tensor, "n r"], indices: Sequence[CountOrZero], *, bins: Count = 40):
    """Histograms of the standardised active variables ``z`` ``(N, r)`` at the 0-based ``indices``, each with
    the standard normal density (dashed)."""
    if z.ndim != 2 or not indices or not all(0 <= i < z.shape[1] for i in indices):
        raise ValueError(f"need z of shape (N, r) and indices in [0, r); got {tuple(z.shape)} and {list(indices)}")
    fig, axes = plt.subplots(1, len(indices), figsize=(10 * len(indices) / 3, 2.8), sharey=True, squeeze=False)
    grid = torch.linspace(-4, 4, 200)
    for ax, i in zip(axes[0], indices):
        ax.hist(z[:, i].numpy(), bins=bins, density=True, alpha=0.6)
        ax.plot(grid, torch.exp(-grid**2 / 2) / math.sqrt(2 * math.pi), "k--", lw=1)
        ax.set_title(fr"$\tilde z_{{{i + 1}}}$ (test)")
    fig.tight_layout()
    return fig


@contract
def rank_degree_curves(rows: Sequence[Mapping[str, Any]], *, original_accuracy: Proportion, layer: str):
    """Test accuracy and held-out R² against r, one line per p (rows of
    :func:`aslib.studies.rank_degree_sweep`), with the original network's accuracy dashed."""
    if not rows:
        raise ValueError("no sweep rows to plot")
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    curves(rows, x="rank", y="accuracy", group="degree", ax=axes[0], title=f"ASNet before fine-tuning, cut {layer}",
           ylabel="test accuracy")
    axes[0].axhline(original_accuracy, color="k", ls="--", lw=1, label="original")
    axes[0].legend(title="p")
    curves(rows, x="rank", y="r2_test", group="degree", ax=axes[1], title="held-out $R^2$ of the logits",
           ylabel="$R^2$ (test)")
    axes[1].legend(title="p")
    fig.tight_layout()
    return fig


@contract
def finetune_curves(histories: Mapping[str, Sequence[Mapping[str, Any]]], *, original_accuracy: Proportion,
                    original_params: Count, kd_epochs: CountOrZero):
    """Accuracy (on the split the histories name: test or validation) and nonzero Conv/Linear weights (thousands,
    log scale) per epoch of :func:`aslib.fitting.finetuning.finetune`, one line per cut; the dotted line ends
    distillation."""
    if not any(histories.values()):
        raise ValueError("no history rows to plot")
    keys = {accuracy_key(history) for history in histories.values()}
    if len(keys) != 1:
        raise ValueError(f"the histories were measured on different splits ({sorted(keys)}): plot them apart")
    key = keys.pop()
    rows = [{"cut": layer, "step": step, key: row[key], "nonzero_params_k": row["nonzero_params"] / 1e3}
            for layer, history in histories.items() for step, row in enumerate(history)]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    label = key.replace("_", " ")
    curves(rows, x="step", y=key, group="cut", ax=axes[0], title=label, ylabel="accuracy")
    axes[0].axhline(original_accuracy, color="k", ls="--", lw=1, label="original")
    curves(rows, x="step", y="nonzero_params_k", group="cut", ax=axes[1],
           title="nonzero Conv/Linear weights of the ASNet", ylabel="thousands")
    axes[1].axhline(original_params / 1e3, color="k", ls="--", lw=1, label="original (all params)")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.axvline(kd_epochs + 0.5, color="grey", ls=":")
        ax.set_xlabel("epoch (distillation, then sparse)")
        ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


@contract
def tradeoff_curve(rows: Sequence[Mapping[str, Any]], *, original_accuracy: Proportion, layer: str):
    """Test accuracy against the nonzero-parameter reduction, one point per l1 scale (rows of
    :func:`aslib.studies.l1_tradeoff`), with the original network's accuracy dashed."""
    if not rows:
        raise ValueError("no trade-off rows to plot")
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot([t["nonzero_params_x"] for t in rows], [t["accuracy"] for t in rows], "o-")
    for t in rows:
        ax.annotate(f"x{t['scale']:g}", (t["nonzero_params_x"], t["accuracy"]), fontsize="small")
    ax.axhline(original_accuracy, color="k", ls="--", lw=1, label="original")
    ax.set_xlabel("nonzero parameter reduction vs original (x)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"l1 trade-off at {layer}")
    ax.legend()
    return fig


@contract
def frontier_curves(rows: Sequence[Mapping[str, Any]], *, paper: tuple[PositiveReal, PositiveReal]):
    """The accuracy drop (original minus network, with its 95 % interval) against the nonzero-parameter and the
    sparse-MAC reduction, one line per family (rows of :func:`aslib.studies.frontier_rows`); ``paper`` = the
    paper's (parameter, MAC) reductions, drawn as dotted lines (its accuracy at that point is not published)."""
    if not rows:
        raise ValueError("no frontier rows to plot")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, key, mark, label in zip(axes, ("nonzero_params_x", "sparse_macs_x"), paper,
                                    ("nonzero parameter reduction (x)", "sparse MAC reduction (x)")):
        for family in dict.fromkeys(row["family"] for row in rows):
            points = [row for row in rows if row["family"] == family]
            ax.errorbar([row[key] for row in points], [100 * row["drop"] for row in points], fmt="o-", capsize=3,
                        yerr=[[100 * (row["drop"] - row["drop_low"]) for row in points],
                              [100 * (row["drop_high"] - row["drop"]) for row in points]], label=family)
        ax.axvline(mark, color="k", ls=":", lw=1, label=f"paper ({mark:g}x, full-width VGG-19)")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.legend(fontsize="small")
    axes[0].set_ylabel("accuracy drop vs original (points)")
    fig.suptitle("accuracy-compression frontier (95 % intervals of the paired drop)")
    fig.tight_layout()
    return fig


@contract
def projection_curves(rows: Sequence[Mapping[str, Any]], *, layer: str):
    """Test accuracy of the network continued from a rank-r projection at ``layer`` against r, one line per basis
    (rows of :func:`aslib.studies.projection_accuracy`), with the unprojected network dashed."""
    full = [row for row in rows if row["directions"] == "none"]
    projected = [row for row in rows if row["directions"] != "none"]
    if not full or not projected:
        raise ValueError("need the rows of aslib.studies.projection_accuracy (with its 'none' row)")
    fig, ax = plt.subplots(figsize=(6, 3.6))
    curves(projected, x="rank", y="accuracy", group="directions", ax=ax, ylabel="test accuracy",
           title=f"network continued from a rank-r projection at {layer}")
    ax.axhline(full[0]["accuracy"], color="k", ls="--", lw=1, label=f"unprojected ({full[0]['rank']} neurons)")
    ax.set_xscale("log")
    ax.set_xlabel("r (directions kept)")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


@contract
def softened_probabilities(logits: Float[Tensor, " k"], temperatures: Sequence[PositiveReal], classes: Sequence[str]):
    """Bars of ``softmax(logits / T)`` for one sample's logits ``(K,)`` at each temperature (log scale), the
    soft targets of knowledge distillation."""
    if logits.ndim != 1 or len(logits) != len(classes):
        raise ValueError(f"logits must be (K,) with K = {len(classes)} class names, got {tuple(logits.shape)}")
    fig, ax = plt.subplots(figsize=(8, 3.2))
    width = 0.8 / len(temperatures)
    for i, temperature in enumerate(temperatures):
        p = torch.softmax(logits.detach().float() / temperature, 0)
        ax.bar([k + i * width for k in range(len(classes))], p.tolist(), width, label=f"T = {temperature:g}")
    ax.set_xticks([k + 0.4 - width / 2 for k in range(len(classes))], list(classes), rotation=30, fontsize="small")
    ax.set_yscale("log")
    ax.set_ylabel("probability")
    ax.set_title("the teacher's softened distribution softmax(t / T)")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig
