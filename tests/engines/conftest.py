"""Tiny models and data for the engine tests: a ConvMixer of width 8 on 16-pixel images."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from monai_debclust.engines import DebClustTrainer
from monai_debclust.handlers import ClusterInitHandler, DECTargetHandler
from monai_debclust.losses import JointDebClustLoss
from monai_debclust.networks import DebClustNet

NUM_IMAGES, BATCH, SIZE, CLUSTERS = 24, 8, 16, 2


@pytest.fixture
def tiny_network() -> Callable[[], DebClustNet]:
    def build(seed: int = 0) -> DebClustNet:
        torch.manual_seed(seed)
        return DebClustNet("convmixer", num_clusters=CLUSTERS, projection_hidden=16, projection_dim=8,
                           encoder_kwargs={"dim": 8, "depth": 1, "kernel_size": 3})

    return build


@pytest.fixture
def samples() -> list[dict]:
    """Plain images in [0, 1], two labelled groups of different brightness, each with its index."""
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(NUM_IMAGES, 3, SIZE, SIZE, generator=generator)
    images[: NUM_IMAGES // 2] *= 0.3
    return [{"image": images[i], "label": int(i < NUM_IMAGES // 2), "index": i} for i in range(NUM_IMAGES)]


@pytest.fixture
def batches(samples) -> list[dict]:
    """Training batches: the plain images, two noisy "views" of them and the sample indices."""
    generator = torch.Generator().manual_seed(1)
    out = []
    for start in range(0, len(samples), BATCH):
        chunk = samples[start : start + BATCH]
        image = torch.stack([s["image"] for s in chunk])
        out.append({
            "image": image,
            "view1": image + 0.05 * torch.randn(image.shape, generator=generator),
            "view2": image + 0.05 * torch.randn(image.shape, generator=generator),
            "index": torch.tensor([s["index"] for s in chunk]),
        })
    return out


@pytest.fixture
def make_trainer(batches, tiny_network) -> Callable[..., DebClustTrainer]:
    """``make_trainer(max_epochs=1, handlers=None, network=None)``: Adam, joint loss with gamma 5."""

    def build(max_epochs: int = 1, handlers: list | None = None, network: torch.nn.Module | None = None):
        network = tiny_network() if network is None else network
        return DebClustTrainer(
            device="cpu", max_epochs=max_epochs, train_data_loader=batches, network=network,
            optimizer=torch.optim.Adam(network.parameters(), lr=1e-3), loss_function=JointDebClustLoss(gamma=5.0),
            num_clusters=CLUSTERS, train_handlers=handlers,
        )

    return build


@pytest.fixture
def clustering_handlers(samples) -> Callable[..., list]:
    """``clustering_handlers(warmup_epochs=1, update="batch", gamma_rampup_epochs=0)``: k-means init + DEC target."""

    def build(warmup_epochs: int = 1, update: str = "batch", gamma_rampup_epochs: int = 0) -> list:
        return [
            ClusterInitHandler(samples, gamma=5.0, warmup_epochs=warmup_epochs,
                               gamma_rampup_epochs=gamma_rampup_epochs, batch_size=BATCH, n_init=2),
            DECTargetHandler(samples, update=update, interval=2, batch_size=BATCH),
        ]

    return build
