"""Data-parallel helpers on ``torch.distributed`` (gloo on CPU, nccl on GPU), used under ``torchrun``.

Public functions of the kit detect an initialised process group and then work on their rank's
share of the work; results that must agree across ranks are combined with collectives so that
every rank holds the same answer. Without a process group everything runs in one process.

**One sharding concept.** A *shard* is a pair ``(process_rank, world)``; the share of process rank ``k`` of any
sequence is the items at positions ``k, k + world, k + 2 world, ...`` (:func:`share`). The kit
uses it everywhere work is split:

* analysis (:func:`aslib.data.local_share`): the samples of a dataset or tensor pair, or the
  batches of an iterable, for :func:`aslib.nets.layer_analysis.layer_subspaces`;
* training (:class:`aslib.data.BatchLoader` ``shard=``): the samples of every global batch, so
  that the ranks together see exactly the batches of one process;
* studies (:mod:`aslib.studies`): the settings (repeat, sample size, source model) of a sweep,
  whose rows are then gathered in single-process order.

This module imports nothing else from the kit but :mod:`aslib.contracts`: it sits below :mod:`aslib.data`.
"""
from __future__ import annotations

import numbers
import os
from typing import Any, Iterable, Iterator, Sequence, TypeVar

import torch
import torch.distributed as dist

from aslib.contracts import Count, CountOrZero, contract

T = TypeVar("T")


def is_distributed() -> bool:
    """True when a process group is initialised with more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def process_rank_and_world() -> tuple[int, int]:
    """``(process_rank, world_size)``; ``(0, 1)`` without a process group."""
    return (dist.get_rank(), dist.get_world_size()) if is_distributed() else (0, 1)


def init_from_environment() -> bool:
    """Initialise the default process group when launched by ``torchrun`` (``WORLD_SIZE`` set)."""
    if "WORLD_SIZE" not in os.environ or not dist.is_available() or dist.is_initialized():
        return False
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend)
    return True


def current_shard() -> tuple[int, int]:
    """The shard ``(process_rank, world)`` of this process (``(0, 1)`` without a process group)."""
    return process_rank_and_world()


Shard = tuple[CountOrZero, Count]
"""A shard ``(process_rank, world)``: two whole numbers (``0 <= process_rank < world``, checked by
:func:`check_shard`)."""


@contract
def check_shard(shard: Shard) -> tuple[int, int]:
    """Validate a shard ``(process_rank, world)`` with ``0 <= process_rank < world``; returns it as ints."""
    process_rank, world = shard
    if not 0 <= process_rank < world:
        raise ValueError(f"shard must be (process_rank, world) with 0 <= process_rank < world, got {shard}")
    return int(process_rank), int(world)


@contract
def share(items: Sequence[T] | torch.Tensor, shard: Shard | None = None) -> Sequence[T] | torch.Tensor:
    """The share of ``shard`` (default: this process) of a sequence or tensor: ``items[process_rank::world]``."""
    process_rank, world = check_shard(shard or current_shard())
    return items if world == 1 else items[process_rank::world]


@contract
def share_of_iterable(items: Iterable[T], shard: Shard | None = None) -> Iterator[T]:
    """The items at positions ``process_rank, process_rank + world, ...`` of an iterable (e.g. a stream of batches);
    the shard is checked at the call."""
    return _every_world_th(items, *check_shard(shard or current_shard()))


def _every_world_th(items: Iterable[T], process_rank: int, world: int) -> Iterator[T]:
    for i, item in enumerate(items):
        if i % world == process_rank:
            yield item


def all_gather(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable, tensors moved to the CPU), in rank order."""
    _, world = process_rank_and_world()
    if world == 1:
        return [obj]
    out: list[Any] = [None] * world
    dist.all_gather_object(out, obj)
    return out


@contract
def sum_across_ranks(values: Sequence[numbers.Real]) -> list[numbers.Real]:
    """Element-wise sum of ``values`` over all ranks (``values`` unchanged without a process group)."""
    if not is_distributed():
        return list(values)
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    total = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return total.cpu().tolist()


def shutdown() -> None:
    """Destroy the default process group if one is initialised (call once at the end of a run)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for all ranks (no-op without a process group)."""
    if is_distributed():
        dist.barrier()


def is_main_process() -> bool:
    """True on rank 0 (or without a process group): the rank that writes files and prints."""
    return process_rank_and_world()[0] == 0
