"""The random-direction baseline: a random vector of the same norm as the attacks' vectors."""
from __future__ import annotations

import time

import torch
from torch import nn

from aslib.attacks.common import AttackResult, Images, Labels, Norm, register, validate
from aslib.contracts import Count, CountOrZero, PositiveReal, Shape, contract


@contract
def random_perturbation(shape: Shape, xi: PositiveReal, *, norm: Norm = "l2", seed: int = 0,
                        device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A random vector of norm exactly ``xi``: Gaussian direction (l2) or ``xi`` times random signs (linf).

    Drawn on the CPU with a seeded generator (identical on every device), then moved to ``device``.
    """
    shape = tuple(int(d) for d in shape)
    generator = torch.Generator().manual_seed(seed)
    gauss = torch.randn(shape, generator=generator, dtype=dtype)
    v = xi * torch.where(gauss >= 0, 1.0, -1.0).to(dtype) if norm == "linf" else gauss * (xi / gauss.norm())
    return v.to(device)


@register("random")
@contract
def random_attack(model: nn.Module, x: Images, y: Labels, xi: PositiveReal, *, norm: Norm = "l2",
                  seed: CountOrZero = 0, batch_size: Count = 256) -> AttackResult:
    """The random baseline with the attacks' signature: :func:`random_perturbation` of one sample's shape."""
    validate(model, x, y, xi, norm, batch_size)
    start = time.perf_counter()
    v = random_perturbation(x.shape[1:], xi, norm=norm, seed=seed, device=x.device, dtype=x.dtype)
    return AttackResult(v, [], 0, time.perf_counter() - start, "random", float(xi), norm)
