"""Archive clustering across ``torchrun`` ranks: a disjoint shard of the files per rank, one clustering.

Launched by ``torchrun`` (``WORLD_SIZE`` > 1 in the environment),
:func:`~monai_debclust.utils.init_distributed` joins the process group, NCCL when the machine has
a GPU and gloo otherwise, and pins each rank to GPU ``LOCAL_RANK``. Rank ``r`` of ``W`` then
embeds the files whose id hashes to ``r`` modulo ``W`` (:func:`shard_items`), so that a file
stays in its shard as the archive grows (a contiguous slice would move files between shards and
make their chunks useless), into its own resumable chunk folder (:func:`shard_folder`); rank 0
gathers every shard's embeddings (:func:`~monai_debclust.utils.gather_to_main`), clusters them
once and writes every output once (:class:`~monai_debclust.archive.ArchiveClusterer`). The output folder must be one that every
rank can write and rank 0 can read: on several machines, a shared file system.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["shard_folder", "shard_items"]


def shard_items(items: Sequence[Any], rank: int, world_size: int) -> list[Any]:
    """The items of shard ``rank`` of ``world_size``: those whose id's CRC-32 is ``rank`` modulo ``world_size``.

    An item's shard depends on its id alone (``item["id"]``, or the item itself when it is not a
    mapping), never on the other items, in the items' order.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}), got {rank}.")
    if world_size == 1:
        return list(items)
    return [item for item in items
            if zlib.crc32(str(item["id"] if isinstance(item, Mapping) else item).encode()) % world_size == rank]


def shard_folder(parts_dir: str | os.PathLike, rank: int, world_size: int) -> Path:
    """Chunk folder of shard ``rank`` of ``world_size``: ``parts_dir`` itself for a single process."""
    parts_dir = Path(parts_dir)
    return parts_dir if world_size == 1 else parts_dir / f"shard-{rank:05d}-of-{world_size:05d}"
