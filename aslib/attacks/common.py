"""What every attack shares: input validation, projection onto the noise ball, the result type and
the registry of attacks (one signature for all).

Every universal attack is registered under a method name and called as
``fn(model, x, y, xi, *, norm, seed, batch_size, **options) -> AttackResult``:

* ``x`` ``(N, C, H, W)`` crafting images in normalised units (any ``(N, *shape)`` works),
  ``y`` ``(N,)`` true labels, ``xi`` the noise level (a norm of the vector in normalised units);
* ``norm`` ``"l2"`` (the paper) or ``"linf"``; ``seed`` seeds whatever the method draws;
  ``batch_size`` is the number of samples per forward/backward chunk (memory only: results do
  not depend on it); ``options`` are the method's own settings.
"""
from __future__ import annotations

import math
import numbers
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Protocol

import torch
from jaxtyping import Float, Integer
from torch import Tensor, nn

from .._utils import (check_choice, check_finite, check_positive, chunks, forward_logits, model_device, model_dtype,
                      model_mode)
from ..contracts import CountOrZero, PositiveReal, contract

Norm = Literal["l2", "linf"]
"""The norm of a perturbation: Euclidean (``"l2"``) or maximum (``"linf"``), in normalised units."""
NORMS = typing.get_args(Norm)
Images = Float[Tensor, "b *sample"]  # noqa: F821 (jaxtyping's axis names, not Python names)
"""Images ``(N, *sample)`` in normalised units (``(N, C, H, W)`` for the image models)."""
Labels = Integer[Tensor, " b"]
"""True labels ``(N,)``, one per image."""
Precision = Literal["float32", "bfloat16", "float16"]
PRECISIONS = typing.get_args(Precision)
"""Precisions of the attacks' evaluation forwards (``precision=``): float32 (the default, exact)
or autocast to bfloat16 / float16 with channels-last images, about 2x faster on CPUs with
AVX-512 BF16 and on GPUs, at a measured prediction agreement with float32 (see the attack benchmark)."""


@dataclass
class AttackResult:
    """A universal perturbation and how it was found.

    Attributes:
        vector: the perturbation, shape ``x.shape[1:]``, normalised units; rescaled to norm
            exactly ``xi`` (in the attack's norm) unless it is all zeros.
        history: per iteration, the crafting-set rate the method tracks: attack ratio of the
            accepted candidate (AS), fooling rate after each pass (UAP), empty for random.
        iterations: AS iterations or UAP passes run (0 for random).
        wall_time_s: wall-clock seconds to craft the vector (``time.perf_counter``).
        method: the registry name, ``"as"``, ``"uap"``, ``"sgd_uap"``, ``"random"`` or
            ``"checkerboard"``.
        xi, norm: the noise level and norm the vector was crafted for.
    """

    vector: torch.Tensor
    history: list[float] = field(default_factory=list)
    iterations: int = 0
    wall_time_s: float = 0.0
    method: str = ""
    xi: float = 0.0
    norm: str = "l2"


class Attack(Protocol):
    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, xi: float, *, norm: str = "l2",
                 seed: int = 0, batch_size: int = 256, **options: Any) -> AttackResult: ...


ATTACKS: dict[str, Attack] = {}
"""The registry: method name -> attack function (filled by :func:`register`)."""


def register(name: str) -> Callable[[Attack], Attack]:
    """Decorator adding an attack to :data:`ATTACKS` under ``name``."""

    def add(fn: Attack) -> Attack:
        ATTACKS[name] = fn
        return fn

    return add


def craft(method: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor, xi: float, *, norm: str = "l2",
          seed: int = 0, batch_size: int = 256, **options: Any) -> AttackResult:
    """Craft a universal vector with the registered ``method`` (one of :data:`ATTACKS`)."""
    check_choice("attack method", method, ATTACKS)
    return ATTACKS[method](model, x, y, xi, norm=norm, seed=seed, batch_size=batch_size, **options)


@contract
def attack_seed(seed: int, repeat: CountOrZero, xi: PositiveReal) -> int:
    """The seed of the attack that crafts repeat ``repeat``'s vector at noise level ``xi`` from the run seed ``seed``:
    ``seed + 1000 repeat + round(100 xi)``, independent of the grid of noise levels. The one rule of every crafted
    vector, shipped (:mod:`aslib.vectors`) or live (:mod:`aslib.studies`); the crafting set of that repeat is drawn
    with ``seed + repeat``."""
    return seed + 1000 * repeat + int(round(100 * xi))


# ----------------------------------------------------------------------------------------------
# validation

def check_xi(xi: float) -> None:
    if not isinstance(xi, numbers.Real) or not math.isfinite(xi) or xi <= 0:
        raise ValueError(f"xi must be a finite number > 0 (a norm in normalised units), got {xi!r}")


def check_norm(norm: str) -> None:
    check_choice("norm", norm, NORMS)


def check_images(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a batch tensor (N, C, H, W) with N >= 1, got {got}; "
                         "add a batch dimension with x.unsqueeze(0)")
    if len(x) == 0:
        raise ValueError("x is empty: pass at least one sample")


