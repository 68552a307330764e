"""Per-sample gradients of a scalar function with respect to named layer outputs.

One forward and one backward pass per batch give the gradients at every requested layer: with
the model in eval mode the function of the batch is the sum of per-sample values, so the
gradient of the sum with respect to sample ``i``'s activation is sample ``i``'s own gradient.
In train mode (``train_mode=True``, what the authors' code did) batch-norm couples the samples
of a batch; the batch-norm running statistics are restored after every batch either way, as are the
model's mode and its hooks, also when an error is raised: while :func:`layer_gradients` is suspended
between batches the model is exactly as it was passed in.

Layer names are the names of ``model.named_modules()`` (``"conv5"``, ``"block3"``, ``"fc1"`` ...)
plus ``"input"`` for the input itself (the layer used by the universal attack).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Sequence, Union

import torch
import torch.nn.functional as F
from jaxtyping import Float, Integer
from torch import Tensor, nn

from aslib._utils import NonFiniteError, check_choice, forward_logits, model_device, model_dtype, model_mode
from aslib.contracts import Count, contract
from aslib.data import Batches, batches

ScalarFunction = Union[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]

FUNCTIONS = ("loss", "logit")
"""The named scalar functions whose gradients the kit takes (see :func:`per_sample_function`)."""


@contract
def per_sample_function(function: ScalarFunction) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Resolve a function name to ``f(logits (B, K), labels (B,)) -> values (B,)``.

    ``"loss"``: cross-entropy (the paper's choice, default); ``"logit"``: minus the true-class
    logit (what the authors' ``nll_loss`` on raw logits computes); or a callable.
    """
    if callable(function):
        return function
    if function == "loss":
        return lambda logits, y: F.cross_entropy(logits, y, reduction="none")
    check_choice("function", function, FUNCTIONS, " or a callable (logits, labels) -> (B,)")
    return lambda logits, y: -logits.gather(1, y[:, None]).squeeze(1)


@contract
def resolve_layers(model: nn.Module, layers: Sequence[str] | str) -> dict[str, nn.Module | None]:
    """Map layer names to modules (``"input"`` maps to None); unknown names raise with the valid list."""
    names = [layers] if isinstance(layers, str) else list(layers)
    if not names:
        raise ValueError("no layers given; pass names such as aslib.nets.models.cut_points(model)")
    modules = dict(model.named_modules())
    for name in names:
        check_choice("layer", name, ["input"] + [n for n in modules if n])
    if len(set(names)) != len(names):
        raise ValueError(f"layer names repeat: {names}")
    return {n: (None if n == "input" else modules[n]) for n in names}


@contextmanager
def _capture_outputs(modules: dict[str, nn.Module | None]):
    """Record the forward output of each module in a dict ``name -> tensor`` (hooks removed on exit).

    The rest of the forward pass gets a copy of each recorded output, so an in-place operation after the
    layer (``ReLU(inplace=True)`` after a batch norm, as in torchvision's ResNets) changes the copy, not the
    recorded tensor: gradients and activations are those of the layer's own output.
    """
    store: dict[str, torch.Tensor] = {}
    handles = []

    def hook(name):
        def fn(module, inputs, output):
            if name in store:
                raise RuntimeError(f"layer {name!r} ran twice in one forward pass; per-sample gradients "
                                   "need a layer that is called once")
            if not isinstance(output, torch.Tensor):
                raise ValueError(f"layer {name!r} returns a {type(output).__name__}, not a tensor: capture a "
                                 "layer whose output is one tensor (e.g. a submodule of it)")
            store[name] = output
            return output.clone()
        return fn

    try:
        for name, module in modules.items():
            if module is not None:
                handles.append(module.register_forward_hook(hook(name)))
        yield store
    finally:
        for h in handles:
            h.remove()


