"""Data-parallel helpers on ``torch.distributed`` (gloo on CPU, nccl on GPU), used under ``torchrun``.

Public functions of the kit detect an initialised process group and then work on their rank's
shard of the data; results that must agree across ranks are combined with collectives so that
every rank holds the same answer. Without a process group everything runs in one process.
"""
from __future__ import annotations

import os
from typing import Any, Iterable

import torch
import torch.distributed as dist

from .data import BatchLoader, ImageDataset


def is_distributed() -> bool:
    """True when a process group is initialised with more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_and_world() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` without a process group."""
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


def shard(data: Any, batch_size: int = 128) -> Any:
    """This rank's share of ``data``: every ``world``-th sample (tensor pair / dataset) or batch (iterable)."""
    rank, world = rank_and_world()
    if world == 1:
        return data
    if isinstance(data, ImageDataset):
        return BatchLoader(data, batch_size, indices=torch.arange(rank, len(data), world))
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        return data[0][rank::world], data[1][rank::world]
    return _every_nth(data, rank, world)


def _every_nth(batches: Iterable, rank: int, world: int):
    for i, batch in enumerate(batches):
        if i % world == rank:
            yield batch


def all_gather(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable, tensors moved to the CPU), in rank order."""
    _, world = rank_and_world()
    if world == 1:
        return [obj]
    out: list[Any] = [None] * world
    dist.all_gather_object(out, obj)
    return out


def sum_across_ranks(values: list[float]) -> list[float]:
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
    return rank_and_world()[0] == 0
