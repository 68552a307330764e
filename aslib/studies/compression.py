"""ASNet compression studies: complexity tables, dense and full-width sizes, the width study, compression
against fine-tuning, the l1 shrinkage budget and trade-off.

Tables, images and devices as in :mod:`aslib.studies.asnet`. Sizes follow :mod:`aslib.nets.counts`: storage in MB
(float32, ``2**20`` bytes), MACs for one sample, reductions as original / ASNet.
"""
from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from aslib._utils import model_mode
from aslib.contracts import Count, CountOrZero, NonNegativeReal, PositiveReal, Proportion, Shape, contract
from aslib.data import Batches, ImageDataset
from aslib.fitting.finetuning import FinetuneConfig, accuracy_key, finetune
from aslib.fitting.recipes import PAPER_MACS_X, PAPER_PARAMS_X
from aslib.nets import models
from aslib.nets.asnet import ASNet, split_model
from aslib.nets.counts import complexity, complexity_table, reduction

__all__ = ["budget_rows", "complexity_rows", "compression_path", "compression_rows",
           "dense_asnet", "full_width_sizes", "l1_tradeoff", "shrinkage_budget", "steps_per_epoch", "width_rows"]


@contract
def complexity_rows(model: nn.Module, *, input_shape: Shape, name: str,
                    count_basis: bool = True) -> list[dict[str, Any]]:
    """Rows of :func:`aslib.nets.counts.complexity_table` for one network and one sample of ``input_shape``.

    An :class:`~aslib.nets.asnet.ASNet` gives one row per part (``"<name>: pre-model"``, ``"<name>: AS layer"``,
    ``"<name>: PCE layer"``) and ``"<name>: total"``; any other model one row named ``name``.
    """
    if not isinstance(model, ASNet):
        return complexity_table({name: model}, {name: tuple(input_shape)}, total=False, count_basis=count_basis)
    shapes = {"pre-model": tuple(input_shape), "AS layer": (model.projection.in_features,),
              "PCE layer": (model.projection.out_features,)}
    rows = complexity_table(model.parts(), shapes, count_basis=count_basis)
    for row in rows:
        row["name"] = f"{name}: {row['name']}"
    return rows


@contract
def dense_asnet(arch: nn.Sequential, layer: str, *, rank: Count = 50, degree: Count = 2, num_classes: Count = 10,
                input_shape: Shape = (3, 32, 32)) -> ASNet:
    """An untrained dense ASNet cut from ``arch`` after ``layer`` (sizes only: the paper's counts depend
    on the architecture alone). It shares ``arch``'s pre-model modules."""
    pre, _ = split_model(arch, layer)
    with torch.no_grad(), model_mode(pre):
        neurons = pre(torch.zeros(1, *input_shape)).numel()
    return ASNet.empty(pre, neurons, rank, degree, num_classes)


def _dense_sizes(arch: nn.Sequential, layer: str, rank: int, degree: int, num_classes: int,
                 input_shape: tuple[int, ...]) -> tuple[int, dict[str, dict[str, Any]]]:
    """Neurons at the cut and the part rows (``pre-model``, ``AS layer``, ``PCE layer``, ``total``) of
    the dense ASNet of ``arch``, the Hermite basis not counted."""
    dense = dense_asnet(arch, layer, rank=rank, degree=degree, num_classes=num_classes, input_shape=input_shape)
    rows = complexity_rows(dense, input_shape=input_shape, name="dense", count_basis=False)
    return dense.projection.in_features, {row["name"].removeprefix("dense: "): row for row in rows}


