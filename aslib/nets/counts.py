"""Storage and multiply-accumulate (MAC) counts and reduction ratios (tables live in :mod:`aslib.studies.tables`).

Counting rules, for **one sample**:

* ``params``: all trainable parameters (BN affine parameters and biases included);
  ``storage_mb = params * 4 / 2**20`` (float32 bytes, MiB).
* ``nonzero_params``: nonzero entries of Conv/Linear **weights** only (the authors' sparse counter:
  biases and BN parameters excluded); ``nonzero_storage_mb`` likewise.
* ``macs``: dense MACs of convolutions and matrix products, measured by
  ``torch.utils.flop_counter.FlopCounterMode`` (FLOPs / 2 of ``mm``/``addmm``/``convolution``:
  conv ``Cin/groups * k_h * k_w * Cout * H_out * W_out``, linear ``in * out``; biases, BN,
  activations and pooling are free).
* ``sparse_macs``: the authors' sparsity-aware rule: conv ``H_out * W_out * nnz(weight)``,
  linear ``nnz(weight)`` (times the number of rows it is applied to, 1 for a flat sample).
* ``basis_macs``: :attr:`aslib.linalg.pce.HermiteBasis.macs` for every Hermite basis evaluated in the
  forward. The paper does not count it; ``count_basis=True`` adds it to ``macs`` and
  ``sparse_macs`` and ``paper_macs = macs - basis_macs`` is always the paper's count.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from aslib._utils import model_mode
from aslib.contracts import Shape, contract
from aslib.linalg.pce import HermiteBasis

BYTES_PER_PARAM = 4
MB = 2**20
_COUNTED_OPS = frozenset({torch.ops.aten.mm, torch.ops.aten.addmm,
                          torch.ops.aten.convolution, torch.ops.aten._convolution})
_WEIGHTED = (nn.modules.conv._ConvNd, nn.Linear)


@contract
def nonzero_weights(model: nn.Module) -> int:
    """Nonzero entries of the Conv/Linear weights of ``model`` (the ``nonzero_params`` of :func:`complexity`)."""
    return sum(int(torch.count_nonzero(m.weight)) for m in model.modules() if isinstance(m, _WEIGHTED))


@contract
def complexity(model: nn.Module, input_shape: Shape, *, sparse: bool = False,
               count_basis: bool = True) -> dict[str, Any]:
    """Parameters, storage (MB) and MACs of ``model`` for one sample of shape ``input_shape``.

    Args:
        model: any module; run once (no grad, eval mode, every submodule's mode restored after)
            on a zero input ``(1, *input_shape)`` on the device/dtype of its first parameter (CPU float32 if none).
        input_shape: one sample's shape without the batch, e.g. ``(3, 32, 32)`` or ``(50,)``.
        sparse: also return ``sparsity`` (fraction of zero Conv/Linear weight entries).
        count_basis: add the Hermite-basis cost to ``macs`` and ``sparse_macs``.

    Returns:
        ``{"params", "nonzero_params", "storage_mb", "nonzero_storage_mb", "macs", "sparse_macs",
        "basis_macs", "paper_macs"}`` (counts are ints, storage in MiB), plus ``"sparsity"`` if
        ``sparse``. See the module docstring for the rules.
    """
    shape = tuple(int(s) for s in input_shape)
    weights = [m.weight for m in model.modules() if isinstance(m, _WEIGHTED)]
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    nonzero = nonzero_weights(model)
    dense, positions, basis = _count_macs(model, shape)
    sparse_macs = sum(count * int(torch.count_nonzero(module.weight)) for module, count in positions.items())
    extra = basis if count_basis else 0
    result: dict[str, Any] = {
        "params": params,
        "nonzero_params": nonzero,
        "storage_mb": params * BYTES_PER_PARAM / MB,
        "nonzero_storage_mb": nonzero * BYTES_PER_PARAM / MB,
        "macs": dense + extra,
        "sparse_macs": sparse_macs + extra,
        "basis_macs": basis,
        "paper_macs": dense,
    }
    if sparse:
        total = sum(w.numel() for w in weights)
        result["sparsity"] = 1 - nonzero / total if total else 0.0
    return result


@contract
def sparse_macs_counter(model: nn.Module, input_shape: Shape) -> Callable[[], int]:
    """A cheap recount of ``complexity(model, input_shape)["sparse_macs"]`` (Hermite basis included) while the
    weights change but not the architecture: one forward finds each Conv/Linear layer's output positions per
    output unit (``H_out * W_out`` of a 2-d convolution, 1 for a linear layer applied to a flat sample; summed over
    the calls of a layer used more than once) and the basis MACs; each call then counts the nonzero weights."""
    _, positions, basis = _count_macs(model, tuple(int(s) for s in input_shape))
    return lambda: basis + sum(count * int(torch.count_nonzero(module.weight)) for module, count in positions.items())


@contract
def complexity_table(parts: Mapping[str, nn.Module], input_shapes: Mapping[str, Shape], *,
                     total: bool = True, count_basis: bool = True) -> list[dict[str, Any]]:
    """One row per part (e.g. ``{"pre-model": pre, "AS layer": proj, "PCE layer": head}``), plus a total.

    Each row is ``{"name": ..., **complexity(part, input_shapes[name])}`` with the MAC counts
    also in millions (``macs_m``, ``paper_macs_m``, ``sparse_macs_m``). The ``"total"`` row sums
    every numeric field, so the parts must not share parameters.
    """
    missing = [name for name in parts if name not in input_shapes]
    if missing:
        raise ValueError(f"input_shapes lacks an entry for {missing}; pass one sample shape per part, "
                         "e.g. {'AS layer': (16384,)}")
    rows = [{"name": name, **complexity(part, input_shapes[name], count_basis=count_basis)}
            for name, part in parts.items()]
    if total and rows:
        rows.append({"name": "total", **{key: sum(row[key] for row in rows) for key in rows[0] if key != "name"}})
    for row in rows:
        for key in ("macs", "paper_macs", "sparse_macs"):
            row[f"{key}_m"] = row[key] / 1e6
    return rows


@contract
def reduction(original: Mapping[str, Any], reduced: Mapping[str, Any]) -> dict[str, float]:
    """Reduction factors of ``reduced`` against ``original`` (both :func:`complexity` dicts or total rows).

    ``params_x`` and ``macs_x`` compare dense counts; ``nonzero_params_x`` and ``sparse_macs_x``
    divide the original's **dense** counts by the reduced model's nonzero counts (the form of
    the paper's 23.98x / 7.30x claims).
    """
    return {
        "params_x": original["params"] / reduced["params"],
        "macs_x": original["macs"] / reduced["macs"],
        "nonzero_params_x": original["params"] / reduced["nonzero_params"],
        "sparse_macs_x": original["macs"] / reduced["sparse_macs"],
    }


def _count_macs(model: nn.Module, shape: tuple[int, ...]) -> tuple[int, dict[nn.Module, int], int]:
    """(dense conv/linear MACs, output positions per output unit of each Conv/Linear layer, basis MACs) of one
    forward on a zero sample."""
    positions: dict[nn.Module, int] = {}
    basis_macs = 0

    def weighted_hook(module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        out_units = module.out_channels if isinstance(module, nn.modules.conv._ConvNd) else module.out_features
        positions[module] = positions.get(module, 0) + output.numel() // out_units

    def basis_hook(module: HermiteBasis, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> None:
        nonlocal basis_macs
        basis_macs += inputs[0].shape[0] * module.macs

    reference = next(model.parameters(), None)
    device = reference.device if reference is not None else torch.device("cpu")
    dtype = reference.dtype if reference is not None and reference.is_floating_point() else torch.float32
    dummy = torch.zeros((1, *shape), device=device, dtype=dtype)
    handles = [m.register_forward_hook(weighted_hook) for m in model.modules() if isinstance(m, _WEIGHTED)]
    handles += [m.register_forward_hook(basis_hook) for m in model.modules() if isinstance(m, HermiteBasis)]
    counter = FlopCounterMode(display=False)
    try:
        with model_mode(model), torch.no_grad(), counter:
            model(dummy)
    except RuntimeError as err:
        raise ValueError(f"forward of a dummy input of shape {tuple(dummy.shape)} failed ({err}); "
                         "check that input_shape is one sample's shape without the batch") from err
    finally:
        for handle in handles:
            handle.remove()
    flops = counter.get_flop_counts().get("Global", {})
    dense = sum(count for op, count in flops.items() if op in _COUNTED_OPS) // 2
    return dense, positions, basis_macs

