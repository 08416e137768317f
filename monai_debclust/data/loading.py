"""The streaming archive loader: decoding worker processes, prefetch, and how many workers a machine gets.

Decoding (:func:`~monai_debclust.data.load_image`) runs in ``DataLoader`` worker processes
that collate whole batches of ``uint8`` pixels and keep ``prefetch_factor`` batches each in
flight, so the model in the main process never waits while a worker decodes. Each file is
read exactly once; a bad one comes out in the batch's ``"skipped"`` list
(:class:`~monai_debclust.data.GuardedDataset` + :func:`~monai_debclust.data.skip_collate`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence

import torch
from monai.data import DataLoader

from monai_debclust.data.dataset import GuardedDataset, skip_collate

__all__ = ["PREFETCH_BATCHES", "archive_loader", "available_cores", "default_num_workers", "model_threads"]

#: Batches each worker decodes ahead of the model.
PREFETCH_BATCHES = 4


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. a container's or a job's share)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_num_workers(device: str | torch.device = "cpu") -> int:
    """Decoding workers for a model on ``device``, from the cores available.

    On a GPU the model needs no core but the one feeding it, so every other core decodes. On
    the CPU the model's own threads need cores too: half of them decode (at least one, so
    decoding always overlaps the model).
    """
    cores = available_cores()
    if torch.device(device).type == "cuda":
        return max(1, cores - 1)
    return max(1, cores // 2)


@contextlib.contextmanager
def model_threads(num_workers: int, device: str | torch.device = "cpu") -> Iterator[int]:
    """Within the block, torch's CPU threads are the cores the ``num_workers`` decoding processes leave.

    A model on the CPU with as many threads as cores, beside busy decoding workers, oversubscribes
    the cores: its threads wait for each other while a worker holds their core. On a GPU, or
    without workers, nothing changes. The thread count is restored afterwards; yields the one used.
    """
    before = torch.get_num_threads()
    if torch.device(device).type != "cpu" or num_workers == 0:
        yield before
        return
    torch.set_num_threads(max(1, available_cores() - num_workers))
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def archive_loader(
    items: Sequence[dict],
    transform: Callable[[dict], dict],
    batch_size: int,
    num_workers: int,
    pin_memory: bool = False,
) -> DataLoader:
    """Batches of ``items`` decoded by ``transform`` in ``num_workers`` processes, in order.

    Args:
        items: archive items ``dict(id, path, label)``.
        transform: the loading transform (reads ``path`` into ``image``).
        batch_size: images per batch.
        num_workers: decoding processes; 0 decodes in this process, between the model's batches.
        pin_memory: page-locked batches, for asynchronous copies to a GPU.
    """
    prefetch = {"prefetch_factor": PREFETCH_BATCHES} if num_workers > 0 else {}
    return DataLoader(GuardedDataset(list(items), transform), batch_size=batch_size, num_workers=num_workers,
                      shuffle=False, collate_fn=skip_collate, pin_memory=pin_memory, **prefetch)
