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

import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Protocol

import torch
from jaxtyping import Float, Integer
from torch import Tensor, nn

from aslib._utils import check_choice, check_finite, chunks, forward_logits, model_device, model_dtype, model_mode
from aslib.contracts import Count, CountOrZero, NonNegativeReal, PositiveReal, contract

Norm = Literal["l2", "linf"]
"""The norm of a perturbation: Euclidean (``"l2"``) or maximum (``"linf"``), in normalised units."""
NORMS = typing.get_args(Norm)
Images = Float[Tensor, "b *sample"]  # noqa: F821 (jaxtyping's axis names, not Python names)
"""Images ``(N, *sample)`` in normalised units (``(N, C, H, W)`` for the image models)."""
Labels = Integer[Tensor, " b"]
"""True labels ``(N,)``, one per image."""
Perturbation = Float[Tensor, "*sample"]  # noqa: F821
"""One perturbation of a sample's shape, e.g. ``(C, H, W)``: the same ``sample`` axes as the images of the call."""
Vector = Float[Tensor, "c *sample"]  # noqa: F821
"""A perturbation on its own (no images to agree with): a floating tensor of at least one axis."""
Precision = Literal["float32", "bfloat16", "float16"]
PRECISIONS = typing.get_args(Precision)
"""Precisions of the attacks' evaluation forwards (``precision=``): float32 (the default, exact)
or autocast to bfloat16 / float16 with channels-last images, about 2x faster on CPUs with
AVX-512 BF16 and on GPUs, at a measured prediction agreement with float32 (see the attack benchmark)."""


@contract
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

    vector: Vector
    history: list[float] = field(default_factory=list)
    iterations: CountOrZero = 0
    wall_time_s: NonNegativeReal = 0.0
    method: str = ""
    xi: NonNegativeReal = 0.0
    norm: Norm = "l2"


class Attack(Protocol):
    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, xi: float, *, norm: str = "l2",
                 seed: int = 0, batch_size: int = 256, **options: Any) -> AttackResult: ...


ATTACKS: dict[str, Attack] = {}
"""The registry: method name -> attack function (filled by :func:`register`)."""


@contract
def register(name: str) -> Callable[[Attack], Attack]:
    """Decorator adding an attack to :data:`ATTACKS` under ``name``."""

    def add(fn: Attack) -> Attack:
        ATTACKS[name] = fn
        return fn

    return add


@contract
def craft(method: str, model: nn.Module, x: Images, y: Labels, xi: PositiveReal, *, norm: Norm = "l2",
          seed: CountOrZero = 0, batch_size: Count = 256, **options: Any) -> AttackResult:
    """Craft a universal vector with the registered ``method`` (one of :data:`ATTACKS`)."""
    check_choice("attack method", method, ATTACKS)
    return ATTACKS[method](model, x, y, xi, norm=norm, seed=seed, batch_size=batch_size, **options)


@contract
def attack_seed(seed: int, repeat: CountOrZero, xi: PositiveReal) -> int:
    """The seed of the attack that crafts repeat ``repeat``'s vector at noise level ``xi`` from the run seed ``seed``:
    ``seed + 1000 repeat + round(100 xi)``, independent of the grid of noise levels. The one rule of every crafted
    vector, shipped (:mod:`aslib.store.vectors`) or live (:mod:`aslib.studies`); the crafting set of that repeat is
    drawn
    with ``seed + repeat``."""
    return seed + 1000 * repeat + int(round(100 * xi))


# ----------------------------------------------------------------------------------------------
# validation: the types, dtypes, ranges and shapes are the declared contracts; what is checked here are the
# relations a signature cannot state

@contract
def check_images(x: Images) -> None:
    """``x`` is a non-empty batch ``(N, C, H, W)`` (any ``(N, *shape)`` with at least one axis after the batch)."""
    if x.ndim < 2:
        raise ValueError(f"x must be a batch tensor (N, C, H, W) with N >= 1, got {tuple(x.shape)}; "
                         "add a batch dimension with x.unsqueeze(0)")
    if len(x) == 0:
        raise ValueError("x is empty: pass at least one sample")


@contract
def check_labels(x: Images, y: Labels, num_classes: Count) -> None:
    """``y`` holds one class index in ``[0, num_classes)`` per sample of ``x``."""
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes - 1}] (the model has {num_classes} outputs), "
                         f"got range [{low}, {high}]")


