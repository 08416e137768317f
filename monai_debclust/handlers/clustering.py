"""Handlers that switch the clustering branch on: k-means centres after a warm-up, the weight
gamma, and the DEC target recomputed on the whole training set."""

from __future__ import annotations

import logging

import torch
from ignite.engine import Engine, Events
from monai.data import DataLoader
from torch.utils.data import Dataset

from monai_debclust.engines.embedding import embed_dataset
from monai_debclust.handlers.kmeans_head import fit_centres
from monai_debclust.utils.dist import unwrap_network

__all__ = ["ClusterInitHandler", "DECTargetHandler", "TARGET_UPDATES"]

#: The trainer state key (saved in checkpoints) holding the epoch at which the centres were set.
STARTED_KEY = "clustering_started_epoch"
#: How the DEC target is formed: from the batch's own q, or from q of the whole training set.
TARGET_UPDATES = ("batch", "full")

logger = logging.getLogger(__name__)


def _loader(dataset: Dataset, batch_size: int, num_workers: int) -> DataLoader:
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)


class ClusterInitHandler:
    """Initialise the cluster centres by k-means after a warm-up, and schedule the clustering weight.

    The representation trains alone (``gamma = 0``) for ``warmup_epochs`` epochs: DEC needs
    centres that mean something, and k-means on the features of an untrained encoder gives
    none (Xie et al., 2016, pre-train then cluster). At the start of epoch ``warmup_epochs + 1``
    the features of the training set (or of a random ``max_samples`` of it) are clustered by
    k-means and the network's ``clustering`` head takes the centres
    (``ClusteringHead.initialise_centres``); with ``warmup_epochs=0`` this happens before the
    first epoch, on the untrained encoder. From then on ``loss_function.gamma`` rises linearly
    from 0 to ``gamma`` over ``gamma_rampup_epochs`` epochs (at once when 0), per iteration.

    The epoch at which the centres were set is kept in the trainer's state
    (``engine.state.clustering_started_epoch``, 0 before; saved in the ``trainer`` entry of
    every checkpoint), and both rules depend only on it and the epoch and iteration counters, so
    a run resumed from a checkpoint (which holds the centres in the model state) continues the
    schedule exactly. When a run is resumed with another number of epochs (and so another
    ``warmup_epochs`` in the bundles, where it is a share of the epochs), a phase already
    started is never restarted: centres set at epoch ``c`` stay, with the ramp counted from
    ``c``; a run still in its warm-up follows the new ``warmup_epochs``.
    ``engine.state.centres_initialised`` says whether the centres exist. Under
    ``torch.distributed`` every rank must run this handler; rank 0's centres are broadcast.

    Args:
        dataset: the training images without augmentation (dictionaries with ``"image"``).
        gamma: the clustering weight after the ramp.
        warmup_epochs: epochs of representation learning before the centres are initialised.
        gamma_rampup_epochs: epochs over which gamma rises from 0 to ``gamma``.
        max_samples: cluster at most this many images, drawn at random (None: all).
        batch_size: batch size of the embedding pass.
        num_workers: data loader workers of the embedding pass.
        seed: seed of the sample and of k-means.
        n_init: k-means restarts.
    """

    def __init__(
        self,
        dataset: Dataset,
        gamma: float = 5.0,
        warmup_epochs: int = 10,
        gamma_rampup_epochs: int = 0,
        max_samples: int | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        n_init: int = 10,
    ) -> None:
        if warmup_epochs < 0 or gamma_rampup_epochs < 0:
            raise ValueError(
                f"warmup_epochs and gamma_rampup_epochs must be >= 0, got {warmup_epochs} and {gamma_rampup_epochs}."
            )
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}.")
        self.dataset, self.gamma = dataset, float(gamma)
        self.warmup_epochs, self.gamma_rampup_epochs = warmup_epochs, gamma_rampup_epochs
        self.max_samples, self.seed, self.n_init = max_samples, seed, n_init
        self.batch_size, self.num_workers = batch_size, num_workers

    def attach(self, engine: Engine) -> None:
        engine.state.centres_initialised = False
        engine.state.clustering_started_epoch = 0
        if STARTED_KEY not in engine.state_dict_user_keys:
            engine.state_dict_user_keys.append(STARTED_KEY)
        engine.add_event_handler(Events.EPOCH_STARTED, self.epoch_started)
        engine.add_event_handler(Events.ITERATION_STARTED, self.set_gamma)

    def _warmup(self, engine: Engine) -> int:
        """Epochs of warm-up of this run: until the recorded start of clustering, else ``warmup_epochs``."""
        started = getattr(engine.state, STARTED_KEY, 0)
        return started - 1 if started else self.warmup_epochs

    def epoch_started(self, engine: Engine) -> None:
        """Run k-means at the first epoch after the warm-up; mark the centres as existing after it."""
        if not engine.state.clustering_started_epoch and engine.state.epoch == self.warmup_epochs + 1:
            self.initialise(engine)
            engine.state.clustering_started_epoch = engine.state.epoch
        engine.state.centres_initialised = engine.state.epoch > self._warmup(engine)

    def initialise(self, engine: Engine) -> None:
        """Set the centres to the k-means centres of (a sample of) the training features.

        A network with a ``prepare_clustering()`` method (StatDEC's, which starts its clustering
        encoder from its representation encoder) is prepared first.
        """
        prepare = getattr(unwrap_network(engine.network), "prepare_clustering", None)
        if prepare is not None:
            prepare()
        sizes = fit_centres(engine, self.dataset, self.max_samples, self.batch_size, self.num_workers, self.seed,
                            self.n_init)
        logger.info(f"epoch {engine.state.epoch}: k-means on {sum(sizes)} features set the centres, sizes {sizes}")

    def gamma_at(self, iteration: int, epoch_length: int, warmup_epochs: int | None = None) -> float:
        """Clustering weight for (1-based) ``iteration`` of a run with ``epoch_length`` iterations per epoch.

        ``warmup_epochs`` defaults to the handler's own.
        """
        warmup = self.warmup_epochs if warmup_epochs is None else warmup_epochs
        epochs_done = iteration / epoch_length  # after this iteration
        if epochs_done <= warmup:
            return 0.0
        if self.gamma_rampup_epochs == 0:
            return self.gamma
        return self.gamma * min(1.0, (epochs_done - warmup) / self.gamma_rampup_epochs)

    def set_gamma(self, engine: Engine) -> None:
        """Set ``engine.loss_function.gamma`` for the iteration about to run."""
        engine.loss_function.gamma = self.gamma_at(engine.state.iteration, engine.state.epoch_length,
                                                   self._warmup(engine))


