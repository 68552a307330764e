"""The one map between normalised units and pixel values in [0, 1]: ``x = (p - mean) / std`` per channel, with
the statistics of the dataset the images come from."""
from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

from aslib.contracts import contract
from aslib.data.catalog import dataset_spec

Images = Float[Tensor, "*batch c h w"]
"""Images ``(..., C, H, W)`` in floating point, normalised or in pixel units."""


def _statistics(name: str, device: torch.device | str | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel ``mean`` and ``std`` ``(C, 1, 1)`` of dataset ``name``, on ``device``: the one place of the
    map between pixel values ``p`` in [0, 1] and normalised units ``(p - mean) / std``."""
    spec = dataset_spec(name)
    return (torch.tensor(spec.mean, device=device).view(-1, 1, 1),
            torch.tensor(spec.std, device=device).view(-1, 1, 1))


@contract
def to_pixels(images: Images, name: str = "cifar10") -> Tensor:
    """Normalised ``(..., C, H, W)`` -> pixel units ``x * std + mean`` (0..1 for a valid image; not clamped)."""
    _check_channels(images, name, len(dataset_spec(name).mean))
    mean, std = _statistics(name, images.device)
    return images * std + mean


@contract
def from_pixels(pixels: Images, name: str = "cifar10") -> Tensor:
    """Pixel units ``(..., C, H, W)`` (0..1) -> normalised units ``(p - mean) / std``; the inverse of
    :func:`to_pixels`."""
    _check_channels(pixels, name, len(dataset_spec(name).mean))
    mean, std = _statistics(name, pixels.device)
    return (pixels - mean) / std


@contract
def denormalize(images: Images, name: str = "cifar10") -> Tensor:
    """Normalised ``(..., C, H, W)`` -> pixel values in [0, 1] (clamped), for display."""
    return to_pixels(images, name).clamp(0, 1)


@contract
def pixel_scale(name: str) -> Tensor:
    """Per-channel factor ``std`` ``(C, 1, 1)`` that maps normalised units to 0..1 pixel units."""
    return _statistics(name, None)[1]


def _check_channels(images: torch.Tensor, name: str, channels: int) -> None:
    """Refuse images whose channel axis (third from the end) does not match the dataset's statistics: a
    1-channel image would otherwise broadcast silently to 3 channels of CIFAR-10 statistics."""
    if images.shape[-3] != channels:
        raise ValueError(f"{name!r} statistics have {channels} channel(s) but the images have shape "
                         f"{tuple(images.shape)} (channels third from the end): pass the dataset the images "
                         f"come from, e.g. name='fashion_mnist' for 1-channel images")
