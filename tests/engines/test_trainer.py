"""DebClustTrainer: one joint step, its events, its epoch statistics, determinism, devices."""

from __future__ import annotations

import math

import pytest
import torch
from ignite.engine import Events
from monai.engines.utils import IterationEvents
from monai.utils import set_determinism

from monai_debclust.engines import LOSS_PARTS, DebClustTrainer, loss_parts
from monai_debclust.losses import JointDebClustLoss

from .conftest import BATCH, CLUSTERS, NUM_IMAGES


def test_iteration_returns_every_loss_part_as_a_finite_float_and_q_detached(make_trainer):
    trainer = make_trainer()
    trainer.run()
    output = trainer.state.output
    assert set(output) == {*LOSS_PARTS, "q"}
    for name in LOSS_PARTS:
        assert isinstance(output[name], float) and math.isfinite(output[name])
    assert output["loss"] == pytest.approx(output["contrastive"] + 5.0 * output["clustering"], rel=1e-5)
    assert output["q"].shape == (BATCH, CLUSTERS) and not output["q"].requires_grad
    assert loss_parts(output) == {name: output[name] for name in LOSS_PARTS}


def test_iteration_fires_the_monai_iteration_events_in_order(make_trainer):
    trainer, fired = make_trainer(), []
    for event in (IterationEvents.FORWARD_COMPLETED, IterationEvents.LOSS_COMPLETED,
                  IterationEvents.BACKWARD_COMPLETED, IterationEvents.MODEL_COMPLETED):
        trainer.add_event_handler(event, lambda engine, event=event: fired.append(event))
    trainer.run()
    assert fired[:4] == [IterationEvents.FORWARD_COMPLETED, IterationEvents.LOSS_COMPLETED,
                         IterationEvents.BACKWARD_COMPLETED, IterationEvents.MODEL_COMPLETED]
    assert len(fired) == 4 * NUM_IMAGES // BATCH


def test_a_step_updates_the_network(make_trainer, tiny_network):
    network = tiny_network()
    before = [p.detach().clone() for p in network.encoder.parameters()]
    make_trainer(network=network).run()
    assert any(not torch.equal(b, p) for b, p in zip(before, network.encoder.parameters()))


def test_epoch_metrics_are_the_mean_loss_parts_and_the_cluster_sizes_before_any_handler(make_trainer):
    seen, losses = {}, []
    trainer = make_trainer()
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: losses.append(e.state.output["loss"]))
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda e: seen.update(e.state.metrics))
    trainer.run()
    assert seen["epoch_loss"] == pytest.approx(sum(losses) / len(losses))
    sizes = [seen[f"cluster_size_{j}"] for j in range(CLUSTERS)]
    assert sum(sizes) == NUM_IMAGES
    assert seen["smallest_cluster_share"] == pytest.approx(min(sizes) / NUM_IMAGES)


def test_the_same_seed_gives_the_same_losses(make_trainer):
    runs = []
    for _ in range(2):
        set_determinism(seed=0)
        trainer, losses = make_trainer(max_epochs=2), []
        trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e, out=losses: out.append(e.state.output["loss"]))
        trainer.run()
        runs.append(losses)
    set_determinism(seed=None)
    assert runs[0] == runs[1]


def test_amp_is_used_on_cuda_only():
    trainer = DebClustTrainer(None, 1, [], torch.nn.Linear(1, 1), None, JointDebClustLoss(), num_clusters=2,
                              epoch_length=1, amp=True)
    assert trainer.state.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert trainer.amp == torch.cuda.is_available()


def test_a_loader_without_batches_is_an_error_naming_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        DebClustTrainer("cpu", 1, [], torch.nn.Linear(1, 1), None, JointDebClustLoss(), num_clusters=2)
