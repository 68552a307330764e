"""Figures of universal attacks and their studies (notebooks 06 and 07); every function returns the figure."""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from jaxtyping import Float
from torch import Tensor, nn

from aslib._utils import model_mode
from aslib.attacks import AttackResult
from aslib.attacks.common import Images, Labels
from aslib.contracts import Count, PositiveReal, Proportion, contract
from aslib.studies.attacks import EigenDirections
from aslib.studies.sweeps import METHOD_LABELS
from aslib.studies.tables import aggregate
from aslib.teach.plotting.common import curves, image_grid, perturbation_image

__all__ = ["attack_histories", "attack_ratio_grid", "attacked_images", "deepfool_toy", "eigen_direction_figure",
           "perturbation_grid", "ratio_vs_fooling", "sample_sweep_panels", "search_figure"]

Rows = Sequence[dict[str, Any]]


def _labelled(rows: Rows) -> list[dict[str, Any]]:
    return [dict(r, method=METHOD_LABELS.get(r["method"], r["method"])) for r in rows]


@contract
def attack_ratio_grid(sweeps: Mapping[str, Rows], *, titles: Mapping[str, str], floors: Mapping[str, Proportion]):
    """Attack ratio against xi (error bars: std over repeats): one column per setting of ``sweeps``
    (key -> :func:`aslib.studies.noise_sweep` rows), crafting set on top, test set below with the
    clean error ``floors[key]`` of the test set dotted."""
    if not sweeps:
        raise ValueError("no sweeps to draw")
    fig, axes = plt.subplots(2, len(sweeps), figsize=(4.2 * len(sweeps), 6.4), squeeze=False)
    for col, (key, rows) in enumerate(sweeps.items()):
        summary = _labelled(aggregate(rows, by=("method", "xi")))
        for row, split in enumerate(("train", "test")):
            ax = axes[row, col]
            curves(summary, x="xi", y=f"{split}_attack_ratio_mean", group="method", err=f"{split}_attack_ratio_std",
                   ax=ax, title=f"{titles.get(key, key)}\n{split}", ylabel=f"{split} attack ratio")
            if split == "test":
                ax.axhline(floors[key], color="gray", ls=":", label="clean error")
            ax.set_ylim(0, 1.02)
            ax.set_xlabel("xi (l2, normalised units)")
    for ax in axes[:, 1:].flat:
        ax.get_legend().remove()
    fig.tight_layout()
    return fig


@contract
def attack_histories(results: Mapping[str, Mapping[str, AttackResult]], *, clean_error: Mapping[str, Proportion],
                     titles: Mapping[str, str], xi: PositiveReal, methods: Sequence[str] = ("as", "uap", "sgd_uap")):
    """Crafting-set history per iteration (AS attack ratio), pass (UAP fooling rate) or epoch (SGD-UAP
    attack ratio), one panel per data set of ``results`` (data set -> method -> result), with its
    test clean error dotted."""
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.2), squeeze=False)
    for ax, (ds, by_method) in zip(axes.flat, results.items()):
        for m in methods:
            h = by_method[m].history
            ax.plot(range(1, len(h) + 1), h, marker="o",
                    label=f"{METHOD_LABELS.get(m, m)} ({'fooling rate' if m == 'uap' else 'attack ratio'})")
        ax.axhline(clean_error[ds], color="gray", ls=":", label="clean error (test)")
        ax.set_xlabel("iteration (AS) / pass (UAP) / epoch (SGD-UAP)")
        ax.set_ylabel("crafting-set rate")
        ax.set_title(f"{titles.get(ds, ds)}, xi = {xi:g}")
        ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


@contract
def perturbation_grid(results: Mapping[str, AttackResult], *, title: str, xi: PositiveReal):
    """The vectors of ``results`` (method -> result) side by side as pictures (grey = no change)."""
    pictures = torch.stack([perturbation_image(r.vector) for r in results.values()])
    fig = image_grid(pictures, [f"{METHOD_LABELS.get(m, m)} (xi = {xi:g})" for m in results], ncols=len(results),
                     scale=2.2)
    fig.suptitle(title, y=1.04)
    return fig