class DECTargetHandler:
    """Form the DEC target ``P`` from the whole training set instead of each batch.

    With ``update="full"``, every ``interval`` iterations (and whenever there is none yet, e.g.
    just after the centres were initialised or after resuming) ``q`` of every training image is
    computed in evaluation mode and the sharpened target ``P = loss_function.clustering.target(Q)``
    (cluster frequencies ``f_j`` over the whole set, as in DEC, Xie et al., 2016) is stored in
    ``engine.state.dec_target``, row ``i`` for the image whose ``"index"`` is ``i``;
    :class:`~monai_debclust.engines.DebClustTrainer` then gives each batch its rows. This
    keeps the target steady between updates and its frequencies those of the whole cohort, not
    of a batch that may hold no image of a rare class. With ``update="batch"`` the handler does
    nothing and each batch's target comes from its own ``q``.

    Nothing happens before the centres exist (``engine.state.centres_initialised``, set by
    :class:`ClusterInitHandler`, which must be attached too). Every rank computes the same target.

    Args:
        dataset: the training images without augmentation, item ``i`` with ``"index"`` ``i``.
        update: ``"batch"`` or ``"full"``.
        interval: iterations between two whole-set targets.
        batch_size: batch size of the pass over the training set.
        num_workers: its data loader workers.
    """

    def __init__(
        self, dataset: Dataset, update: str = "batch", interval: int = 100, batch_size: int = 64, num_workers: int = 0
    ) -> None:
        if update not in TARGET_UPDATES:
            raise ValueError(f"target_update must be one of {TARGET_UPDATES}, got {update!r}.")
        if interval < 1:
            raise ValueError(f"target_interval must be at least 1 iteration, got {interval}.")
        self.dataset, self.update, self.interval = dataset, update, interval
        self.batch_size, self.num_workers = batch_size, num_workers

    def attach(self, engine: Engine) -> None:
        engine.state.dec_target = None
        if self.update == "full":
            engine.add_event_handler(Events.ITERATION_STARTED, self)

    def __call__(self, engine: Engine) -> None:
        if not engine.state.centres_initialised:
            return
        if engine.state.dec_target is None or (engine.state.iteration - 1) % self.interval == 0:
            engine.state.dec_target = self.compute(engine)

    def compute(self, engine: Engine) -> torch.Tensor:
        """``P`` ``(N, K)`` of the whole training set, on the engine's device, row ``i`` for index ``i``."""
        embedded = embed_dataset(
            engine.network, _loader(self.dataset, self.batch_size, self.num_workers), engine.state.device,
            amp=engine.amp, keys=("index",),
        )
        target = torch.empty_like(embedded["q"])
        target[embedded["index"].long()] = engine.loss_function.clustering.target(embedded["q"]).to(target.dtype)
        return target.to(engine.state.device)

