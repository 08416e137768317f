"""The clustering head of a model that does not train one: k-means centres of its features."""

from __future__ import annotations

import logging

import numpy as np
import torch
from ignite.engine import Engine, Events
from monai.data import DataLoader
from torch.utils.data import Dataset, Subset

from monai_debclust.engines.embedding import embed_dataset
from monai_debclust.utils.dist import broadcast_from_main, unwrap_network

__all__ = ["KMeansHeadHandler", "fit_centres"]

logger = logging.getLogger(__name__)


def fit_centres(
    engine: Engine,
    dataset: Dataset,
    max_samples: int | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    seed: int = 0,
    n_init: int = 10,
) -> list[int]:
    """Put the k-means centres of the training features into ``engine.network``'s clustering head.

    The features ``h`` of ``dataset`` (or of a random ``max_samples`` of it) are computed in
    evaluation mode and clustered by k-means into the head's ``K`` groups
    (``ClusteringHead.initialise_centres``); under ``torch.distributed`` rank 0's centres are
    broadcast. Returns the k-means cluster sizes.
    """
    if max_samples is not None and len(dataset) > max_samples:
        chosen = np.random.default_rng(seed).choice(len(dataset), max_samples, replace=False)
        dataset = Subset(dataset, np.sort(chosen).tolist())
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    features = embed_dataset(engine.network, loader, engine.state.device, amp=engine.amp, keys=())["features"]
    head = unwrap_network(engine.network).clustering
    labels = head.initialise_centres(features, seed=seed, n_init=n_init)
    broadcast_from_main(head.centres.data)
    return torch.bincount(labels, minlength=head.num_clusters).tolist()


class KMeansHeadHandler:
    """Fill the clustering head of a model that does not train it with the k-means centres of its features.

    The modes without DEC (SimCLR, SimSiam, the debiased losses alone, the experts' student)
    learn only a representation. So that every mode's model clusters an archive the same way
    (``argmax q``, the Student-t assignment to the head's centres), the head takes the k-means
    centres of the training features at the end of every ``interval``-th epoch and of the last
    one, before that epoch's validation (attach this handler before MONAI's
    ``ValidationHandler``). The saved model then clusters as k-means on its features does.

    Args:
        dataset: the training images without augmentation (dictionaries with ``"image"``).
        interval: epochs between two refits (the validation interval); the last epoch always refits.
        max_samples: cluster at most this many images, drawn at random (None: all).
        batch_size: batch size of the embedding pass.
        num_workers: data loader workers of the embedding pass.
        seed: seed of the sample and of k-means.
        n_init: k-means restarts.
    """

    def __init__(
        self,
        dataset: Dataset,
        interval: int = 1,
        max_samples: int | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        n_init: int = 10,
    ) -> None:
        if interval < 1:
            raise ValueError(f"interval must be at least 1 epoch, got {interval}.")
        self.dataset, self.interval, self.max_samples = dataset, interval, max_samples
        self.batch_size, self.num_workers, self.seed, self.n_init = batch_size, num_workers, seed, n_init

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        if engine.state.epoch % self.interval and engine.state.epoch != engine.state.max_epochs:
            return
        sizes = fit_centres(engine, self.dataset, self.max_samples, self.batch_size, self.num_workers, self.seed,
                            self.n_init)
        logger.info(f"epoch {engine.state.epoch}: the clustering head took the k-means centres, sizes {sizes}")
