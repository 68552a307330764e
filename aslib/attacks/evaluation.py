"""How strong a universal perturbation is: attack ratio, fooling rate, perturbation sizes, valid range.

* **Attack ratio** = fraction of samples with ``argmax f(x+v) != y`` (true labels, so clean
  errors count: the paper's measure). **Fooling rate** = fraction with
  ``argmax f(x+v) != argmax f(x)``.
* Nothing is clipped to the valid image range unless ``bounds`` is passed (the paper does not clip).
"""
from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor, nn

from aslib import data as data_mod
from aslib._utils import model_mode
from aslib.attacks.common import (Images, Labels, Perturbation, check_images, check_labels, check_model_inputs,
    check_vector, num_classes, predict)
from aslib.contracts import Count, contract


@contract
def valid_bounds(dataset_name: str, device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The valid pixel range [0, 1] in normalised units: ``(lo, hi)``, each ``(C, 1, 1)``."""
    channels = len(data_mod.dataset_spec(dataset_name).mean)
    return (data_mod.from_pixels(torch.zeros(channels, 1, 1, device=device), dataset_name),
            data_mod.from_pixels(torch.ones(channels, 1, 1, device=device), dataset_name))


@contract
def attack_ratio(model: nn.Module, x: Images, y: Labels, v: Perturbation, *, batch_size: Count = 256,
                 bounds: tuple[Tensor, Tensor] | None = None) -> float:
    """Fraction of samples with ``argmax f(x+v) != y`` (the paper's measure; clean errors count).

    Args:
        x: ``(N, C, H, W)`` normalised images; y: ``(N,)`` true labels; v: ``(C, H, W)``.
        bounds: optional ``(lo, hi)`` ``(C, 1, 1)`` in normalised units (see :func:`valid_bounds`)
            to clip ``x+v`` to the valid image range; None (the paper's setting) does not clip.
    """
    check_images(x)
    check_model_inputs(model, x)
    check_vector(x, v)
    with model_mode(model):
        check_labels(x, y, num_classes(model, x))
        return (predict(model, x, v, batch_size, bounds) != y).float().mean().item()


@contract
def fooling_rate(model: nn.Module, x: Images, v: Perturbation, *, batch_size: Count = 256,
                 bounds: tuple[Tensor, Tensor] | None = None) -> float:
    """Fraction of samples with ``argmax f(x+v) != argmax f(x)`` (clean inputs are not clipped)."""
    check_images(x)
    check_model_inputs(model, x)
    check_vector(x, v)
    with model_mode(model):
        clean = predict(model, x, None, batch_size)
        return (predict(model, x, v, batch_size, bounds) != clean).float().mean().item()


@contract
def clean_predictions(model: nn.Module, x: Images, *, batch_size: Count = 256) -> Tensor:
    """Eval-mode predicted labels ``(N,)`` of the clean images ``x``."""
    check_images(x)
    check_model_inputs(model, x)
    with model_mode(model):
        return predict(model, x, None, batch_size)


@contract
def rates(model: nn.Module, x: Images, y: Labels, clean: Labels, v: Perturbation, *, batch_size: Count = 256,
          bounds: tuple[Tensor, Tensor] | None = None) -> tuple[float, float]:
    """(attack ratio, fooling rate) of ``v`` from one pass, given the clean predictions ``clean`` ``(N,)``."""
    with model_mode(model):
        predicted = predict(model, x, v, batch_size, bounds)
    return (predicted != y).float().mean().item(), (predicted != clean).float().mean().item()


@contract
def perturbation_norms(v: Float[Tensor, "c h w"], dataset_name: str) -> dict[str, float]:
    """Sizes of a perturbation ``(C, H, W)`` given in normalised units.

    Returns ``l2`` and ``linf`` in normalised units, and ``pixel_l2_255`` / ``pixel_linf_255``:
    the norms of the pixel-space perturbation ``v * std`` expressed in 0..255 grey levels.
    """
    scale = data_mod.pixel_scale(dataset_name)
    if v.shape[0] != len(scale):
        raise ValueError(f"v must be one image's perturbation (C, H, W) with the {len(scale)} channel(s) of "
                         f"{dataset_name!r}, got shape {tuple(v.shape)}: pass the dataset the vector was made for")
    pixel = v.detach().cpu() * scale * 255
    return {"l2": v.norm().item(), "linf": v.abs().max().item(),
            "pixel_l2_255": pixel.norm().item(), "pixel_linf_255": pixel.abs().max().item()}
