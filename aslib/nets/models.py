"""Model zoo: CIFAR VGG, CIFAR ResNet (option-A shortcuts) and the Fashion-MNIST LeNet.

Every model is an ``nn.Sequential`` whose children carry names a user can pass as a cut point
(``conv5``, ``block30``, ``fc1`` ...): the output of a child is the activation ``x_l`` of the
paper, and ``model[:k]`` / ``model[k:]`` are the pre- and post-model. :func:`cut_points` lists
them. Names follow the paper's counting:

* VGG: ``conv{i}`` = i-th conv + BN + ReLU, *including the max-pool that follows it*, so cutting
  after ``conv{l}`` keeps the first ``l`` conv layers exactly as the authors' ``PossibleCutIdx``.
* ResNet: ``stem`` (conv + BN + ReLU), then ``block1 ... block{3n}``, then ``pool``, ``flatten``, ``fc``.
* LeNet: ``conv1``, ``conv2`` (conv + ReLU + max-pool), ``flatten``, ``fc1`` (+ ReLU), ``fc2``.

Shipped checkpoints live in :mod:`aslib.store.zoo` (``aslib.store.zoo.pretrained``).
"""
from __future__ import annotations

import inspect
from collections import OrderedDict
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from aslib._utils import check_choice
from aslib.contracts import Count, CountOrZero, Counts, PositiveReal, contract

VGG_CONFIGS: dict[int, list[int | str]] = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
         512, 512, 512, 512, "M"],
}
VggDepth = Literal[11, 13, 16, 19]
"""The depths of :data:`VGG_CONFIGS`."""
RESNET_DEPTHS = (20, 32, 44, 56, 110)


class NamedSequential(nn.Sequential):
    """``nn.Sequential`` whose slices are plain ``nn.Sequential`` (keeping the child names)."""

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return nn.Sequential(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)


def _check_shape_options(num_classes: int, width: float, narrowest: int) -> None:
    """The relations every architecture's options share (their types and ranges are the declared contracts): >= 2
    classes, and a width multiplier that leaves at least one channel in the narrowest layer (``narrowest`` channels
    at width 1)."""
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2 (a classifier), got {num_classes}")
    if narrowest * width < 1:
        raise ValueError(f"width {width!r} leaves less than one channel in the narrowest layer ({narrowest} "
                         f"channels at width 1); use width >= 1/{narrowest}")


class VGG(NamedSequential):
    """CIFAR VGG with the fully connected layers removed (one ``Linear(512*width, K)``).

    Args:
        depth: 11, 13, 16 or 19.
        num_classes: K.
        batch_norm: BN after every conv.
        width: channel multiplier (1.0 = the paper's network, 0.25 = the CPU-sized zoo model).
        in_channels: 3 for CIFAR.
        channels: output channels of each conv layer, overriding ``width`` (a channel-pruned VGG, e.g. by
            Torch-Pruning; one positive int per conv layer of the depth).
    Input ``(B, in_channels, 32, 32)`` -> logits ``(B, K)``.
    """

    @contract
    def __init__(self, depth: VggDepth = 19, num_classes: Count = 10, batch_norm: bool = True,
                 width: PositiveReal = 1.0, in_channels: Count = 3, channels: Counts | None = None):
        _check_shape_options(num_classes, width, narrowest=64)
        config = VGG_CONFIGS[depth]
        convs = [item for item in config if item != "M"]
        if channels is not None and len(channels) != len(convs):
            raise ValueError(f"channels must give one positive int per conv layer ({len(convs)} for depth {depth}), "
                             f"got {len(channels)}: {channels!r}")
        widths = iter(channels if channels is not None else [max(1, int(round(item * width))) for item in convs])
        layers: list[tuple[str, nn.Module]] = []
        incoming, index = in_channels, 0
        for pos, item in enumerate(config):
            if item == "M":
                continue
            out = next(widths)
            block: list[nn.Module] = [nn.Conv2d(incoming, out, 3, padding=1)]
            if batch_norm:
                block.append(nn.BatchNorm2d(out))
            block.append(nn.ReLU())
            if pos + 1 < len(config) and config[pos + 1] == "M":
                block.append(nn.MaxPool2d(2))
            index += 1
            layers.append((f"conv{index}", nn.Sequential(*block)))
            incoming = out
        layers += [("flatten", nn.Flatten()), ("fc", nn.Linear(incoming, num_classes))]
        super().__init__(OrderedDict(layers))


