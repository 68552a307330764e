"""A shipped network's recorded accuracy against the same network evaluated live (:mod:`aslib.store.reproduction`).

On the data the record was measured on (:func:`aslib.store.zoo.same_data`) the live accuracy must come back to
rounding; on another copy of the dataset (a user's lossless CIFAR-10) it is another measurement, and the
difference is reported with its interval.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from aslib.contracts import contract
from aslib.data import ImageDataset
from aslib.linalg import stats
from aslib.nets.inference import predict_logits
from aslib.store import zoo
from aslib.store.reproduction import Check, flip_tolerance

__all__ = ["RECORD_DECIMALS", "recorded_accuracy"]

RECORD_DECIMALS = 4
"""Manifests store accuracies rounded to this many decimals (half a unit of the last one is added to the tolerance)."""


@contract
def recorded_accuracy(model: nn.Module, test: ImageDataset, entry: dict[str, Any]) -> Check:
    """Accuracy of ``model`` on the whole split ``test`` against ``entry["test_accuracy"]`` (a zoo manifest entry).

    * Same pixels and labels as the record (:func:`aslib.store.zoo.same_data`): the tolerance is the share of
      images whose prediction rounding could flip (:func:`aslib.store.reproduction.flip_tolerance`; relative
      margin 1e-3 on a CPU, 1e-2 on CUDA, where convolutions may round inputs to TF32's 10 bits) plus
      the record's rounding.
    * Another copy of the data: the tolerance is the half-width of the 95 % interval of the difference
      of two accuracies on ``len(test)`` images each (:func:`aslib.linalg.stats.difference_of_proportions`), and
      the check is not binding (two measurements: reported, not asserted).
    """
    if test.split != "test":
        raise ValueError(f"the manifest records test accuracy; pass the test split, got the {test.split!r} split")
    x, y = test.batch(torch.arange(len(test)))
    logits = predict_logits(model, x)
    accuracy = float((logits.argmax(1) == y).float().mean())
    recorded = float(entry["test_accuracy"])
    quantity = f"{entry['name']}: test accuracy ({len(y)} images)"
    if zoo.same_data(entry, test):
        relative = 1e-2 if next(model.parameters()).device.type == "cuda" else 1e-3
        tolerance = flip_tolerance(logits, relative) + 0.5 * 10 ** -RECORD_DECIMALS
        return Check(quantity, accuracy, recorded, tolerance,
                     f"the record's data; predictions within {relative:g} of a tie may flip by rounding")
    low, high = stats.difference_of_proportions(accuracy, recorded, len(y), len(y))
    return Check(quantity, accuracy, recorded, (high - low) / 2,
                 f"OTHER data than the record's ({test.source}): two measurements, 95 % interval of the difference",
                 binding=False)
