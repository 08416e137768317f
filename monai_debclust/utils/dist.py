"""What monai-debclust needs from ``torch.distributed``: joining and leaving the process group, the world,
gathers, the bare network.

Launched by ``torchrun`` (``WORLD_SIZE`` > 1 in the environment), :func:`init_distributed` joins
the process group, NCCL when the machine has a GPU and gloo otherwise, and pins each rank to GPU
``LOCAL_RANK`` (:func:`local_device`): the bundles' ``configs/inference.json`` and
``configs/multi_gpu_train.json`` both start with it.
"""

from __future__ import annotations

import os
from typing import Any

import ignite.distributed as idist
import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "broadcast_from_main",
    "finalize_distributed",
    "gather_across_ranks",
    "gather_to_main",
    "init_distributed",
    "is_distributed",
    "is_main_process",
    "local_device",
    "unwrap_network",
    "world",
]


def local_device() -> torch.device:
    """``cuda:LOCAL_RANK`` (``torchrun`` sets it; 0 otherwise) when there is a GPU, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def init_distributed(single_rank: bool = False) -> bool:
    """Join the process group when launched by ``torchrun`` with several ranks; whether this is such a run.

    The backend is NCCL when the machine has a GPU (each rank on GPU ``LOCAL_RANK``) and gloo
    otherwise; ``torchrun`` provides the rendezvous (``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``,
    ``WORLD_SIZE``). A process group that already exists is kept. Ignite's distributed helpers
    are synchronised with the group (``idist.sync``), so its metrics reduce across the ranks.

    Args:
        single_rank: join even when ``WORLD_SIZE`` is 1 (``multi_gpu_train.json``: its
            ``DistributedDataParallel`` needs a process group, even of one rank).
    """
    if int(os.environ.get("WORLD_SIZE", 1)) <= 1 and not single_rank:
        return False
    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(local_device())
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    idist.sync()
    return True


def finalize_distributed(barrier: bool = False) -> None:
    """Leave the process group, when there is one; with ``barrier``, once every rank has got here."""
    if dist.is_available() and dist.is_initialized():
        if barrier:
            dist.barrier()
        idist.sync()  # ignite's view of the group, in case another caller created it
        idist.finalize()


def world() -> tuple[int, int]:
    """``(rank, world size)`` of this process: ``(0, 1)`` outside a process group of several ranks."""
    return (dist.get_rank(), dist.get_world_size()) if is_distributed() else (0, 1)


def is_distributed() -> bool:
    """Whether this process is one of several in an initialised ``torch.distributed`` process group."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def is_main_process() -> bool:
    """True in a single process and on rank 0 of a process group: the process that saves and logs."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


class _GatherWithGradient(torch.autograd.Function):
    """``all_gather`` along dim 0 whose backward sums the gradient of every rank's copy into its own slice."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)  # every rank's loss depends on every slice: sum their gradients
        return grad.chunk(dist.get_world_size(), dim=0)[dist.get_rank()]


def gather_across_ranks(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` ``(B, ...)`` of every rank along dim 0, in rank order, keeping the graph.

    The gradient of the gathered tensor flows back to each rank's own slice, summed over the
    copies of all ranks (an ``all_reduce`` of the gradient, which gloo and NCCL both support);
    every rank must pass a tensor of the same shape. Outside a process group of several ranks,
    ``tensor`` itself.
    """
    if not is_distributed():
        return tensor
    return _GatherWithGradient.apply(tensor)


def broadcast_from_main(tensor: torch.Tensor) -> None:
    """Overwrite ``tensor`` in place with rank 0's copy; nothing outside a process group."""
    if is_distributed():
        dist.broadcast(tensor, src=0)


def unwrap_network(network: nn.Module) -> nn.Module:
    """The module inside ``DistributedDataParallel`` or ``DataParallel``; any other network itself."""
    if isinstance(network, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        return network.module
    return network


def gather_to_main(value: Any) -> list[Any] | None:
    """Every rank's ``value`` (picklable), in rank order, on rank 0; ``None`` on the other ranks.

    A single process gets ``[value]``. Every rank must call it (it is a collective).
    """
    if not is_distributed():
        return [value]
    gathered = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(value, gathered, dst=0)
    return gathered
