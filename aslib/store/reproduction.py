"""Reproduction checks: a recomputed result against a stored one, with what is compared, to what tolerance, and why.

Three kinds of quantities get three kinds of checks:

* **Bitwise on every platform**: index draws from a seeded generator, counts, stored files and
  data. Compared exactly.
* **Floating-point results** (a re-crafted vector, a fine-tuned network, an accuracy, an R²). Summation
  order depends on the CPU kernel set (``ATEN_CPU_CAPABILITY``), the BLAS, the thread count and the
  device, so such a result is bitwise reproducible only where all of these match the record's
  :func:`platform_fingerprint`; an exact match is claimed only then (:func:`same_platform`).
  Elsewhere the comparison uses a tolerance derived from the quantity (:func:`prediction_tolerance`
  for a search whose outcome varies between repeats, :func:`flip_tolerance` for an accuracy).
* **Other data**: a result measured on another copy of a dataset (a lossless CIFAR-10 where the record
  used the JPEG-derived archive) is not a reproduction at all; notebooks report the difference with
  its interval instead of asserting it (:func:`data_identity` tells the copies apart).
"""
from __future__ import annotations

import hashlib
import math
import numbers
import platform
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch

from jaxtyping import Float, Integer, UInt8
from torch import Tensor

from aslib.contracts import FiniteReal, Fraction, NonNegativeReal, PositiveReal, contract
from aslib.linalg.stats import estimate, t_quantile

FINGERPRINT_KEYS = ("torch", "machine", "cpu_capability", "blas", "threads", "device")
"""What decides the rounding of a computation: the fields of :func:`platform_fingerprint` compared by
:func:`same_platform`."""


def _blas() -> str:
    """The BLAS torch was built with (``BLAS_INFO`` of ``torch.__config__.show()``), e.g. ``mkl``."""
    found = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    return found.group(1) if found else "unknown"


@contract
def platform_fingerprint(device: torch.device | str = "cpu") -> dict[str, Any]:
    """Where a computation ran, as far as its rounding is concerned: torch version, machine
    architecture, the CPU kernel set ATen dispatches to (``AVX512``, ``AVX2``, ``DEFAULT``; set by
    ``ATEN_CPU_CAPABILITY``), the BLAS, the torch thread count and the device (with the GPU's name
    on CUDA)."""
    device = torch.device(device)
    name = str(device)
    if device.type == "cuda":
        name += f" ({torch.cuda.get_device_name(device)})"
    return {"torch": torch.__version__, "machine": platform.machine(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "blas": _blas(),
            "threads": torch.get_num_threads(), "device": name}


@contract
def other_capability() -> str:
    """A CPU kernel set other than this process's, the cheap stand-in for another machine: ``"avx2"`` on a CPU
    with AVX-512, else ``"default"`` (set ``ATEN_CPU_CAPABILITY`` to it before torch starts; ``make test``
    reruns the reproduction tests and the notebook validation that way)."""
    return "avx2" if torch.backends.cpu.get_cpu_capability() == "AVX512" else "default"


@contract
def same_platform(recorded: Mapping[str, Any] | None, device: torch.device | str = "cpu") -> bool:
    """True when a record's fingerprint (``None`` for a record made before fingerprints were kept)
    matches this process's in every field of :data:`FINGERPRINT_KEYS`: only then is a bitwise match
    of a floating-point result expected."""
    if recorded is None:
        return False
    current = platform_fingerprint(device)
    return all(recorded.get(key) == current[key] for key in FINGERPRINT_KEYS)


@contract
def data_identity(images: UInt8[Tensor, "n *sample"], labels: Integer[Tensor, " n"]) -> str:  # noqa: F821
    """sha256 of ``uint8`` images ``(N, C, H, W)`` and their labels ``(N,)``: equal exactly when two
    copies of a dataset (or of a subset) hold the same pixels and labels, whatever file they came from."""
    digest = hashlib.sha256(images.cpu().contiguous().numpy().tobytes())
    digest.update(labels.cpu().to(torch.int64).contiguous().numpy().tobytes())
    return digest.hexdigest()


@contract
@dataclass(frozen=True)
class Check:
    """One comparison of a recomputed value with a stored one.

    ``tolerance`` is the largest accepted ``|recomputed - stored|`` (0 for an exact match) and
    ``basis`` says why that tolerance fits the quantity. ``binding`` is False for a comparison that is not
    a reproduction (other data than the record's): it is reported with its interval, and :func:`require`
    does not assert it.
    """

    quantity: str
    recomputed: FiniteReal
    stored: FiniteReal
    tolerance: NonNegativeReal
    basis: str
    binding: bool = True

    def __post_init__(self) -> None:
        if not self.basis:
            raise ValueError(f"Check {self.quantity!r}: say why the tolerance fits the quantity (basis)")

    @property
    def difference(self) -> float:
        return self.recomputed - self.stored

    @property
    def passed(self) -> bool:
        return abs(self.difference) <= self.tolerance

    def __str__(self) -> str:
        bound = "exact" if self.tolerance == 0 else f"|difference| <= {self.tolerance:.3g}"
        verdict = "within" if self.passed else "OUTSIDE"
        kind = "" if self.binding else ", reported, not asserted"
        return (f"{self.quantity}: recomputed {self.recomputed:.6g}, stored {self.stored:.6g}, difference "
                f"{self.difference:+.3g} ({bound}; {self.basis}{kind}): {verdict} the tolerance")


@contract
def require(checks: Sequence[Check]) -> None:
    """Raise an AssertionError naming every binding check that failed (with its tolerance and basis)."""
    failed = [str(c) for c in checks if c.binding and not c.passed]
    if failed:
        raise AssertionError("outside the tolerance:\n" + "\n".join(failed))


@contract
def prediction_tolerance(values: Sequence[numbers.Real], level: Fraction = 0.99) -> float:
    """Half-width of the two-sided ``level`` prediction interval of one more repeat, from the
    repeats ``values`` (n >= 2): ``t_{(1+level)/2, n-1} * s * sqrt(1 + 1/n)``.

    A re-run that differs from a stored one only by rounding draws from (at most) the spread of
    independent repeats, so a stored result is reproduced when the re-run lies within this width of it.
    """
    if len(values) < 2:
        raise ValueError(f"a prediction interval needs at least 2 repeats, got {len(values)}")
    n = len(values)
    return t_quantile((1 + level) / 2, n - 1) * estimate(values).std * math.sqrt(1 + 1 / n)


@contract
def flip_tolerance(logits: Float[Tensor, "n k"], relative: PositiveReal = 1e-3) -> float:
    """The accuracy change that rounding alone could cause: the fraction of rows of ``logits``
    ``(N, K)`` whose top-two margin is at most ``relative`` times the row's largest ``|logit|``.

    Another kernel set or thread count sums the same float32 products in another order, which moves
    a logit by a few units in the last place per layer (relative 1e-6 to 1e-5 through a deep
    network); only a prediction whose margin is that small can flip. ``relative = 1e-3`` leaves a
    factor of 100 or more.
    """
    if logits.shape[1] < 2:
        raise ValueError(f"logits must be (N, K) with K >= 2 classes, got shape {tuple(logits.shape)}")
    top = logits.detach().float().topk(2, dim=1).values
    scale = logits.detach().float().abs().amax(dim=1)
    return float(((top[:, 0] - top[:, 1]) <= relative * scale).float().mean())


__all__ = ["FINGERPRINT_KEYS", "Check", "data_identity", "flip_tolerance", "other_capability", "platform_fingerprint",
           "prediction_tolerance", "require", "same_platform"]