@torch.no_grad()
@contract
def attacked_images(model: nn.Module, x: Images, y: Labels, vectors: Mapping[str, torch.Tensor], *,
                    class_names: Sequence[str], to_display: Callable[[torch.Tensor], torch.Tensor], title: str = ""):
    """One row per perturbation (``vectors``: label -> ``(C, H, W)``, normalised units) of the images
    ``x`` ``(N, C, H, W)`` with true labels ``y`` ``(N,)``: the unclipped ``x + v`` is classified,
    ``to_display`` maps it to [0, 1]; titles give the prediction, with a ✗ when it is wrong."""
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(f"need as many labels as images (N >= 1), got {len(x)} images and {len(y)} labels")
    images, titles = [], []
    with model_mode(model):
        for label, v in vectors.items():
            pred = model(x + v).argmax(1)
            images.append(to_display(x + v))
            titles += [f"{label}: {class_names[p]}{'' if p == t else ' ✗'}" for p, t in zip(pred.tolist(), y.tolist())]
    fig = image_grid(torch.cat(images), titles, ncols=len(x), scale=1.5)
    fig.suptitle(title, y=1.02)
    return fig


@contract
def sample_sweep_panels(summary: Rows, *, floors: Mapping[str, Proportion], class_names: Sequence[str]):
    """Train and test attack ratio against the crafting samples N (log axis), one panel per ``classes``
    of the aggregated :func:`aslib.studies.sample_sweep` rows ``summary`` (by classes, n_samples),
    with the clean test error ``floors[classes]`` dotted."""
    groups = list(dict.fromkeys(r["classes"] for r in summary))
    if not groups:
        raise ValueError("summary is empty: aggregate the sample_sweep rows by (classes, n_samples) first")
    fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 3.4), squeeze=False)
    for ax, cls in zip(axes.flat, groups):
        sel = [r for r in summary if r["classes"] == cls]
        lines = [{"split": s, "n_samples": r["n_samples"], "ratio": r[f"{s}_attack_ratio_mean"],
                  "std": r[f"{s}_attack_ratio_std"]} for r in sel for s in ("train", "test")]
        names = "all-class" if cls == "all" else ", ".join(class_names[int(c)] for c in cls.split(","))
        curves(lines, x="n_samples", y="ratio", group="split", err="std", ax=ax, ylabel="attack ratio",
               title=names if cls == "all" else f"one-class ({names})")
        ax.axhline(floors[cls], color="gray", ls=":", label="clean error (test)")
        ns = sorted({r["n_samples"] for r in sel})
        ax.set_xscale("log")
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.minorticks_off()
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("crafting samples N")
    fig.tight_layout()
    return fig


@contract
def ratio_vs_fooling(sweeps: Mapping[str, Rows], *, clean_error: Proportion, markers: str = "os^vD"):
    """Test attack ratio against test fooling rate of every row of the named sweeps, with the diagonal
    and the bound attack ratio = fooling rate + ``clean_error`` (all-class)."""
    fig, ax = plt.subplots(figsize=(5, 4))
    for (name, rows), marker in zip(sweeps.items(), markers):
        ax.scatter([r["test_fooling_rate"] for r in rows], [r["test_attack_ratio"] for r in rows], marker=marker,
                   label=name, alpha=0.7)
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="attack ratio = fooling rate")
    ax.plot([0, 1 - clean_error], [clean_error, 1], color="gray", ls=":", lw=1,
            label="bound: fooling rate + clean error (all-class)")
    ax.set_xlabel("test fooling rate")
    ax.set_ylabel("test attack ratio")
    ax.legend(fontsize="small")
    return fig