@contract
def layer_gradients(model: nn.Module, layers: Sequence[str] | str, data: Batches, *,
                    function: ScalarFunction = "loss", train_mode: bool = False, batch_size: Count = 128,
                    max_batches: Count | None = None, return_activations: bool = False
                    ) -> Iterator[dict[str, torch.Tensor]]:
    """Yield, per batch, ``{layer: gradients (B, n_layer)}`` of the per-sample function.

    With ``return_activations=True`` the dict also holds ``"<layer>:activation"`` ``(B, n_layer)``
    and ``":logits"`` ``(B, K)``. Gradients are on the model's device, flattened per sample.
    Raises :class:`~aslib.NonFiniteError` on NaN/inf gradients and ValueError on empty data. The
    options are checked at the call, before the first batch is asked for.
    """
    modules = resolve_layers(model, layers)
    fn = per_sample_function(function)
    return _stream(model, modules, fn, batches(data, batch_size, model_device(model), model_dtype(model)),
                   max_batches, return_activations, train_mode)


def _stream(model: nn.Module, modules: dict[str, nn.Module | None], fn,
            stream: Iterator[tuple[torch.Tensor, torch.Tensor]], max_batches: int | None, return_activations: bool,
            train_mode: bool) -> Iterator[dict[str, torch.Tensor]]:
    seen = 0
    for i, (x, y) in enumerate(stream):
        if max_batches is not None and i >= max_batches:
            break
        with model_mode(model, train_mode), _capture_outputs(modules) as store:  # restored before every yield
            out = _batch_gradients(model, modules, fn, x, y, store, i, return_activations)
        seen += len(x)
        yield out
    if seen == 0:
        raise ValueError("no data: the data source yielded no batch")


def _batch_gradients(model: nn.Module, modules: dict[str, nn.Module | None], fn, x: torch.Tensor, y: torch.Tensor,
                     store: dict[str, torch.Tensor], index: int, return_activations: bool) -> dict[str, torch.Tensor]:
    x = x.detach().requires_grad_("input" in modules)
    if "input" in modules:
        store["input"] = x
    with torch.enable_grad():
        logits = forward_logits(model, x)
        if y.min() < 0 or y.max() >= logits.shape[1]:
            raise ValueError(f"labels must be in [0, {logits.shape[1]}), got [{int(y.min())}, {int(y.max())}]")
        values = fn(logits, y)
        if values.shape != (len(x),):
            raise ValueError(f"the function must return one value per sample ({len(x)},), "
                             f"got {tuple(values.shape)}")
        names = list(modules)
        grads = torch.autograd.grad(values.sum(), [store[n] for n in names], allow_unused=True)
    out = {}
    for name, g in zip(names, grads):
        if g is None:
            raise RuntimeError(f"the function does not depend on layer {name!r}")
        g = g.detach().flatten(1)
        if not torch.isfinite(g.sum()) and not torch.isfinite(g).all():  # the sum: a cheap screen
            raise NonFiniteError(f"NaN or inf gradients at layer {name!r} in batch {index}; "
                                 "check the inputs and the model's weights")
        out[name] = g
        if return_activations:
            out[f"{name}:activation"] = store[name].detach().flatten(1)
    if return_activations:
        out[":logits"] = logits.detach()
    return out


@contract
def input_gradients(model: nn.Module, x: Float[Tensor, "b *sample"], y: Integer[Tensor, " b"], *,  # noqa: F821
                    function: ScalarFunction = "loss", batch_size: Count = 128) -> Tensor:
    """Per-sample gradients of ``function`` with respect to the input: rows of an ``(N, d)`` matrix.

    ``x`` ``(N, *shape)`` (normalised units), ``y`` ``(N,)``; ``d = prod(shape)``. The input-layer
    case of :func:`layer_gradients` (the gradients of the universal attack), eval mode.
    """
    return torch.cat([grads["input"] for grads in layer_gradients(model, ["input"], (x, y), function=function,
                                                                   batch_size=batch_size)])
