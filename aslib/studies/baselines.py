"""Shipped compressed networks against each other: live accuracy and complexity beside the manifest, and paired
accuracy differences between the ASNet and its equal-budget baselines with a verdict and the claim each backs.

Images are ``(N, C, H, W)`` normalised tensors on the device the networks should run on; complexity follows
:mod:`aslib.nets.counts` (reductions as base network / compressed network).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from jaxtyping import Float, Integer
from torch import Tensor, nn

from aslib.contracts import Shape, contract
from aslib.fitting import recipes
from aslib.linalg import stats
from aslib.nets.counts import complexity, reduction
from aslib.nets.inference import evaluate, predict_logits
from aslib.store import zoo

__all__ = ["BASELINE_CLAIMS", "accuracy_difference", "baseline_comparison", "frontier_rows", "selection_rows",
           "shipped_rows"]

TensorPair = tuple[Float[Tensor, "b *sample"], Integer[Tensor, " b"]]  # noqa: F821 (jaxtyping axes)
"""Images ``(N, *sample)`` and their labels ``(N,)``, normalised, on the device the networks should run on."""

BASELINE_CLAIMS = {"pca": "asnet_vs_pca_accuracy", "magnitude_pruning": "asnet_vs_magnitude_pruning_accuracy",
                   "channel_pruning_params": "asnet_vs_channel_pruning_params_accuracy",
                   "channel_pruning_macs": "asnet_vs_channel_pruning_macs_accuracy"}
"""The claim (:data:`aslib.teach.claims.CLAIMS`) that each baseline method's comparison with the ASNet backs."""


@contract
def shipped_rows(names: Sequence[str], test: TensorPair, *, input_shape: Shape) -> list[dict[str, Any]]:
    """Shipped compressed networks (zoo names, e.g. the ASNet and its baselines) evaluated live on ``test``,
    beside what their manifest recorded: method, cut, epochs, wall time, the split its recipe's choices and
    history read (``"validation"`` for a recipe that held one out, else ``"test"``), the recorded accuracy of the
    build before fine-tuning on that split (NaN for a pruned network), live and recorded test accuracy,
    live nonzero weights and the reductions against the base network (dense params / nonzeros, dense
    MACs / sparse MACs)."""
    if not names:
        raise ValueError("no zoo names given; see aslib.store.zoo.entries()")
    rows = []
    for name in names:
        entry = zoo.entry(name)
        if "nonzero_params" not in entry:
            raise ValueError(f"{name!r} is a network, not a compressed one (no nonzero_params in its manifest entry)")
        net = zoo.pretrained(name, test[0].device)
        base = complexity(zoo.pretrained(entry["base_model"]), input_shape)
        live = complexity(net, input_shape)
        red = reduction(base, live)
        split = "validation" if "validation" in entry else "test"
        rows.append({"name": name, "method": entry["method"], "cut": entry["arch_kwargs"].get("layer", "-"),
                     "epochs": entry["epochs"], "hours": entry["wall_time_s"] / 3600,
                     "choices_on": split,
                     "recorded_accuracy_before_finetuning": entry.get("build", {}).get(f"{split}_accuracy", math.nan),
                     "accuracy": evaluate(net, test)["accuracy"], "recorded_accuracy": entry["test_accuracy"],
                     "nonzero_params": live["nonzero_params"], "nonzero_params_x": red["nonzero_params_x"],
                     "sparse_macs_x": red["sparse_macs_x"]})
    return rows


@contract
def selection_rows(name: str) -> list[dict[str, Any]]:
    """How the shipped network ``name`` was chosen: one row per candidate recipe of its manifest's ``selection``
    (:func:`aslib.fitting.runs.select`) with the candidate's cut, its validation accuracy and whether it was
    chosen, in the order of the record."""
    entry = zoo.entry(name)
    if "selection" not in entry:
        raise ValueError(f"{name!r} was not chosen among candidates (its manifest entry has no selection); the "
                         "entries chosen on a validation split are made by `aslib select`")
    record = entry["selection"]
    return [{"candidate": candidate, "cut": recipes.RECIPES[candidate].layer, "validation_accuracy": score,
             "validation_images": record["validation"]["images"], "chosen": candidate == record["chosen"]}
            for candidate, score in record["validation_accuracy"].items()]


@contract
def accuracy_difference(model: nn.Module, other: nn.Module, test: TensorPair) -> stats.Estimate:
    """Paired difference of test accuracy, ``model`` minus ``other``, over the same images ``test``:
    mean, std and 95 % t-interval of the per-image difference of correctness
    (:func:`aslib.linalg.stats.paired_difference`)."""
    right = [(predict_logits(m, test[0]).argmax(1) == test[1].to(test[0].device)).double().cpu().tolist()
             for m in (model, other)]
    return stats.paired_difference(right[0], right[1])


