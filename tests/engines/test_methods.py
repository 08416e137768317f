"""Every training mode of the one trainer: it trains, its loss falls, its head clusters; the experts' student."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from ignite.engine import Events

from monai_debclust.bundle import METHODS, build_method_loss, build_method_network, get_method, method_trains_head
from monai_debclust.engines import DebClustTrainer
from monai_debclust.handlers import (
    ClusterInitHandler,
    DECTargetHandler,
    ExpertsHandler,
    KMeansHeadHandler,
    StudentViews,
    base_epochs,
)
from monai_debclust.losses import FeatureDistillationLoss, SimSiamLoss
from monai_debclust.networks import SimSiamNet, StatDECNet, describe_network

from .conftest import BATCH, CLUSTERS, NUM_IMAGES

NETWORK_ARGS = {"encoder": "convmixer", "num_clusters": CLUSTERS, "projection_hidden": 16, "projection_dim": 8,
                "encoder_kwargs": {"dim": 8, "depth": 1, "kernel_size": 3}}
SINGLE_STAGE = [name for name in METHODS if name != "experts"]


def train(method: str, batches: list[dict], epochs: int = 6, handlers: list | None = None) -> tuple:
    torch.manual_seed(0)
    network = build_method_network(method, NETWORK_ARGS)
    loss = build_method_loss(method, gamma=5.0)
    trainer = DebClustTrainer("cpu", epochs, batches, network, torch.optim.Adam(network.parameters(), lr=3e-3), loss,
                              CLUSTERS, train_handlers=handlers)
    losses = []
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda engine: losses.append(
        {part: engine.state.metrics[f"epoch_{part}"] for part in ("loss", "contrastive", "clustering")}))
    trainer.run()
    return network, losses


@pytest.mark.parametrize("method", SINGLE_STAGE)
def test_each_part_of_each_modes_loss_falls_and_the_network_is_describable(method, batches, samples):
    """The contrastive part falls over the run; where the mode trains the head, the DEC part (on from the
    second epoch, after the real k-means initialisation) falls too; elsewhere it stays exactly 0.

    The DEC part is ``KL(P || Q)`` against a target ``P`` formed from ``Q``; it falls against a steady
    target (DEC's own procedure between two target updates, Xie et al., 2016), so the whole-set target
    is formed once here. Against a target re-formed from ``Q`` at every step it need not fall: from
    uniform ``q`` (where ``P = Q`` and the loss is 0) it rises as the clusters sharpen.
    """
    handlers = None
    if method_trains_head(method):
        handlers = [ClusterInitHandler(samples, gamma=5.0, warmup_epochs=1, batch_size=BATCH, n_init=2),
                    DECTargetHandler(samples, update="full", interval=10**6, batch_size=BATCH)]
    network, losses = train(method, batches, epochs=8, handlers=handlers)
    contrastive = [epoch["contrastive"] for epoch in losses]
    clustering = [epoch["clustering"] for epoch in losses]
    assert np.isfinite([list(epoch.values()) for epoch in losses]).all()
    assert contrastive[-1] < contrastive[0]
    if method_trains_head(method):
        assert clustering[0] == 0.0 and clustering[1] > 0.0  # warm-up, then DEC on
        assert clustering[-1] < clustering[1]
        assert losses[-1]["loss"] < losses[1]["loss"]
    else:
        assert clustering == [0.0] * len(losses)
        assert losses[-1]["loss"] < losses[0]["loss"]
    describe_network(network, NETWORK_ARGS)  # the model folder can rebuild it for archive clustering


def test_the_modes_differ_in_network_loss_and_whether_dec_trains_the_head():
    assert isinstance(build_method_network("simsiam", NETWORK_ARGS), SimSiamNet)
    assert isinstance(build_method_network("statdec", NETWORK_ARGS), StatDECNet)
    assert isinstance(build_method_loss("simsiam").contrastive, SimSiamLoss)
    assert build_method_loss("simclr", gamma=5.0).gamma == 0.0 and build_method_loss("joint", gamma=5.0).gamma == 5.0
    assert [name for name in METHODS if method_trains_head(name)] == ["joint", "statdec"]
    assert get_method("experts", "simsiam").network is SimSiamNet
    with pytest.raises(ValueError, match="known methods: joint, debiased"):
        get_method("byol")


def test_simsiam_network_gives_predictions_of_both_views():
    outputs = build_method_network("simsiam", NETWORK_ARGS)(*(torch.rand(4, 3, 16, 16) for _ in range(3)))
    assert outputs["p1"].shape == outputs["z1"].shape == (4, 8) and outputs["q"].shape == (4, CLUSTERS)


def test_kmeans_head_handler_puts_the_centres_of_the_features_into_the_head(batches, samples):
    network, _ = train("simclr", batches, epochs=2, handlers=[KMeansHeadHandler(samples, interval=5, n_init=2)])
    network.eval()
    with torch.no_grad():
        features = network.embed(torch.stack([s["image"] for s in samples]))
    distances = torch.cdist(features, network.clustering.centres)
    means = torch.stack([features[distances.argmin(1) == j].mean(0) for j in range(CLUSTERS)])
    assert torch.allclose(means, network.clustering.centres, atol=1e-4)  # each centre the mean of its cluster


def test_experts_budget_leaves_the_base_what_the_stages_do_not_use():
    assert base_epochs("experts", 20, 5, 5) == 10 and base_epochs("simclr", 20, 5, 5) == 20


def test_distilled_student_moves_towards_its_experts_features(batches, samples, tmp_path):
    network, _ = train("simclr", batches, epochs=1)
    base = DebClustTrainer("cpu", 1, batches, network, torch.optim.Adam(network.parameters()),
                           build_method_loss("simclr"), CLUSTERS)
    views = [{key: b[key][i] for key in ("image", "view1", "view2", "index")} for b in batches for i in range(BATCH)]
    handler = ExpertsHandler(views, samples, tmp_path, num_experts=2, expert_epochs=2, student_epochs=8,
                             batch_size=BATCH)
    groups = handler.groups(base)
    experts = [handler.train_stage(base, copy.deepcopy(network), copy.deepcopy(base.loss_function),
                                   [views[i] for i in np.flatnonzero(groups == e)], 2, tmp_path / f"expert_{e}")
               for e in range(2)]
    targets = handler.teacher_features(base, experts, groups)
    images = torch.stack([s["image"] for s in samples])

    def distance_to_experts(model: torch.nn.Module) -> float:
        model.eval()
        with torch.no_grad():
            features = model.embed(images)
        return FeatureDistillationLoss()(features, features, target=targets)["loss"].item()

    student = StudentViews(copy.deepcopy(network))
    before = distance_to_experts(student.student)
    handler.train_stage(base, student, FeatureDistillationLoss(), views, 8, tmp_path / "student", target=targets)
    assert distance_to_experts(student.student) < before
    assert len(groups) == NUM_IMAGES and (tmp_path / "experts" / "groups.json").is_file()
    assert (tmp_path / "student" / "model.pt").is_file() and (tmp_path / "expert_1" / "model.pt").is_file()


def test_an_experts_stage_with_saved_weights_is_not_trained_again(batches, samples, tmp_path):
    network, _ = train("simclr", batches, epochs=1)
    base = DebClustTrainer("cpu", 1, batches, network, torch.optim.Adam(network.parameters()),
                           build_method_loss("simclr"), CLUSTERS)
    views = [{key: b[key][i] for key in ("image", "view1", "view2", "index")} for b in batches for i in range(BATCH)]
    handler = ExpertsHandler(views, samples, tmp_path, num_experts=2, batch_size=BATCH)
    trained = handler.train_stage(base, copy.deepcopy(network), copy.deepcopy(base.loss_function), views, 1,
                                  tmp_path / "expert_0")
    fresh = build_method_network("simclr", NETWORK_ARGS)
    resumed = handler.train_stage(base, fresh, base.loss_function, views, 1, tmp_path / "expert_0")
    assert all(torch.equal(a, b) for a, b in zip(trained.state_dict().values(), resumed.state_dict().values()))
    assert (tmp_path / "expert_0" / "checkpoints").is_dir()
    assert np.array_equal(handler.groups(base), handler.groups(base))  # read back from groups.json


class _Interrupted(Exception):
    """Stands for a SIGKILL: the stage stops where it is; only its checkpoint files remain."""


def test_an_experts_stage_killed_half_way_resumes_to_the_weights_of_an_uninterrupted_one(batches, samples, tmp_path,
                                                                                           monkeypatch):
    from monai_debclust.handlers import experts

    network, _ = train("simclr", batches, epochs=1)
    base = DebClustTrainer("cpu", 1, batches, network, torch.optim.Adam(network.parameters()),
                           build_method_loss("simclr"), CLUSTERS)
    views = [{key: b[key][i] for key in ("image", "view1", "view2", "index")} for b in batches for i in range(BATCH)]
    handler = ExpertsHandler(views, samples, tmp_path, num_experts=2, batch_size=BATCH)

    def stage(folder: str) -> torch.nn.Module:
        return handler.train_stage(base, copy.deepcopy(network), copy.deepcopy(base.loss_function), views, 4,
                                   tmp_path / folder)

    uninterrupted = stage("uninterrupted")
    epochs_run: list[int] = []

    class KilledInEpoch3(DebClustTrainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.add_event_handler(Events.EPOCH_STARTED, lambda engine: epochs_run.append(engine.state.epoch))
            self.add_event_handler(Events.ITERATION_COMPLETED, self.kill)

        @staticmethod
        def kill(engine):
            if engine.state.epoch == 3 and engine.state.iteration % engine.state.epoch_length == 2:
                raise _Interrupted

    monkeypatch.setattr(experts, "DebClustTrainer", KilledInEpoch3)
    with pytest.raises(_Interrupted):
        stage("killed")
    assert not (tmp_path / "killed" / "model.pt").exists()
    assert [p.name for p in (tmp_path / "killed" / "checkpoints").iterdir()] == ["checkpoint_epoch=2.pt"]

    class Recording(DebClustTrainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.add_event_handler(Events.EPOCH_STARTED, lambda engine: epochs_run.append(engine.state.epoch))

    epochs_run.clear()
    monkeypatch.setattr(experts, "DebClustTrainer", Recording)
    resumed = stage("killed")
    assert epochs_run == [3, 4]  # resumed from its checkpoint, not started again
    for key, value in uninterrupted.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, rtol=0, atol=0, msg=key)
