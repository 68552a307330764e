"""Active subspaces of several layers of a model from one pass over the data (:func:`layer_subspaces`)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import Sequence

import torch
from tqdm.auto import tqdm

from aslib.contracts import Count, Fraction, contract
from aslib.data import local_share
from aslib.distributed import all_gather, is_distributed
from aslib.linalg.subspace.estimator import ActiveSubspace, Method
from aslib.linalg.subspace.readings import summary
from aslib.nets.gradients import layer_gradients


class LayerAnalysis(dict):
    """``{layer name: ActiveSubspace}`` from :func:`layer_subspaces`, with a tabular summary."""

    @contract
    def table(self, deltas: Sequence[Fraction] = (0.9, 0.95, 0.99), leading: Count = 3) -> list[dict]:
        """One row per layer: name, neurons, samples, active neurons per threshold, leading eigenvalues."""
        return [{"layer": name, **summary(est, deltas, leading)} for name, est in self.items()]


@contract
def fit_layers(estimators: dict[str, ActiveSubspace], gradients: dict[str, torch.Tensor],
               pool: ThreadPoolExecutor | None = None) -> None:
    """Feed one batch of every layer's gradient rows ``{name: (b, n_layer)}`` to that layer's estimator.

    With a ``pool`` of workers and CPU gradients, the layers run concurrently, the widest first;
    :func:`layer_subspaces` shares the caller's torch threads out among one worker per layer (one thread each
    when there are more layers than threads). The folds' small float64 eigenproblems and the per-batch
    copies gain little from a second thread, so one layer per core is faster than the layers one after
    another at all threads (``benchmarks/bench_subspace.py`` prints both). Each estimator still sees its
    batches in order, so its result is that of sequential ``partial_fit`` calls at the workers' thread
    count. On a GPU the layers run in turn.
    """
    names = list(estimators)
    if set(gradients) != set(names):
        missing, unexpected = sorted(set(names) - set(gradients)), sorted(set(gradients) - set(names))
        raise ValueError(f"fit_layers needs one gradient batch per estimator: missing {missing}, unexpected "
                         f"{unexpected}; pass the same layer names in both")
    if pool is None or any(gradients[name].device.type != "cpu" for name in names):
        for name in names:
            estimators[name].partial_fit(gradients[name])
        return
    widest_first = sorted(names, key=lambda name: -gradients[name][:1].numel())
    for done in [pool.submit(estimators[name].partial_fit, gradients[name]) for name in widest_first]:
        done.result()


@contract
def layer_subspaces(model: torch.nn.Module, layers: Sequence[str] | str, data, *,
                    method: Method = "frequent_directions", function="loss", rank: Count | None = None,
                    sketch_size: Count | None = None, train_mode: bool = False, batch_size: Count = 128,
                    max_batches: Count | None = None, progress: bool = False) -> LayerAnalysis:
    """Active subspaces of several layers from one pass over ``data``.

    Args:
        model: any ``nn.Module`` returning logits; analysed in eval mode unless ``train_mode``.
        layers: names from ``model.named_modules()`` (or ``"input"``), e.g. ``cut_points(model)``.
        data: a dataset, an iterable of ``(x, y)`` batches, or a pair of tensors.
        method, rank, sketch_size: passed to :class:`ActiveSubspace` (one per layer).
        function: ``"loss"`` (cross-entropy), ``"logit"`` (minus true-class logit) or a callable.
    Under ``torch.distributed`` each rank sketches its shard of ``data`` and the sketches are
    merged (in rank order) so that every rank holds the same estimate. On the CPU the layers' estimators
    take each batch concurrently (:func:`fit_layers`).
    Returns:
        :class:`LayerAnalysis` mapping each layer to its fitted estimator.
    """
    names = [layers] if isinstance(layers, str) else list(layers)
    data = local_share(data, batch_size)
    result = LayerAnalysis((n, ActiveSubspace(method, rank=rank, sketch_size=sketch_size)) for n in names)
    stream = layer_gradients(model, names, data, function=function, train_mode=train_mode,
                             batch_size=batch_size, max_batches=max_batches)
    threads = torch.get_num_threads()
    workers = min(threads, len(names))
    with ThreadPoolExecutor(workers, initializer=torch.set_num_threads, initargs=(threads // workers,)) \
            if workers > 1 else nullcontext() as pool:
        for grads in tqdm(stream, disable=not progress, desc="gradients", leave=False):
            fit_layers(result, grads, pool)
    if is_distributed():
        device = next(model.parameters()).device
        for name in names:
            parts = all_gather(result[name].state())
            merged = ActiveSubspace.from_state(parts[0], device)
            for part in parts[1:]:
                merged.merge(ActiveSubspace.from_state(part, device))
            result[name] = merged
    return result


