"""What the engines need from ``torch.distributed``: the world, a differentiable gather, the bare network."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["is_distributed", "is_main_process", "gather_across_ranks", "unwrap_network", "broadcast_from_main"]


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