@contract
def full_width_sizes(layers: Sequence[str] = ("conv5", "conv6", "conv7"), *, arch: str = "vgg19_bn", rank: Count = 50,
                     degree: Count = 2, num_classes: Count = 10,
                     input_shape: Shape = (3, 32, 32)) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Sizes of the dense ASNets of an untrained ``arch`` (the paper's full-width VGG-19-BN by default).

    Returns ``(complexity of the original, rows)``: one row per cut with the neurons, storage (MB) and
    MACs (millions, the Hermite basis not counted, as the paper) of the pre-model, AS and PCE layers
    and the whole ASNet, and the dense reductions against the original.
    """
    if not layers:
        raise ValueError("no cut layers given; pass e.g. layers=('conv5', 'conv6', 'conv7')")
    full = models.build(arch, num_classes=num_classes).eval()
    original = complexity(full, input_shape)
    rows = []
    for layer in layers:
        neurons, parts = _dense_sizes(full, layer, rank, degree, num_classes, input_shape)
        red = reduction(original, parts["total"])
        rows.append({"cut": layer, "neurons": neurons, "pre_model_mb": parts["pre-model"]["storage_mb"],
                     "pre_model_m_macs": parts["pre-model"]["paper_macs_m"],
                     "as_layer_mb": parts["AS layer"]["storage_mb"], "pce_layer_mb": parts["PCE layer"]["storage_mb"],
                     "asnet_mb": parts["total"]["storage_mb"], "asnet_m_macs": parts["total"]["paper_macs_m"],
                     "params_x": red["params_x"], "macs_x": red["macs_x"]})
    return original, rows


@contract
def width_rows(widths: Sequence[PositiveReal], *, layer: str = "conv5", arch: str = "vgg19_bn", rank: Count = 50,
               degree: Count = 2, num_classes: Count = 10, input_shape: Shape = (3, 32, 32),
               ratios: tuple[PositiveReal, PositiveReal] = (PAPER_PARAMS_X, PAPER_MACS_X)) -> list[dict[str, Any]]:
    """The dense ASNet of an untrained ``arch`` of each channel multiplier in ``widths`` against the original.

    Each row: width, neurons at the cut, original params / MB / M MACs, dense ASNet params / MB / M MACs
    (basis not counted), the dense reductions (``params x``, ``MACs x``) and what the target ``ratios``
    (parameters, MACs; the paper's by default) demand: the nonzero-weight budget ``params / ratio``, the
    fraction of the dense ASNet's weights that must be zero and the fraction of its MACs to remove.
    """
    if not widths:
        raise ValueError("no widths given; pass e.g. widths=(1.0, 0.5, 0.25)")
    params_ratio, macs_ratio = ratios
    rows = []
    for width in widths:
        net = models.build(arch, num_classes=num_classes, width=width).eval()
        neurons, parts = _dense_sizes(net, layer, rank, degree, num_classes, input_shape)
        total = parts["total"]
        orig = complexity(net, input_shape)
        red = reduction(orig, total)
        rows.append({"width": width, f"neurons at {layer}": neurons, "original_params": orig["params"],
                     "original_mb": orig["storage_mb"], "original_m_macs": orig["macs"] / 1e6,
                     "dense_asnet_params": total["params"], "dense_asnet_mb": total["storage_mb"],
                     "dense_asnet_m_macs": total["macs"] / 1e6, "params_x": red["params_x"], "macs_x": red["macs_x"],
                     f"nonzero budget ({params_ratio}x)": round(orig["params"] / params_ratio),
                     "zeros_needed": 1 - orig["params"] / params_ratio / total["nonzero_params"],
                     "mac_reduction_needed": 1 - orig["macs"] / macs_ratio / total["macs"]})
    return rows


@contract
def compression_rows(teacher: nn.Module, built: Mapping[str, ASNet], tuned: Mapping[str, ASNet],
                     histories: Mapping[str, Sequence[dict[str, Any]]], *, input_shape: Shape, name: str,
                     original_accuracy: Proportion) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The complexity table after fine-tuning and its summary (the paper's claims), per cut.

    ``built`` holds the ASNets of step 2, ``tuned`` the fine-tuned ones and ``histories`` what
    :func:`~aslib.fitting.finetuning.finetune` returned, all keyed by cut. Returns ``(rows, summary)``: ``rows`` are the
    original network (``name``) and each tuned ASNet's parts and total (basis not counted); ``summary``
    has one row per cut with the accuracy before / after, the dense reductions of the step-2 ASNet and the
    nonzero-parameter / sparse-MAC reductions of the tuned one, next to the paper's 23.98x / 7.30x.
    """
    missing = [layer for layer in tuned if layer not in built or layer not in histories]
    if not tuned or missing:
        raise ValueError(f"need a built ASNet and a history for every tuned cut; missing for {missing or 'all'}")
    original = complexity_rows(teacher, input_shape=input_shape, name=name)[0]
    rows, summary = [original], []
    for layer, net in tuned.items():
        parts = complexity_rows(net, input_shape=input_shape, name=f"ASNet {layer}", count_basis=False)
        rows += parts
        red = reduction(original, parts[-1])
        dense = reduction(original, complexity(built[layer], input_shape, count_basis=False))
        key = accuracy_key(histories[layer])
        summary.append({"cut": layer, "accuracy_before": histories[layer][0][key],
                        "accuracy_after": histories[layer][-1][key],
                        "original_accuracy": original_accuracy, "dense_params_x": dense["params_x"],
                        "dense_macs_x": dense["macs_x"], "nonzero_params_x": red["nonzero_params_x"],
                        "sparse_macs_x": red["sparse_macs_x"], "paper_params_x": PAPER_PARAMS_X,
                        "paper_macs_x": PAPER_MACS_X})
    return rows, summary


@contract
def compression_path(history: Sequence[Mapping[str, Any]], *, original_params: Count) -> list[dict[str, Any]]:
    """The accuracy-compression curve along one :func:`~aslib.fitting.finetuning.finetune` history: the dense ASNet at
    the
    end of distillation, every sparse epoch while the l1 strength acts (its ``scale``), the epoch at which the
    zero pattern was frozen and the last epoch (shown with the freezing scale), with the history's accuracy (test
    or validation: :func:`~aslib.fitting.finetuning.accuracy_key`) and the nonzero-parameter reduction
    ``original_params / nonzero``."""
    key = accuracy_key(history)
    dense = [row for row in history if row["phase"] in ("start", "distill")][-1:]
    sparse = [row for row in history if row["phase"] == "sparse"]
    if not dense or "nonzero_params" not in dense[0]:
        raise ValueError("the history needs rows with nonzero_params (finetune with input_shape=...)")
    frozen = [i for i, row in enumerate(sparse) if row.get("frozen")]
    if frozen:  # after the freeze the l1 strength no longer acts: the last epoch keeps the freezing scale
        first = sparse[frozen[0]]
        sparse = sparse[:frozen[0] + 1] + ([{**sparse[-1], "l1 scale": first.get("l1 scale", 0.0)}]
                                           if frozen[0] + 1 < len(sparse) else [])
    return [{"phase": row["phase"], "epoch": row["epoch"], "scale": row.get("l1 scale", 0.0),
             "frozen": row.get("frozen", False), "accuracy": row[key],
             "nonzero_params": row["nonzero_params"], "nonzero_params_x": original_params / row["nonzero_params"]}
            for row in dense + sparse]


@contract
def steps_per_epoch(config: FinetuneConfig, n_images: Count) -> int:
    """Optimiser steps of one fine-tuning epoch over ``n_images``: ``ceil(n / batch_size)``, capped at
    ``config.max_batches``."""
    return min(config.max_batches or math.inf, math.ceil(n_images / config.batch_size))


@contract
def shrinkage_budget(config: FinetuneConfig, steps: CountOrZero) -> dict[str, float]:
    """``sum_t lr_t lambda_t`` over the sparse phase of ``config`` with ``steps`` steps per epoch: the most a
    weight without gradient signal is shrunk (weight units), per group ``budget pre`` / ``AS`` / ``PCE``
    (the proximal steps stop earlier when ``config.target_params`` is reached).

    With the authors' schedule ``lr_e = lr_0 / (e + 1)`` and a constant ``lambda`` this is
    ``lambda * steps * lr_0 * H_E`` over ``E`` epochs.
    """
    strengths = (config.l1_pre, config.l1, config.l1)
    per_epoch = [(config.learning_rates("sparse", e), config.l1_scale(e)) for e in range(config.sparse_epochs)]
    return {f"budget {group}": lam * steps * sum(lrs[g] * scale for lrs, scale in per_epoch)
            for g, (group, lam) in enumerate(zip(("pre", "AS", "PCE"), strengths))}


@contract
def budget_rows(settings: Mapping[str, tuple[FinetuneConfig, CountOrZero]]) -> list[dict[str, Any]]:
    """One row per named ``(config, steps per epoch)``: epochs, steps, learning rates, l1 strengths and the
    :func:`shrinkage_budget` of each group."""
    if not settings:
        raise ValueError("no settings given; pass {name: (FinetuneConfig, steps_per_epoch)}")
    return [{"setting": name, "kd_epochs": c.kd_epochs, "sparse_epochs": c.sparse_epochs, "steps/epoch": steps,
             "kd_lr": str(c.kd_lr), "sparse_lr": str(c.sparse_lr), "l1": c.l1, "l1_pre": c.l1_pre,
             **shrinkage_budget(c, steps)} for name, (c, steps) in settings.items()]


@contract
def l1_tradeoff(asnet: ASNet, teacher: nn.Module, train_data: ImageDataset, test: Batches, config: FinetuneConfig,
                *, scales: Sequence[NonNegativeReal], original: Mapping[str, Any], max_batches: Count | None = None,
                input_shape: Shape = (3, 32, 32)) -> list[dict[str, Any]]:
    """Short sparse-only runs (no distillation, one epoch of ``max_batches`` steps) from a copy of
    ``asnet`` with the l1 strengths of ``config`` times each of ``scales``.

    ``original`` is the original network's :func:`~aslib.nets.counts.complexity`. Each row: scale, l1, l1_pre,
    final test accuracy, nonzero parameters and the nonzero-parameter / sparse-MAC reductions (basis
    counted, as :func:`~aslib.fitting.finetuning.finetune` does). ``asnet`` is left unchanged.
    """
    if not scales or any(s < 0 for s in scales):
        raise ValueError(f"scales must be a non-empty list of non-negative factors, got {scales!r}")
    rows = []
    for scale in scales:
        run = dataclasses.replace(config, kd_epochs=0, sparse_epochs=1, max_batches=max_batches,
                                  l1=scale * config.l1, l1_pre=scale * config.l1_pre)
        last = finetune(copy.deepcopy(asnet), teacher, train_data, test, run, input_shape=input_shape,
                        progress=False)[-1]
        sparse = reduction(original, last)
        rows.append({"scale": scale, "l1": run.l1, "l1_pre": run.l1_pre, "accuracy": last[accuracy_key([last])],
                     "nonzero_params": last["nonzero_params"], "nonzero_params_x": sparse["nonzero_params_x"],
                     "sparse_macs_x": sparse["sparse_macs_x"]})
    return rows
