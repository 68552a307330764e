"""The two pruning baselines' operations on a network: global magnitude pruning with layer-normalised magnitudes
(:func:`magnitude_prune_`, unstructured, ``torch.nn.utils.prune``) and channel pruning of a VGG
(:func:`channel_pruned`, structured, Torch-Pruning). :mod:`aslib.fitting` distils the pruned networks."""
from __future__ import annotations

import copy
from typing import Literal, get_args

import torch
import torch_pruning as tp
from torch import nn
from torch.nn.utils import prune

from aslib.contracts import Count, Shape, contract
from aslib.nets.counts import complexity
from aslib.nets.models import VGG, VGG_CONFIGS

ChannelMatch = Literal["params", "macs"]
"""What :func:`channel_pruned` matches: the pruned network's parameters or its MACs."""
CHANNEL_MATCH = get_args(ChannelMatch)


@contract
def magnitude_prune_(model: nn.Module, target: Count) -> list[tuple[nn.Module, str]]:
    """Prune ``model``'s Conv/Linear weights in place to ``target`` nonzeros, globally by magnitude, each layer's
    magnitudes divided by their root mean square (a convolution followed by batch norm computes the same function
    at any scale of its weights); returns the pruned ``(module, "weight")`` pairs, whose masks
    (``torch.nn.utils.prune``) stay until ``prune.remove``."""
    weights = [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    total = sum(m.weight.numel() for m, _ in weights)
    if target > total:
        raise ValueError(f"target is the number of nonzero weights to keep: at most the {total} there are, "
                         f"got {target}")
    scores = {(m, name): m.weight.detach().abs() / m.weight.detach().pow(2).mean().sqrt() for m, name in weights}
    prune.global_unstructured(weights, pruning_method=prune.L1Unstructured, importance_scores=scores,
                              amount=total - target)
    return weights


@contract
def channel_pruned(model: nn.Module, target: Count, match: ChannelMatch, input_shape: Shape
                   ) -> tuple[nn.Module, float]:
    """The VGG ``model`` with whole channels removed (see :class:`ChannelPruningRecipe`) so that its parameters
    (``match="params"``) or MACs (``match="macs"``) are at most ``target``; returns the pruned copy, rebuilt as
    :class:`aslib.nets.models.VGG` with ``channels``, and the pruned fraction of every conv layer's channels (bisection
    to 1e-3). ``model`` is left unchanged."""
    if not isinstance(model, VGG):
        raise ValueError("channel pruning rebuilds a VGG of the kit (aslib.nets.models.VGG), "
                         f"got {type(model).__name__}")
    device = next(model.parameters()).device
    example = torch.zeros(1, *input_shape, device=device)

    def pruned(fraction: float) -> nn.Module:
        copy_ = copy.deepcopy(model).eval()
        pruner = tp.pruner.MetaPruner(copy_, example, importance=tp.importance.GroupMagnitudeImportance(p=2),
                                      pruning_ratio=fraction, ignored_layers=[copy_.fc])
        pruner.step()
        return copy_

    low, high = 0.0, 0.95  # Torch-Pruning leaves a layer whole when a fraction would remove all its channels
    if complexity(pruned(high), input_shape)[match] > target:
        raise ValueError(f"no channel fraction leaves at most {target} {match}: choose a smaller target_reduction")
    while high - low > 1e-3:
        middle = (low + high) / 2
        low, high = (low, middle) if complexity(pruned(middle), input_shape)[match] <= target else (middle, high)
    smaller = pruned(high)
    channels = [module[0].out_channels for name, module in smaller.named_children() if name.startswith("conv")]
    depth = {len(c): d for d, c in _vgg_convs().items()}[len(channels)]
    rebuilt = VGG(depth, num_classes=smaller.fc.out_features, batch_norm=any(
        isinstance(m, nn.BatchNorm2d) for m in smaller.modules()), in_channels=input_shape[0], channels=channels)
    rebuilt.load_state_dict(smaller.state_dict())
    return rebuilt.to(device).train(model.training), high


def _vgg_convs() -> dict[int, list[int]]:
    return {depth: [c for c in config if c != "M"] for depth, config in VGG_CONFIGS.items()}


__all__ = ["CHANNEL_MATCH", "ChannelMatch", "channel_pruned", "magnitude_prune_"]
