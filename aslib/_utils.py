"""Private plumbing shared by every module: model mode, atomic saves, devices, validators.

Nothing here computes a result of the kit; each helper exists once so that every public
function behaves the same way (mode restored the same way, the same error for the same mistake).
"""
from __future__ import annotations

import difflib
import json
import math
import numbers
import os
import random
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Callable, Iterable
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn


class NonFiniteError(FloatingPointError, ValueError):
    """A NaN or infinite value where numbers were expected (inputs, gradients, losses, features).

    One type for the whole kit; it is both a :class:`FloatingPointError` and a :class:`ValueError`,
    so code written against either keeps working.
    """


@contextmanager
def model_mode(model: nn.Module, train: bool = False) -> Iterator[nn.Module]:
    """Put every submodule of ``model`` in eval (or train) mode; restore each one's own mode and
    every buffer (batch-norm running statistics) on exit, also when an error is raised."""
    modes = [(module, module.training) for module in model.modules()]
    buffers = [(buffer, buffer.detach().clone()) for buffer in model.buffers()]
    model.train(train)
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)


def load_tensors(path: str | Path, what: str, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)`` with aslib's errors: a missing file raises
    FileNotFoundError and a file that is not a tensor archive (truncated, corrupt, or holding
    arbitrary Python objects) raises ValueError naming the file and ``what`` was expected."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    if isinstance(map_location, (str, torch.device)):
        check_device(map_location)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError, ... for bad files
        raise ValueError(f"{path} is not a readable {what} (truncated, corrupt, or not written by aslib: "
                         f"{type(error).__name__}); write it again with aslib, or restore the original file") from None


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file then rename, so a crash never leaves a half-written file."""
    _atomic(path, lambda tmp: torch.save(obj, tmp))


def atomic_write_json(value: Any, path: str | os.PathLike, indent: int = 1) -> None:
    """Write ``value`` as indented JSON (with a final newline) to a temporary file then rename: the one way the kit
    writes a manifest, so a crash or a parallel reader never sees half a file."""
    _atomic(path, lambda tmp: tmp.write_text(json.dumps(value, indent=indent) + "\n"))


def _atomic(path: str | os.PathLike, write: Callable[[Path], Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a :class:`torch.device`, or ValueError when it is not a device name or this machine does not
    have it (a CUDA or MPS device without the hardware, a CUDA index beyond the GPUs present)."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"{device!r} is not a device; use 'cpu', 'cuda' or 'cuda:N'") from None
    if resolved.type == "cuda" and (not torch.cuda.is_available()
                                    or (resolved.index or 0) >= torch.cuda.device_count()):
        found = f"{torch.cuda.device_count()} CUDA device(s)" if torch.cuda.is_available() else "no CUDA device"
        raise ValueError(f"device {str(resolved)!r} is not on this machine ({found}); use 'cpu' or leave the device "
                         "unset to take CUDA when it is there")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {str(resolved)!r} is not on this machine (no MPS backend); use 'cpu'")
    return resolved


def load_resumed(module: nn.Module, state_dict: dict[str, Any], path: Path, how_to_restart: str) -> None:
    """Load the weights of a resumable checkpoint into ``module``, or ValueError naming ``path`` when they belong to a
    run of another configuration (another architecture, rank, degree or cut)."""
    try:
        module.load_state_dict(state_dict)
    except RuntimeError as error:
        raise ValueError(f"{path} holds a run of another configuration ({str(error).splitlines()[0].rstrip('.:')}); "
                         f"delete it to start this one afresh, or {how_to_restart}") from None


def forward_logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``model(x)`` checked to be logits ``(N, K)``, one row per sample of ``x`` ``(N, ...)``; a forward that fails
    on ``x`` (often another dataset's image shape, channels or dtype, but the error can be the model's own: the
    message does not guess which) or returns something else (a tuple, a dict, one row for the batch) raises
    ValueError saying what came and what aslib needs, chained to the original error."""
    try:
        out = model(x)
    except torch.OutOfMemoryError:
        raise
    except RuntimeError as error:
        raise ValueError(f"the model's forward failed on inputs of shape {tuple(x.shape)} and dtype {x.dtype} "
                         f"({str(error).splitlines()[0]}). If the inputs do not fit the model, pass images of the "
                         "dataset the model was made for, (N, C, H, W) in normalised float units on the model's "
                         "device; if they do, the error is in the model's forward (the chained traceback above "
                         "shows where)") from error
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or len(out) != len(x):
        got = f"a tensor of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"the model returned {got} for {len(x)} inputs; aslib needs a model whose forward returns "
                         "logits (N, K): wrap it in a module whose forward returns the logits tensor alone")
    return out



@contextmanager
def seeded(seed: int, device: torch.device | str | None = None) -> Iterator[None]:
    """Run the ``with`` block with Python's, NumPy's and torch's generators (CPU, and ``device`` when it is a CUDA
    device) seeded with ``seed``; on leaving, success or failure, every generator is back in the state it had, so
    a seeded computation does not change the caller's random state (the kit's one seeding rule)."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)

def default_device() -> torch.device:
    """``cuda`` when available, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def model_device(model: nn.Module) -> torch.device:
    """Device of the model's first parameter (CPU for a model without parameters)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def model_dtype(model: nn.Module) -> torch.dtype | None:
    """Floating dtype of the model's first floating parameter (None for a model without one)."""
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), None)


def chunks(n: int, batch_size: int) -> Iterator[slice]:
    """Consecutive slices of at most ``batch_size`` covering ``range(n)``."""
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def check_positive(name: str, value: Any, *, integer: bool = False, allow_zero: bool = False) -> None:
    """Raise ValueError unless ``value`` is a finite real (an int when ``integer``) > 0 (>= 0 with ``allow_zero``)."""
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else ">= 1" if integer else "> 0"
        raise ValueError(f"{name} must be {'an int' if integer else 'a finite number'} {bound}, got {value!r}")


def check_choice(what: str, value: Any, choices: Iterable[Any], hint: str = "") -> None:
    """Raise ValueError unless ``value`` is one of ``choices``; a near miss is named ("did you mean ...?"),
    ``hint`` (how to get a missing one) is appended."""
    choices = list(choices)
    if value in choices:
        return
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1, cutoff=0.6)
    near = f"did you mean {close[0]!r}? " if close else ""
    shown = sorted(choices, key=str) if len(choices) <= 40 else [*choices[:40], "..."]
    raise ValueError(f"unknown {what} {value!r}; {near}choose one of {shown}{hint}")


def check_fraction(name: str, value: Any, *, low_open: bool = True, high_open: bool = False) -> None:
    """Raise ValueError unless ``value`` is a real number in the interval (0, 1] (ends as given)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    above = ok and (value > 0 if low_open else value >= 0)
    below = ok and (value < 1 if high_open else value <= 1)
    if not (above and below):
        interval = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")


def check_finite(tensor: torch.Tensor, what: str, hint: str = "check the model and the inputs") -> None:
    """Raise :class:`NonFiniteError` naming ``what`` when ``tensor`` holds NaN or inf."""
    if not bool(torch.isfinite(tensor).all()):
        raise NonFiniteError(f"{what} contain NaN or inf values; {hint}")

