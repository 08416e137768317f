"""ClusterInitHandler (k-means after the warm-up, gamma schedule) and DECTargetHandler (batch / full)."""

from __future__ import annotations

import pytest
import torch
from ignite.engine import Events

from monai_debclust.engines import embed_dataset
from monai_debclust.handlers import ClusterInitHandler, DECTargetHandler
from monai_debclust.similarity import kmeans
from monai_debclust.losses import DECClusteringLoss

from .conftest import BATCH, CLUSTERS, NUM_IMAGES

ITERATIONS_PER_EPOCH = NUM_IMAGES // BATCH


def _record(trainer, what):
    values = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda engine: values.append(what(engine)))
    return values


def _spy_targets(trainer) -> list:
    """The ``target`` argument of every call of the trainer's loss, in order."""
    passed, forward = [], trainer.loss_function.forward

    def spy(*args, **kwargs):
        passed.append(kwargs.get("target"))
        return forward(*args, **kwargs)

    trainer.loss_function.forward = spy
    return passed


def test_gamma_is_zero_during_the_warmup_and_gamma_after(make_trainer, clustering_handlers):
    trainer = make_trainer(max_epochs=2, handlers=clustering_handlers(warmup_epochs=1))
    gammas = _record(trainer, lambda engine: engine.loss_function.gamma)
    clustering = _record(trainer, lambda engine: engine.state.output["clustering"])
    trainer.run()
    assert gammas == [0.0] * ITERATIONS_PER_EPOCH + [5.0] * ITERATIONS_PER_EPOCH
    assert clustering[:ITERATIONS_PER_EPOCH] == [0.0] * ITERATIONS_PER_EPOCH
    assert all(value > 0 for value in clustering[ITERATIONS_PER_EPOCH:])


def test_gamma_rises_linearly_per_iteration_over_the_ramp():
    handler = ClusterInitHandler([], gamma=4.0, warmup_epochs=2, gamma_rampup_epochs=4)
    epoch_length = 10
    assert handler.gamma_at(20, epoch_length) == 0.0  # last iteration of the warm-up
    assert handler.gamma_at(21, epoch_length) == pytest.approx(4.0 * 0.1 / 4)
    assert handler.gamma_at(40, epoch_length) == pytest.approx(2.0)
    assert handler.gamma_at(60, epoch_length) == 4.0
    assert handler.gamma_at(99, epoch_length) == 4.0


def test_centres_become_the_kmeans_centres_of_the_features_after_the_warmup(
    make_trainer, clustering_handlers, samples
):
    trainer = make_trainer(max_epochs=2, handlers=clustering_handlers(warmup_epochs=1))
    head = trainer.network.clustering
    snapshots = {}

    def snapshot(engine):
        if engine.state.epoch == 2 and "after" not in snapshots:
            snapshots["after"] = head.centres.detach().clone()
            loader = torch.utils.data.DataLoader(samples, batch_size=BATCH)
            snapshots["features"] = embed_dataset(engine.network, loader, "cpu")["features"]

    initial = head.centres.detach().clone()
    trainer.add_event_handler(Events.ITERATION_STARTED, snapshot)
    trainer.run()
    assert not torch.allclose(snapshots["after"], initial)
    expected, _ = kmeans(snapshots["features"], CLUSTERS, seed=0, n_init=2)
    torch.testing.assert_close(snapshots["after"], torch.from_numpy(expected), rtol=1e-4, atol=1e-5)


def test_no_warmup_initialises_the_centres_before_the_first_step(make_trainer, clustering_handlers):
    trainer = make_trainer(handlers=clustering_handlers(warmup_epochs=0))
    gammas = _record(trainer, lambda engine: engine.loss_function.gamma)
    trainer.run()
    assert trainer.state.centres_initialised and gammas == [5.0] * ITERATIONS_PER_EPOCH


def test_a_run_resumed_after_the_warmup_keeps_its_centres(make_trainer, clustering_handlers, monkeypatch):
    init, target = clustering_handlers(warmup_epochs=1)
    calls = []
    monkeypatch.setattr(init, "initialise", lambda engine: calls.append(engine.state.epoch))
    trainer = make_trainer(max_epochs=3, handlers=[init, target])
    trainer.state.epoch, trainer.state.iteration = 2, 2 * ITERATIONS_PER_EPOCH  # as CheckpointLoader leaves it
    gammas = _record(trainer, lambda engine: engine.loss_function.gamma)
    trainer.run()
    assert calls == [] and trainer.state.centres_initialised and gammas == [5.0] * ITERATIONS_PER_EPOCH


def test_full_target_is_the_sharpened_q_of_the_whole_set_by_sample_index(make_trainer, clustering_handlers, samples):
    trainer = make_trainer(handlers=clustering_handlers(warmup_epochs=0, update="full"))
    passed = _spy_targets(trainer)
    snapshots = []

    def check(engine):
        if engine.state.iteration == 1:
            loader = torch.utils.data.DataLoader(list(reversed(samples)), batch_size=5)
            embedded = embed_dataset(engine.network, loader, "cpu")
            expected = torch.empty(NUM_IMAGES, CLUSTERS)
            expected[embedded["index"]] = DECClusteringLoss().target(embedded["q"])
            torch.testing.assert_close(engine.state.dec_target, expected, rtol=1e-4, atol=1e-6)
            snapshots.append(engine.state.dec_target.clone())

    trainer.add_event_handler(Events.ITERATION_STARTED, check)
    trainer.run()
    torch.testing.assert_close(snapshots[0].sum(1), torch.ones(NUM_IMAGES))
    assert len(passed) == ITERATIONS_PER_EPOCH
    torch.testing.assert_close(passed[0], snapshots[0][:BATCH])  # the first batch holds samples 0..7


def test_batch_target_keeps_no_whole_set_target_and_passes_none(make_trainer, clustering_handlers):
    trainer = make_trainer(handlers=clustering_handlers(warmup_epochs=0, update="batch"))
    passed = _spy_targets(trainer)
    trainer.run()
    assert trainer.state.dec_target is None and passed == [None] * ITERATIONS_PER_EPOCH


def test_full_and_batch_targets_give_different_clustering_losses(make_trainer, clustering_handlers, tiny_network):
    losses = {}
    for update in ("batch", "full"):
        trainer = make_trainer(network=tiny_network(), handlers=clustering_handlers(warmup_epochs=0, update=update))
        trainer.run()
        losses[update] = trainer.state.metrics["epoch_clustering"]
    assert losses["batch"] != pytest.approx(losses["full"], rel=1e-3)


@pytest.mark.parametrize(
    "kwargs, match", [({"update": "epoch"}, "target_update"), ({"interval": 0}, "target_interval")]
)
def test_target_handler_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DECTargetHandler([], **kwargs)
