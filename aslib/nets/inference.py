"""Inference: a model's logits and its loss and accuracy on a dataset, batched, in eval mode.

Both functions run on the model's device, restore every submodule's mode afterwards (also on error) and
never touch the parameters.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn
from tqdm.auto import tqdm

from aslib import data as data_mod
from aslib._utils import chunks, forward_logits, model_device, model_dtype, model_mode
from aslib.contracts import Count, Counts, contract



@torch.no_grad()
@contract
def evaluate(model: nn.Module, data: data_mod.Batches, *, batch_size: Count = 500, topk: Counts = (1,),
             progress: bool = False) -> dict[str, float | int]:
    """Mean cross-entropy, top-k accuracy (fractions in [0, 1]) and sample count of ``model`` in eval mode.

    ``data`` is a dataset, an iterable of ``(images, labels)`` batches or a pair of tensors. The
    model's mode is restored afterwards.
    """
    data = data_mod.batches(data, batch_size, model_device(model), model_dtype(model))
    total, loss, correct = 0, 0.0, {k: 0 for k in topk}
    with model_mode(model):
        for x, y in tqdm(data, disable=not progress, desc="evaluate", leave=False):
            logits = forward_logits(model, x)
            if len(y) and (int(y.min()) < 0 or int(y.max()) >= logits.shape[1]):
                raise ValueError(f"labels must lie in [0, {logits.shape[1] - 1}] (the model has {logits.shape[1]} "
                                 f"outputs), got range [{int(y.min())}, {int(y.max())}]")
            if max(topk) > logits.shape[1]:
                raise ValueError(f"topk {topk} asks for more classes than the model's {logits.shape[1]} outputs")
            loss += F.cross_entropy(logits, y, reduction="sum").item()
            top = logits.topk(max(topk), dim=1).indices
            for k in topk:
                correct[k] += (top[:, :k] == y[:, None]).any(1).sum().item()
            total += len(y)
    if total == 0:
        raise ValueError("evaluate() got no data")
    out = {"loss": loss / total, "accuracy": correct[topk[0]] / total, "samples": total}
    out.update({f"top{k}": correct[k] / total for k in topk})
    return out


@torch.no_grad()
@contract
def predict_logits(model: nn.Module, x: Float[Tensor, "b *sample"], *,  # noqa: F821 (jaxtyping axes)
                   batch_size: Count = 500) -> Tensor:
    """Eval-mode logits ``(N, K)`` of the images ``x`` ``(N, *shape)``, computed batch by batch on the
    model's device and returned on the CPU (every submodule's mode restored)."""
    if len(x) == 0:
        raise ValueError("x holds no images: pass a non-empty batch (N, *shape)")
    device = model_device(model)
    with model_mode(model):
        return torch.cat([forward_logits(model, x[part].to(device)).cpu() for part in chunks(len(x), batch_size)])
