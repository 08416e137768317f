"""Archive clustering across ``torchrun`` ranks: a disjoint shard of the files per rank, one clustering.

Launched by ``torchrun`` (``WORLD_SIZE`` > 1 in the environment), :func:`init_distributed` joins
the process group, NCCL when the machine has a GPU and gloo otherwise, and pins each rank to
GPU ``LOCAL_RANK`` (:func:`local_device`). Rank ``r`` of ``W`` then embeds the ``r``-th of ``W``
contiguous, disjoint slices of the archive (:func:`shard_items`) into its own resumable chunk
folder (:func:`shard_folder`); rank 0 gathers every shard's embeddings, clusters them once and
writes every output once (:class:`~monai_debclust.engines.inference.ArchiveClusterer`). The
output folder must be one that every rank can write and rank 0 can read: on several machines,
a shared file system.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from monai_debclust.engines.distributed import is_distributed

__all__ = [
    "finalize_distributed",
    "gather_to_main",
    "init_distributed",
    "local_device",
    "shard_folder",
    "shard_items",
    "world",
]


def world() -> tuple[int, int]:
    """``(rank, world size)`` of this process: ``(0, 1)`` outside a process group of several ranks."""
    return (dist.get_rank(), dist.get_world_size()) if is_distributed() else (0, 1)


def local_device() -> torch.device:
    """``cuda:LOCAL_RANK`` (``torchrun`` sets it; 0 otherwise) when there is a GPU, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def init_distributed() -> bool:
    """Join the process group when launched by ``torchrun`` with several ranks; whether this is such a run.

    The backend is NCCL when the machine has a GPU (each rank on GPU ``LOCAL_RANK``) and gloo
    otherwise; ``torchrun`` provides the rendezvous (``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``,
    ``WORLD_SIZE``). A process group that already exists is kept.
    """
    if int(os.environ.get("WORLD_SIZE", 1)) <= 1:
        return False
    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(local_device())
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return True


def finalize_distributed() -> None:
    """Leave the process group, when there is one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard_items(items: Sequence[Any], rank: int, world_size: int) -> list[Any]:
    """The ``rank``-th of ``world_size`` contiguous, disjoint slices of ``items``, sizes differing by at most one."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}), got {rank}.")
    return list(items[len(items) * rank // world_size : len(items) * (rank + 1) // world_size])


def shard_folder(parts_dir: str | os.PathLike, rank: int, world_size: int) -> Path:
    """Chunk folder of shard ``rank`` of ``world_size``: ``parts_dir`` itself for a single process."""
    parts_dir = Path(parts_dir)
    return parts_dir if world_size == 1 else parts_dir / f"shard-{rank:05d}-of-{world_size:05d}"


def gather_to_main(value: Any) -> list[Any] | None:
    """Every rank's ``value`` (picklable), in rank order, on rank 0; ``None`` on the other ranks.

    A single process gets ``[value]``. Every rank must call it (it is a collective).
    """
    if not is_distributed():
        return [value]
    gathered = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(value, gathered, dst=0)
    return gathered
