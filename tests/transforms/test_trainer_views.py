"""The trainer's views made on its device: finite, deterministic losses, and the same views after a resume."""

from __future__ import annotations

import math

import torch
from ignite.engine import Events

from monai_debclust.engines import DebClustTrainer
from monai_debclust.losses import JointDebClustLoss
from monai_debclust.networks import DebClustNet
from monai_debclust.transforms import BatchTwoViews

BATCH, SIZE, CLUSTERS, BATCHES = 8, 16, 2, 3


class RecordedViews(BatchTwoViews):
    """BatchTwoViews that keeps every pair it makes."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.made: list[tuple[torch.Tensor, torch.Tensor]] = []

    def __call__(self, images, generator=None):
        views = super().__call__(images, generator)
        self.made.append(views)
        return views


def uint8_batches() -> list[dict]:
    """Plain uint8 images, as ``load_cohort`` stores them, with their indices and no views."""
    images = torch.randint(0, 256, (BATCH * BATCHES, 3, SIZE, SIZE), generator=torch.Generator().manual_seed(0))
    return [{"image": images[i : i + BATCH].to(torch.uint8), "index": torch.arange(i, i + BATCH)}
            for i in range(0, len(images), BATCH)]


def make_trainer(views: BatchTwoViews, view_seed: int = 0, epochs: int = 2) -> DebClustTrainer:
    """A ConvMixer 16/1 trainer on the uint8 batches with the views made by ``views``, seeded the same every time."""
    torch.manual_seed(0)
    network = DebClustNet("convmixer", num_clusters=CLUSTERS, projection_hidden=16, projection_dim=8,
                          encoder_kwargs={"dim": 16, "depth": 1, "kernel_size": 3})
    return DebClustTrainer(
        device="cpu", max_epochs=epochs, train_data_loader=uint8_batches(), network=network,
        optimizer=torch.optim.Adam(network.parameters(), lr=1e-3), loss_function=JointDebClustLoss(gamma=5.0),
        num_clusters=CLUSTERS, views=views, view_seed=view_seed,
    )


def train(view_seed: int = 0) -> list[float]:
    """The losses of every iteration of two epochs with the fundus views."""
    trainer, losses = make_trainer(BatchTwoViews("fundus"), view_seed), []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda engine: losses.append(engine.state.output["loss"]))
    trainer.run()
    return losses


def test_views_made_by_the_trainer_give_finite_losses_that_repeat_for_a_seed():
    first, again, other = train(0), train(0), train(1)
    assert len(first) == 2 * BATCHES and all(math.isfinite(loss) for loss in first)
    assert first == again
    assert first != other


def test_a_resumed_run_draws_the_views_of_the_uninterrupted_run():
    uninterrupted, resumed = RecordedViews("fundus"), RecordedViews("fundus")
    make_trainer(uninterrupted).run()
    trainer = make_trainer(resumed)
    trainer.load_state_dict({"epoch": 1, "max_epochs": 2, "epoch_length": BATCHES})
    trainer.run()
    assert len(resumed.made) == BATCHES and len(uninterrupted.made) == 2 * BATCHES
    for (a1, a2), (b1, b2) in zip(uninterrupted.made[BATCHES:], resumed.made):
        assert torch.equal(a1, b1) and torch.equal(a2, b2)
    assert not torch.equal(uninterrupted.made[0][0], uninterrupted.made[BATCHES][0])  # epochs differ