@contract
def eigen_direction_figure(study: EigenDirections):
    """Test attack ratio of each eigenvector v_k (line), the range of random directions (band), the
    recursive AS vector and the clean error (lines), with lambda_k / trace on a log right axis (dots)."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ks = range(1, len(study.eigen) + 1)
    ax.plot(ks, study.eigen, "o-", label="eigenvector v_k (best sign)")
    ax.axhspan(float(study.random.min()), float(study.random.max()), color="C1", alpha=0.25,
               label="random directions (range)")
    ax.axhline(study.recursive, color="C2", ls="--", label="recursive AS vector")
    ax.axhline(study.clean, color="gray", ls=":", label="clean error")
    ax.set_xlabel("eigenvector index k")
    ax.set_xticks(list(ks))
    ax.set_ylabel("test attack ratio")
    ax.set_ylim(0, 1)
    ax2 = ax.twinx()
    ax2.semilogy(ks, study.lambdas, "k.", alpha=0.5)
    ax2.set_ylabel("lambda_k / trace (dots)")
    ax.legend(fontsize="x-small", loc="upper right")
    fig.tight_layout()
    return fig


@contract
def search_figure(rows: Rows, cosines: Float[Tensor, "k k"], *, title: str = ""):
    """Left: the crafting-set attack ratio per iteration of every AS search in ``rows``
    (:func:`aslib.studies.search_diagnostics`, one colour per solver, the best iteration marked);
    middle: test against crafting-set attack ratio per vector; right: the pairwise cosines
    ``(k, k)`` of the vectors (:func:`aslib.studies.vector_cosines`)."""
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 3.8))
    colours = {solver: f"C{i}" for i, solver in enumerate(dict.fromkeys(r["solver"] for r in rows))}
    for r in rows:
        h = r["history"]
        left.plot(range(1, len(h) + 1), h, color=colours[r["solver"]], alpha=0.7, lw=1)
        left.plot(r["best_iteration"], max(h), "o", color=colours[r["solver"]], ms=4)
        middle.plot(r["train_attack_ratio"], r["test_attack_ratio"], "o", color=colours[r["solver"]])
    for solver, colour in colours.items():
        left.plot([], [], color=colour, label=f"{solver} solver")
    left.set_xlabel("iteration")
    left.set_ylabel("crafting-set attack ratio")
    left.set_title(f"{title}: one curve per crafting set".strip(": "))
    left.legend(fontsize="small")
    middle.set_xlabel("crafting-set attack ratio")
    middle.set_ylabel("test attack ratio")
    middle.set_title("one point per vector")
    image = right.imshow(cosines.numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
    right.set_title("cosine between vectors (repeats)")
    right.set_xlabel("repeat")
    right.set_ylabel("repeat")
    fig.colorbar(image, ax=right)
    fig.tight_layout()
    return fig


@contract
def deepfool_toy(model: nn.Module, paths: Float[Tensor, "s b 2"], *,
                 universal: Mapping[str, torch.Tensor] | None = None, extent: PositiveReal = 3.0,
                 resolution: Count = 200):
    """Decision regions of a classifier of 2-D points ``(B, 2) -> (B, K)`` on ``[-extent, extent]^2``, with the
    DeepFool paths ``(steps + 1, B, 2)`` of :func:`aslib.studies.deepfool_paths` (circles: start, crosses: end)
    and, optionally, universal vectors ``{name: (2,)}`` drawn as arrows from the origin."""
    axis = torch.linspace(-extent, extent, resolution)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), -1).reshape(-1, 2)
    with model_mode(model), torch.no_grad():
        regions = model(grid).argmax(1).reshape(resolution, resolution)
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    ax.contourf(axis, axis, regions, levels=torch.arange(-0.5, int(regions.max()) + 1.5).tolist(), cmap="Pastel1")
    for b in range(paths.shape[1]):
        path = paths[:, b].detach()
        ax.plot(path[:, 0], path[:, 1], "-", color="k", lw=1)
        ax.plot(path[0, 0], path[0, 1], "o", color="k", ms=4)
        ax.plot(path[-1, 0], path[-1, 1], "x", color="tab:red", ms=6)
    for i, (name, v) in enumerate((universal or {}).items()):
        ax.annotate("", xy=(float(v[0]), float(v[1])), xytext=(0, 0),
                    arrowprops={"arrowstyle": "->", "color": f"C{i}", "lw": 2})
        ax.plot([], [], color=f"C{i}", lw=2, label=name)
    if universal:
        ax.legend(fontsize="small", loc="lower right")
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    ax.set_title("DeepFool: linearise, step to the nearest boundary, repeat")
    return fig
