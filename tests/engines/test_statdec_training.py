"""StatDEC in the real trainer: the clustering encoder starts as a copy of the representation encoder when
the centres are set (by the real ClusterInitHandler), then DEC trains only the clustering network and
NT-Xent only the representation network."""

from __future__ import annotations

import copy

import torch
from ignite.engine import Events
from monai.engines.utils import IterationEvents

from monai_debclust.bundle import build_method_loss, build_method_network
from monai_debclust.engines import DebClustTrainer

from .conftest import CLUSTERS

NETWORK_ARGS = {"encoder": "convmixer", "num_clusters": CLUSTERS, "projection_hidden": 16, "projection_dim": 8,
                "encoder_kwargs": {"dim": 8, "depth": 1, "kernel_size": 3}}


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in module.state_dict().items()}


def _equal(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> bool:
    return first.keys() == second.keys() and all(torch.equal(first[key], second[key]) for key in first)


def test_statdec_copies_at_the_centres_then_each_loss_trains_its_own_network(batches, clustering_handlers):
    torch.manual_seed(0)
    network = build_method_network("statdec", NETWORK_ARGS)
    handlers = clustering_handlers(warmup_epochs=1)
    trainer = DebClustTrainer("cpu", 2, batches, network, torch.optim.Adam(network.parameters(), lr=1e-2),
                              build_method_loss("statdec", gamma=5.0), CLUSTERS, train_handlers=handlers)
    representation, clustering = network.representation_encoder, network.clustering_encoder
    at_init: dict[str, dict] = {}
    initialise = handlers[0].initialise

    def spy(engine) -> None:
        at_init["before"] = (_state(representation), _state(clustering), network.clustering.centres.detach().clone())
        initialise(engine)  # the real handler: prepare_clustering, then k-means of the clustering features
        at_init["after"] = (_state(representation), _state(clustering), network.clustering.centres.detach().clone())

    handlers[0].initialise = spy
    gradients: list[dict[str, dict[str, bool]]] = []

    def attribute_gradients(engine) -> None:
        if not engine.state.centres_initialised or gradients:
            return
        modules = {"representation": representation, "projection": network.projection, "clustering": clustering,
                   "centres": network.clustering}
        parts = {}
        for part in ("contrastive", "clustering"):
            parts[part] = {}
            for name, module in modules.items():
                grads = torch.autograd.grad(engine.state.output[part], list(module.parameters()), retain_graph=True,
                                            allow_unused=True)
                parts[part][name] = any(g is not None and bool(g.abs().sum() > 0) for g in grads)
        gradients.append(parts)

    trainer.add_event_handler(IterationEvents.LOSS_COMPLETED, attribute_gradients)
    first_step = {}
    trainer.add_event_handler(Events.EPOCH_STARTED(once=2), lambda engine: first_step.update(
        representation=_state(representation), clustering=_state(clustering)))
    trainer.run()

    before_representation, before_clustering, before_centres = at_init["before"]
    after_representation, after_clustering, after_centres = at_init["after"]
    assert not _equal(before_representation, before_clustering)  # the warm-up trained f_r only: they differed
    assert _equal(after_clustering, after_representation)  # f_c is f_r at the moment the centres are set
    assert _equal(after_representation, before_representation)  # f_r itself was not changed by the copy
    assert not torch.equal(after_centres, before_centres)  # k-means did set the centres
    assert after_centres.shape == (CLUSTERS, clustering.out_channels)
    assert _equal(first_step["clustering"], after_clustering)  # nothing ran between the copy and epoch 2

    assert gradients == [{
        "contrastive": {"representation": True, "projection": True, "clustering": False, "centres": False},
        "clustering": {"representation": False, "projection": False, "clustering": True, "centres": True},
    }]
    assert trainer.state.metrics["epoch_clustering"] > 0  # DEC was on in the second epoch
    assert not _equal(_state(clustering), after_clustering) and not _equal(_state(representation), after_representation)