def check_labels(x: torch.Tensor, y: torch.Tensor, num_classes: int) -> None:
    if not isinstance(y, torch.Tensor) or y.ndim != 1:
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"y must be a 1-D label tensor (N,), got {got}")
    if len(y) != len(x):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)} labels; pass one label per sample")
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise ValueError(f"y must hold integer class indices, got dtype {y.dtype}; use y.long()")
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes - 1}] (the model has {num_classes} outputs), "
                         f"got range [{low}, {high}]")


def check_vector(x: torch.Tensor, v: torch.Tensor) -> None:
    if not isinstance(v, torch.Tensor):
        raise ValueError(f"the perturbation must be a tensor of the shape of x[0], got {type(v).__name__}")
    if tuple(v.shape) != tuple(x.shape[1:]):
        raise ValueError(f"perturbation shape {tuple(v.shape)} does not match one sample {tuple(x.shape[1:])}; "
                         "a universal perturbation has the shape of x[0]")
    if v.dtype != x.dtype or v.device != x.device:
        raise ValueError(f"the perturbation is {v.dtype} on {v.device} but the images are {x.dtype} on {x.device}; "
                         f"pass v.to(x) (a perturbation in the images' units)")
    check_finite(v, "the perturbation", "craft it again (a NaN vector fools nothing and measures nothing)")


def check_precision(precision: str, device: torch.device) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; use one of {PRECISIONS}")
    if precision == "float16" and device.type == "cpu":
        raise ValueError("precision='float16' needs a GPU; on a CPU use 'bfloat16' (fast on AVX-512 BF16 cores)")


def check_batch_size(batch_size: int) -> None:
    check_positive("batch_size", batch_size, integer=True)


@torch.no_grad()
def num_classes(model: nn.Module, x: torch.Tensor) -> int:
    """Number of model outputs K, from an eval-mode forward of one sample."""
    with model_mode(model):
        return forward_logits(model, x[:1]).shape[1]


def check_model_inputs(model: nn.Module, x: torch.Tensor) -> None:
    """``x`` must be on the model's device and in its floating dtype (say how to fix it, never cast silently)."""
    dtype = model_dtype(model)
    if dtype is None:
        return
    device = model_device(model)
    if x.device != device:
        raise ValueError(f"x is on {x.device} but the model is on {device}; move one of them, e.g. "
                         f"x.to({str(device)!r})")
    if x.dtype != dtype:
        raise ValueError(f"x has dtype {x.dtype} but the model's parameters are {dtype}; pass "
                         f"x.to({dtype}) (images in normalised units)")


def validate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, xi: float, norm: str, batch_size: int) -> None:
    """The checks every attack runs on its data arguments and common options."""
    check_images(x)
    check_model_inputs(model, x)
    check_xi(xi)
    check_norm(norm)
    check_batch_size(batch_size)
    check_labels(x, y, num_classes(model, x))


# ----------------------------------------------------------------------------------------------
# geometry and prediction

def vector_norm(v: torch.Tensor, norm: str) -> torch.Tensor:
    return v.abs().max() if norm == "linf" else v.norm()


def project(v: torch.Tensor, xi: float, *, norm: str = "l2") -> torch.Tensor:
    """Projection onto the ball ``{||v|| <= xi}``: l2 scales by ``min(1, xi/||v||)``, linf clamps to ``[-xi, xi]``."""
    check_xi(xi)
    check_norm(norm)
    check_finite(v, "the perturbation")
    if norm == "linf":
        return v.clamp(-xi, xi)
    length = v.norm()
    return v * (xi / length) if length > xi else v


def rescale(v: torch.Tensor, xi: float, norm: str) -> torch.Tensor:
    """``xi * v / ||v||`` (the paper evaluates full-norm vectors); an all-zero ``v`` is returned as is."""
    length = vector_norm(v, norm)
    return v * (xi / length) if length > 0 else v


@torch.no_grad()
def labels_of(model: nn.Module, inputs: torch.Tensor, precision: str = "float32") -> torch.Tensor:
    """Predicted labels ``(B,)`` of one batch ``inputs`` ``(B, C, H, W)``; a reduced ``precision``
    runs the forward under autocast with channels-last images (float32 runs it as is)."""
    if precision == "float32":
        return forward_logits(model, inputs).argmax(1)
    if inputs.ndim == 4:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    with torch.autocast(inputs.device.type, dtype=getattr(torch, precision)):
        return forward_logits(model, inputs).argmax(1)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, v: torch.Tensor | None = None, batch_size: int = 256,
            bounds: tuple[torch.Tensor, torch.Tensor] | None = None, precision: str = "float32") -> torch.Tensor:
    """Predicted labels ``(N,)`` of ``x + v`` (optionally clipped to ``bounds``), batch by batch
    (``precision``: see :data:`PRECISIONS`)."""
    labels = []
    for part in chunks(len(x), batch_size):
        inputs = x[part] if v is None else x[part] + v
        if bounds is not None:
            inputs = torch.maximum(torch.minimum(inputs, bounds[1]), bounds[0])
        labels.append(labels_of(model, inputs, precision))
    return torch.cat(labels)
