"""Run under ``torchrun --nproc_per_node=2`` by ``test_distributed.py``; writes its findings as JSON.

One SGD step of :class:`DebClustTrainer` on a global batch of 8, twice: in one process on all 8
images, then under ``DistributedDataParallel`` with each rank holding 4. The network has no
batch normalisation (whose statistics are per rank under DDP), so the two must agree exactly:
same loss (the negatives are gathered across ranks) and same updated weights (the gradient scale
is right). The loss of one rank's 4 images alone is recorded too, to show that gathering matters.
"""

from __future__ import annotations

import gc
import json
import sys

import torch
import ignite.distributed as idist
import torch.distributed as dist
from torch import nn

from monai_debclust.engines import DebClustTrainer
from monai_debclust.losses import JointDebClustLoss
from monai_debclust.networks import ClusteringHead

GLOBAL_BATCH, SIZE = 8, 4


class ToyNet(nn.Module):
    """DebClustNet's interface on a linear encoder without batch normalisation."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(3 * SIZE * SIZE, 8), nn.Tanh())
        self.projection = nn.Linear(8, 4)
        self.clustering = ClusteringHead(8, 2)

    def forward(self, image, view1=None, view2=None):
        h = self.encoder(image)
        out = {"features": h, "q": self.clustering(h)}
        if view1 is not None:
            out["z1"], out["z2"] = self.projection(self.encoder(view1)), self.projection(self.encoder(view2))
        return out


def step(network: nn.Module, batch: dict) -> tuple[float, torch.Tensor]:
    """One trainer iteration with SGD; the loss and the updated weights, flattened."""
    trainer = DebClustTrainer("cpu", 1, [batch], network, torch.optim.SGD(network.parameters(), lr=0.5),
                              JointDebClustLoss(gamma=5.0), num_clusters=2)
    trainer.run()
    return trainer.state.output["loss"], torch.cat([p.detach().flatten() for p in network.parameters()])


def main(out_path: str) -> None:
    generator = torch.Generator().manual_seed(1)
    batch = {key: torch.rand(GLOBAL_BATCH, 3, SIZE, SIZE, generator=generator) for key in ("image", "view1", "view2")}
    batch["index"] = torch.arange(GLOBAL_BATCH)
    single_loss, single_weights = step(ToyNet(), batch)  # before the process group exists: one process

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    share = GLOBAL_BATCH // world
    local = {key: value[rank * share : (rank + 1) * share] for key, value in batch.items()}
    initial = torch.cat([p.detach().flatten() for p in ToyNet().parameters()])
    network = ToyNet()
    local_only = JointDebClustLoss(gamma=5.0)(*(network(local["image"], local["view1"], local["view2"])[k]
                                               for k in ("z1", "z2", "q")))["loss"].item()
    ddp_loss, ddp_weights = step(nn.parallel.DistributedDataParallel(network), local)
    if rank == 0:
        with open(out_path, "w") as handle:
            json.dump({"world": world, "single_loss": single_loss, "ddp_loss": ddp_loss, "local_only_loss": local_only,
                       "max_weight_difference": (ddp_weights - single_weights).abs().max().item(),
                       "weight_change": (single_weights - initial).abs().max().item()}, handle)
    gc.collect()  # free the DistributedDataParallel wrapper (held in reference cycles) before its process group
    dist.barrier()
    idist.finalize()  # destroys the process group and ignite's handle on it


if __name__ == "__main__":
    main(sys.argv[1])