@contract
def check_vector(x: Images, v: Perturbation) -> None:
    """``v`` is one finite perturbation of a sample's shape, in the images' dtype and on their device."""
    if v.dtype != x.dtype or v.device != x.device:
        raise ValueError(f"the perturbation is {v.dtype} on {v.device} but the images are {x.dtype} on {x.device}; "
                         f"pass v.to(x) (a perturbation in the images' units)")
    check_finite(v, "the perturbation", "craft it again (a NaN vector fools nothing and measures nothing)")


@contract
def check_precision(precision: Precision, device: torch.device) -> None:
    """A reduced ``precision`` the ``device`` has (float16 only on a GPU)."""
    if precision == "float16" and device.type == "cpu":
        raise ValueError("precision='float16' needs a GPU; on a CPU use 'bfloat16' (fast on AVX-512 BF16 cores)")


@torch.no_grad()
@contract
def num_classes(model: nn.Module, x: Images) -> int:
    """Number of model outputs K, from an eval-mode forward of one sample."""
    with model_mode(model):
        return forward_logits(model, x[:1]).shape[1]


@contract
def check_model_inputs(model: nn.Module, x: Images) -> None:
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


@contract
def validate(model: nn.Module, x: Images, y: Labels, xi: PositiveReal, norm: Norm, batch_size: Count) -> None:
    """The checks every attack runs on its data arguments and common options (``xi``, ``norm`` and ``batch_size``
    are the contract; the images, their dtype and device and the labels' range are checked here)."""
    check_images(x)
    check_model_inputs(model, x)
    check_labels(x, y, num_classes(model, x))


# ----------------------------------------------------------------------------------------------
# geometry and prediction

def _vector_norm(v: torch.Tensor, norm: str) -> torch.Tensor:
    return v.abs().max() if norm == "linf" else v.norm()


@contract
def project(v: Vector, xi: PositiveReal, *, norm: Norm = "l2") -> Tensor:
    """Projection onto the ball ``{||v|| <= xi}``: l2 scales by ``min(1, xi/||v||)``, linf clamps to ``[-xi, xi]``."""
    return _project(v, xi, norm)


def _project(v: Tensor, xi: float, norm: str) -> Tensor:
    """:func:`project` without the contract, for the attacks' inner loops (their ``xi`` and ``norm`` are checked
    once, at their own call); a non-finite step is still refused."""
    check_finite(v, "the perturbation")
    if norm == "linf":
        return v.clamp(-xi, xi)
    length = v.norm()
    return v * (xi / length) if length > xi else v


@contract
def rescale(v: Vector, xi: PositiveReal, norm: Norm) -> Tensor:
    """``xi * v / ||v||`` (the paper evaluates full-norm vectors); an all-zero ``v`` is returned as is."""
    length = _vector_norm(v, norm)
    return v * (xi / length) if length > 0 else v


@torch.no_grad()
def labels_of(model: nn.Module, inputs: Images, precision: Precision = "float32") -> Tensor:
    """Predicted labels ``(B,)`` of one batch ``inputs`` ``(B, C, H, W)``; a reduced ``precision``
    runs the forward under autocast with channels-last images (float32 runs it as is). Not wrapped by
    :func:`~aslib.contracts.contract` (called per chunk inside the attacks' loops; the callers' contracts hold)."""
    if precision == "float32":
        return forward_logits(model, inputs).argmax(1)
    if inputs.ndim == 4:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    with torch.autocast(inputs.device.type, dtype=getattr(torch, precision)):
        return forward_logits(model, inputs).argmax(1)


@torch.no_grad()
def predict(model: nn.Module, x: Images, v: Perturbation | None = None, batch_size: Count = 256,
            bounds: tuple[Tensor, Tensor] | None = None, precision: Precision = "float32") -> Tensor:
    """Predicted labels ``(N,)`` of ``x + v`` (optionally clipped to ``bounds``), batch by batch
    (``precision``: see :data:`PRECISIONS`). Not wrapped by :func:`~aslib.contracts.contract`: UAP calls it once
    per sample, where the wrapper costs a third of a one-image forward; the public measures that call it
    (:func:`~aslib.attacks.attack_ratio`, ...) are contracted."""
    labels = []
    for part in chunks(len(x), batch_size):
        inputs = x[part] if v is None else x[part] + v
        if bounds is not None:
            inputs = torch.maximum(torch.minimum(inputs, bounds[1]), bounds[0])
        labels.append(labels_of(model, inputs, precision))
    return torch.cat(labels)
