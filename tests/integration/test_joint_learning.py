"""The joint objective learns: a toy long-tailed problem where k-means on the inputs fails.

Two classes (4:1) lie on parallel stripes in 2-D: the majority stretched along x, the minority a
short stripe above it. k-means on the raw points (and on a random encoder's features) splits the
long stripe left/right. The augmentation shifts points along x by more than the stripe is long, so the contrastive branch learns
to ignore x; the clustering branch then separates the stripes. Cluster accuracy must rise well
above the initial k-means assignment.
"""

from __future__ import annotations

import torch
from torch import nn

from monai_debclust.evaluation import cluster_accuracy
from monai_debclust.losses import DECClusteringLoss, JointDebClustLoss, ModifiedDebiasedContrastiveLoss
from monai_debclust.networks import DebClustNet


class _PointEncoder(nn.Module):
    def __init__(self, out_channels: int = 16) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.net = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _stripes(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    majority = torch.stack([torch.empty(400).uniform_(-6, 6, generator=generator), torch.zeros(400)], 1)
    minority = torch.stack([torch.empty(100).uniform_(-1.5, 1.5, generator=generator), torch.full((100,), 1.5)], 1)
    points = torch.cat([majority, minority]) + 0.15 * torch.randn(500, 2, generator=generator)
    return points, torch.cat([torch.zeros(400), torch.ones(100)]).long()


def _view(points: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    shift = torch.empty(len(points), 1).uniform_(-16, 16, generator=generator)
    return points + torch.cat([shift, 0.05 * torch.randn(len(points), 1, generator=generator)], 1)


def test_joint_loss_raises_cluster_accuracy_above_initial_kmeans():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    points, labels = _stripes(generator)
    model = DebClustNet(_PointEncoder(), num_clusters=2, projection_hidden=64, projection_dim=16)
    loss_fn = JointDebClustLoss(ModifiedDebiasedContrastiveLoss(), DECClusteringLoss(beta=0.5), gamma=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    with torch.no_grad():
        model.eval()
        initial = model.clustering.initialise_centres(model.embed(points), seed=0)
    initial_accuracy = cluster_accuracy(labels.numpy(), initial.numpy())

    for step in range(450):
        if step == 300:  # warm-up done: centres from k-means on the learned features, clustering on
            with torch.no_grad():
                model.eval()
                model.clustering.initialise_centres(model.embed(points), seed=0)
            loss_fn.gamma = 1.0
        model.train()
        batch = torch.randint(0, len(points), (128,), generator=generator)
        out = model(points[batch], _view(points[batch], generator), _view(points[batch], generator))
        loss = loss_fn(out["z1"], out["z2"], out["q"] if loss_fn.gamma > 0 else None)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    with torch.no_grad():
        model.eval()
        final = model.assign(points).argmax(1)
    final_accuracy = cluster_accuracy(labels.numpy(), final.numpy())
    assert initial_accuracy < 0.75, f"the toy problem is too easy for k-means ({initial_accuracy:.3f})"
    assert final_accuracy > initial_accuracy + 0.15, (initial_accuracy, final_accuracy)
    assert final_accuracy > 0.9