@contract
def baseline_comparison(names: Sequence[str], test: TensorPair, *, input_shape: Shape
                        ) -> dict[str, list[dict[str, Any]]]:
    """The ASNet ``names[0]`` against each shipped baseline ``names[1:]`` (zoo names of networks made by
    :mod:`aslib.fitting`), all evaluated live on ``test``.

    Returns ``{"rows": shipped_rows(names), "differences": [...], "targets": [...]}``: per baseline the paired
    accuracy difference ASNet minus baseline (``mean``, ``std``, ``n``, ``low``, ``high``, ``level``), its
    ``verdict`` ("ASNet better" when the interval lies above zero, "baseline better" below, else
    "indistinguishable"), the ``claim`` it backs (:data:`BASELINE_CLAIMS`, None for a method without one) and a
    ``note`` stating both budgets; per network its recipe's target reduction and the one it reached (nonzero
    parameters, or sparse MACs for a MAC-matched recipe).
    """
    if len(names) < 2:
        raise ValueError(f"names must hold the ASNet and at least one baseline, got {list(names)}")
    rows = shipped_rows(names, test, input_shape=input_shape)
    by_name = {row["name"]: row for row in rows}
    reference = zoo.pretrained(names[0], test[0].device)
    differences = []
    for name in names[1:]:
        estimate = accuracy_difference(reference, zoo.pretrained(name, test[0].device), test)
        verdict = ("ASNet better" if estimate.low > 0 else "baseline better" if estimate.high < 0
                   else "indistinguishable")
        note = (f"{names[0]} vs {name}: {by_name[names[0]]['epochs']} and {by_name[name]['epochs']} fine-tuning "
                f"epochs; ASNet {by_name[names[0]]['nonzero_params_x']:.1f}x fewer nonzero parameters and "
                f"{by_name[names[0]]['sparse_macs_x']:.1f}x fewer sparse MACs, the baseline "
                f"{by_name[name]['nonzero_params_x']:.1f}x and {by_name[name]['sparse_macs_x']:.1f}x; paired over the "
                "same test images")
        differences.append({"asnet_minus": name, **dataclasses.asdict(estimate), "verdict": verdict,
                            "claim": BASELINE_CLAIMS.get(by_name[name]["method"]), "note": note})
    targets = []
    for row in rows:
        recipe = recipes.RECIPES[row["name"]]
        matched = recipe.match if isinstance(recipe, recipes.ChannelPruningRecipe) else "params"
        target = recipe.target_reduction
        if target is None:  # matched to the dense MACs of the ASNet at the recipe's cut
            if by_name[names[0]]["cut"] != recipe.cut:
                raise ValueError(f"{row['name']} matches the ASNet at {recipe.cut}, but {names[0]} is cut at "
                                 f"{by_name[names[0]]['cut']}: compare it with the ASNet at its cut")
            target = zoo.entry(names[0])["macs_x"]
        targets.append({"name": row["name"], "matched": matched, "target_x": target,
                        "reached_x": row["sparse_macs_x" if matched == "macs" else "nonzero_params_x"]})
    return {"rows": rows, "differences": differences, "targets": targets}


@contract
def frontier_rows(frontier: Mapping[str, Sequence[str]], original: nn.Module, test: TensorPair, *,
                  input_shape: Shape) -> list[dict[str, Any]]:
    """An accuracy-compression frontier of shipped networks (``{family: [zoo names, least to most compressed]}``,
    e.g. :data:`aslib.fitting.recipes.FRONTIER`), each evaluated live on ``test`` beside the ``original`` network.

    One row per network: its ``family``, the rows of :func:`shipped_rows` (live accuracy, nonzero parameters and
    the reductions against the base network), its recipe's targets (``target params x``, and ``target MACs x`` for
    an ASNet made to a MAC target, else None) and the accuracy ``drop``, original minus network, paired over the
    same test images (``drop low`` / ``drop high``: the 95 % t-interval, ``n`` images)."""
    if not frontier or not all(frontier.values()):
        raise ValueError("frontier maps each family to one or more zoo names, e.g. aslib.fitting.recipes.FRONTIER")
    rows = []
    for family, names in frontier.items():
        for row in shipped_rows(names, test, input_shape=input_shape):
            recipe = recipes.RECIPES[row["name"]]
            drop = accuracy_difference(original, zoo.pretrained(row["name"], test[0].device), test)
            macs_target = recipe.macs_reduction if isinstance(recipe, recipes.ASNetRecipe) else None
            rows.append({"family": family, **row, "target_params_x": recipe.target_reduction,
                         "target_macs_x": macs_target, "drop": drop.mean,
                         "drop_low": drop.low, "drop_high": drop.high, "n": drop.n})
    return rows
