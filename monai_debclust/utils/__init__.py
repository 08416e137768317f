"""Helpers every layer may use: atomic result files, ``torch.distributed`` start-up and collectives, luma."""

from monai_debclust.utils.colour import LUMA_WEIGHTS
from monai_debclust.utils.dist import (
    broadcast_from_main,
    finalize_distributed,
    gather_across_ranks,
    gather_to_main,
    init_distributed,
    is_distributed,
    is_main_process,
    local_device,
    unwrap_network,
    world,
)
from monai_debclust.utils.files import atomic_path, atomic_write, write_json

__all__ = [
    "LUMA_WEIGHTS",
    "atomic_path",
    "atomic_write",
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
    "write_json",
]
