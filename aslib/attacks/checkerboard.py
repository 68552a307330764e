"""The structured control: a low-frequency checkerboard of the same norm as the attacks' vectors.

Universal-perturbation papers compare their vectors not only with random noise (which spreads its
norm over every frequency and is nearly harmless) but also with a structured pattern of the same
norm. A checkerboard of ``cell x cell`` pixel squares, the same in every channel, is the simplest such
pattern: it asks whether an attack's gain comes from finding the network's sensitive directions or
merely from concentrating the norm at low spatial frequencies. Its only choice, the sign, is made on
the crafting images (the one with the higher attack ratio), as the AS attack chooses the sign of its
direction.
"""
from __future__ import annotations

import time

import torch
from torch import nn

from aslib.attacks.common import AttackResult, Images, Labels, Norm, register, rescale, validate
from aslib.attacks.evaluation import attack_ratio
from aslib.contracts import Count, CountOrZero, PositiveReal, Shape, contract


@contract
def checkerboard_perturbation(shape: Shape, xi: PositiveReal, *, norm: Norm = "l2", cell: Count = 4,
                              device: torch.device | str | None = None,
                              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A checkerboard of ``cell x cell`` squares of ``+a`` and ``-a``, the same in every channel, of norm exactly
    ``xi``.

    ``shape`` is one sample's shape ``(C, H, W)``; the top-left square is positive.
    """
    shape = tuple(int(d) for d in shape)
    if len(shape) != 3:
        raise ValueError(f"shape must be one image's shape (C, H, W), such as (3, 32, 32), got {shape}")
    channels, height, width = shape
    if cell > min(height, width):
        raise ValueError(f"cell must be at most the image's height and width ({height} x {width}), got {cell}")
    rows = torch.arange(height) // cell
    cols = torch.arange(width) // cell
    signs = 1.0 - 2.0 * ((rows[:, None] + cols[None, :]) % 2).to(dtype)  # (H, W) of +-1
    return rescale(signs.expand(channels, height, width).contiguous(), xi, norm).to(device)


@register("checkerboard")
@contract
def checkerboard_attack(model: nn.Module, x: Images, y: Labels, xi: PositiveReal, *, norm: Norm = "l2",
                        seed: CountOrZero = 0, batch_size: Count = 256, cell: Count = 4) -> AttackResult:
    """The structured control with the attacks' signature: :func:`checkerboard_perturbation` of one image's
    shape, with the sign of higher attack ratio on the crafting images ``x`` ``(N, C, H, W)``, ``y`` ``(N,)``
    (``seed`` is accepted for the common signature; nothing is drawn). ``history`` holds the crafting-set
    attack ratios of the positive and the negative pattern."""
    validate(model, x, y, xi, norm, batch_size)
    start = time.perf_counter()
    v = checkerboard_perturbation(x.shape[1:], xi, norm=norm, cell=cell, device=x.device, dtype=x.dtype)
    ratios = [attack_ratio(model, x, y, v, batch_size=batch_size), attack_ratio(model, x, y, -v, batch_size=batch_size)]
    best = v if ratios[0] >= ratios[1] else -v
    return AttackResult(best, ratios, 0, time.perf_counter() - start, "checkerboard", float(xi), norm)