class ShortcutA(nn.Module):
    """Option-A shortcut: subsample by 2 and zero-pad channels (no parameters)."""

    @contract
    def __init__(self, pad: CountOrZero):
        super().__init__()
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN + shortcut, then ReLU."""

    @contract
    def __init__(self, in_planes: Count, planes: Count, stride: Count = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_planes != planes:
            self.shortcut = ShortcutA((planes - in_planes) // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(NamedSequential):
    """CIFAR ResNet of depth 6n+2 (He et al. 2016, option-A shortcuts, as akamaster's models).

    Input ``(B, 3, 32, 32)`` -> logits ``(B, K)``. Children: ``stem``, ``block1..block{3n}``,
    ``pool``, ``flatten``, ``fc``.
    """

    @contract
    def __init__(self, depth: Count = 20, num_classes: Count = 10, width: PositiveReal = 1.0, in_channels: Count = 3):
        if (depth - 2) % 6 or depth < 8:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2 (e.g. {RESNET_DEPTHS}), got {depth}")
        _check_shape_options(num_classes, width, narrowest=16)
        n = (depth - 2) // 6
        planes = [max(2, 2 * int(round(c * width / 2))) for c in (16, 32, 64)]
        layers: list[tuple[str, nn.Module]] = [("stem", nn.Sequential(
            nn.Conv2d(in_channels, planes[0], 3, padding=1, bias=False), nn.BatchNorm2d(planes[0]), nn.ReLU()))]
        in_planes, index = planes[0], 0
        for stage, p in enumerate(planes):
            for i in range(n):
                index += 1
                layers.append((f"block{index}", BasicBlock(in_planes, p, 2 if stage > 0 and i == 0 else 1)))
                in_planes = p
        layers += [("pool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()),
                   ("fc", nn.Linear(in_planes, num_classes))]
        super().__init__(OrderedDict(layers))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)


class LeNet(NamedSequential):
    """The authors' Fashion-MNIST net: conv 1→20 5x5, conv 20→50 5x5, fc 800→500→10.

    Input ``(B, 1, 28, 28)`` -> logits ``(B, K)``.
    """

    @contract
    def __init__(self, num_classes: Count = 10, in_channels: Count = 1):
        _check_shape_options(num_classes, 1.0, narrowest=20)
        super().__init__(OrderedDict([
            ("conv1", nn.Sequential(nn.Conv2d(in_channels, 20, 5), nn.ReLU(), nn.MaxPool2d(2))),
            ("conv2", nn.Sequential(nn.Conv2d(20, 50, 5), nn.ReLU(), nn.MaxPool2d(2))),
            ("flatten", nn.Flatten()),
            ("fc1", nn.Sequential(nn.Linear(800, 500), nn.ReLU())),
            ("fc2", nn.Linear(500, num_classes)),
        ]))


@contract
def build(arch: str, **kwargs: Any) -> nn.Sequential:
    """Build an architecture by name: ``vgg11/13/16/19[_bn]``, ``resnet20/32/44/56/110`` (any depth
    6n+2), ``lenet``.

    Keyword arguments go to the class (``num_classes``, ``width``, ...); the depth is in the name.
    """
    name = str(arch).lower()
    cls, args = None, {}
    if name == "lenet":
        cls = LeNet
    elif name.startswith("vgg") and name[3:].removesuffix("_bn").isdigit():
        cls, args = VGG, {"depth": int(name[3:].removesuffix("_bn")), "batch_norm": name.endswith("_bn")}
    elif name.startswith("resnet") and name[6:].isdigit():
        cls, args = ResNet, {"depth": int(name[6:])}
    if cls is None:
        known = ["lenet", *(f"vgg{d}{bn}" for d in VGG_CONFIGS for bn in ("", "_bn")),
                 *(f"resnet{d}" for d in RESNET_DEPTHS)]
        check_choice("architecture", arch, known)
    options = set(inspect.signature(cls).parameters) - set(args)
    unknown = sorted(set(kwargs) - options)
    if unknown:
        raise TypeError(f"architecture {arch!r} takes no option {unknown[0]!r}; its options are {sorted(options)}")
    return cls(**args, **kwargs)


@contract
def cut_points(model: nn.Module) -> list[str]:
    """Names of the children after which a sequential model can be cut (all but the last)."""
    if not isinstance(model, nn.Sequential):
        return [name for name, _ in model.named_modules() if name]
    return [name for name, _ in model.named_children()][:-1]


@contract
def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

