"""The joint trainer: debiased contrastive representation learning and DEC clustering in one step."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from ignite.metrics import Average
from monai.engines import Trainer
from monai.engines.utils import IterationEvents
from torch import nn
from torch.optim import Optimizer
from torch.utils.data import DataLoader

from monai_debclust.engines.metrics import ClusterSizes
from monai_debclust.transforms import BatchTwoViews, to_unit_float
from monai_debclust.utils.dist import gather_across_ranks

__all__ = ["DebClustTrainer", "LOSS_PARTS", "VIEW_OUTPUTS", "loss_parts", "resolve_device"]

#: The parts of the joint loss a trainer iteration reports, each a float.
LOSS_PARTS = ("loss", "contrastive", "clustering")
#: Network outputs of the two views passed to the loss by name: the projections, and the
#: predictions of a network that has a predictor (SimSiam's).
VIEW_OUTPUTS = ("z1", "z2", "p1", "p2")


def loss_parts(output: dict[str, Any]) -> dict[str, float]:
    """``{"loss", "contrastive", "clustering"}`` of a :class:`DebClustTrainer` iteration's output.

    The ``output_transform`` for MONAI's ``StatsHandler`` and ``TensorBoardStatsHandler`` (and
    ignite's ``ProgressBar``), which then log each part under its own name.
    """
    return {name: output[name] for name in LOSS_PARTS}


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device`` as a ``torch.device``; None picks ``"cuda"`` when available, else ``"cpu"``."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class DebClustTrainer(Trainer):
    """Joint training of a representation and a clustering (Zheng et al., 2022, "Joint Debiased
    Representation and Image Clustering Learning with Self-Supervision", arXiv:2209.06941), as a
    MONAI ``Trainer``.

    Each iteration runs the plain image and its two views through the network,
    ``network(image, view1, view2) -> dict(features, q, z1, z2)`` (:class:`~monai_debclust.networks.DebClustNet`),
    and minimises ``loss_function(z1=z1, z2=z2, q=q)`` (:class:`~monai_debclust.losses.JointDebClustLoss`,
    ``dict(loss, contrastive, clustering)``); a network that also returns predictions ``p1``,
    ``p2`` (:class:`~monai_debclust.networks.SimSiamNet`) has them passed by name too. It fires MONAI's ``IterationEvents`` in order
    (``FORWARD_COMPLETED``, ``LOSS_COMPLETED``, ``BACKWARD_COMPLETED``, ``MODEL_COMPLETED``) and
    returns ``{"loss", "contrastive", "clustering"}`` as floats plus ``"q"`` ``(B, K)`` detached.

    DEC target: by default the clustering loss sharpens the batch's own ``q``. When a handler has
    put a target for the whole training set in ``engine.state.dec_target`` (``(N, K)``, row ``i``
    for the sample whose ``index_key`` is ``i``; see :class:`~monai_debclust.handlers.DECTargetHandler`),
    the batch's rows of it are passed as ``loss_function(z1, z2, q, target=...)``.

    Distributed training (``torch.distributed`` initialised with several ranks, ``network``
    wrapped in ``DistributedDataParallel``): ``z1``, ``z2`` and ``q`` of all ranks are gathered
    (with their graph) before the loss, so every rank computes the loss of the global batch,
    with the other ranks' views as negatives, exactly as one process would. Gradient scale: the
    gather's backward sums the gradients of the ``W`` identical copies of the loss, giving each
    rank ``W`` times the global-loss gradient of its own samples; ``DistributedDataParallel``
    then averages over the ``W`` ranks, so the parameters receive exactly the gradient of the
    global-batch loss, as on one device.

    Views on the device: with ``views`` (a :class:`~monai_debclust.transforms.BatchTwoViews`) the
    batches need no view keys; each iteration moves the batch's ``image_key`` (``uint8`` or float)
    to the device, scales it to float in ``[0, 1]`` there and draws both views from it in one
    batched pass, with a generator seeded from ``(view_seed, epoch, iteration, rank)``, so a run
    resumed from a checkpoint draws the views an uninterrupted run would have drawn.

    At the end of every epoch ``engine.state.metrics`` holds the epoch means ``epoch_loss``,
    ``epoch_contrastive``, ``epoch_clustering`` and the cluster sizes of :class:`ClusterSizes`
    (for ``StatsHandler`` and ``TensorBoardStatsHandler``), computed before any handler runs.

    Args:
        device: where to train; ``None`` picks ``"cuda"`` when available, else ``"cpu"``.
        max_epochs: number of epochs.
        train_data_loader: batches of dictionaries with ``image_key``, both ``view_keys`` and
            (for a whole-set DEC target) ``index_key``.
        network: the joint model (or it wrapped in ``DistributedDataParallel``).
        optimizer: optimiser of ``network``'s parameters.
        loss_function: the joint loss with a ``gamma`` attribute and a ``clustering`` part.
        num_clusters: ``K``, for the cluster-size statistics.
        epoch_length: iterations per epoch; by default ``len(train_data_loader)``.
        non_blocking: asynchronous host-to-device copies.
        train_handlers: MONAI/ignite handlers with ``attach(engine)``.
        amp: mixed precision (``torch.autocast`` and a gradient scaler); used on CUDA only.
        image_key: key of the plain image.
        view_keys: keys of the two augmented views.
        index_key: key of each sample's index in the training set.
        optim_set_to_none: ``optimizer.zero_grad(set_to_none=...)``.
        amp_kwargs: arguments of ``torch.autocast``.
        views: make the two views of every batch on the device with this; None reads them from
            the batch's ``view_keys``.
        view_seed: the run's seed for the views made on the device.

    Raises:
        ValueError: when the data loader yields no batch in an epoch (fewer images than the
            batch size with ``drop_last``).
    """

    def __init__(
        self,
        device: str | torch.device | None,
        max_epochs: int,
        train_data_loader: Iterable | DataLoader,
        network: nn.Module,
        optimizer: Optimizer,
        loss_function: nn.Module,
        num_clusters: int,
        epoch_length: int | None = None,
        non_blocking: bool = False,
        train_handlers: Sequence | None = None,
        amp: bool = False,
        image_key: str = "image",
        view_keys: Sequence[str] = ("view1", "view2"),
        index_key: str = "index",
        optim_set_to_none: bool = False,
        amp_kwargs: dict | None = None,
        views: BatchTwoViews | None = None,
        view_seed: int = 0,
    ) -> None:
        device = resolve_device(device)
        super().__init__(
            device=device,
            max_epochs=max_epochs,
            data_loader=train_data_loader,
            epoch_length=epoch_length,
            non_blocking=non_blocking,
            amp=amp and device.type == "cuda",
            decollate=False,
            amp_kwargs=amp_kwargs,
        )
        if self.state.epoch_length == 0:
            raise ValueError(
                "the training data loader yields no batch: the training set has fewer images than "
                "`batch_size` (incomplete batches are dropped); lower --batch_size."
            )
        self.network = network
        self.optimizer = optimizer
        self.loss_function = loss_function
        self.image_key, self.view_keys, self.index_key = image_key, tuple(view_keys), index_key
        self.optim_set_to_none = optim_set_to_none
        self.views, self.view_seed = views, int(view_seed)
        self.state.dec_target = None
        # the metrics first, so that every handler's EPOCH_COMPLETED sees this epoch's values
        for name in LOSS_PARTS:
            Average(output_transform=lambda output, name=name: output[name]).attach(self, f"epoch_{name}")
        ClusterSizes(num_clusters).attach(self, "cluster_sizes")
        if train_handlers is not None:
            self._register_handlers(train_handlers)

    def load_state_dict(self, state_dict: Mapping) -> None:
        """Ignite's ``load_state_dict``, tolerating a checkpoint written before a handler added a state key.

        A key of ``state_dict_user_keys`` (e.g. ``clustering_started_epoch`` of
        :class:`~monai_debclust.handlers.ClusterInitHandler`) that the checkpoint lacks keeps the
        value its handler gave it at attach time, so that older checkpoints still resume.
        """
        defaults = {key: getattr(self.state, key) for key in self.state_dict_user_keys if key not in state_dict}
        super().load_state_dict({**state_dict, **defaults})

    def _batch_target(self, engine: DebClustTrainer, batchdata: dict[str, Any]) -> torch.Tensor | None:
        """The rows of the whole-set DEC target for this batch, or None to sharpen the batch's own q."""
        if engine.state.dec_target is None:
            return None
        index = gather_across_ranks(batchdata[self.index_key].to(engine.state.device))
        return engine.state.dec_target[index]

    def _view_generator(self, engine: DebClustTrainer) -> torch.Generator:
        """The generator of this iteration's views, a function of ``(view_seed, epoch, iteration, rank)`` only."""
        rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
        entropy = np.random.SeedSequence([self.view_seed, engine.state.epoch, engine.state.iteration, rank])
        return torch.Generator().manual_seed(int(entropy.generate_state(1, dtype=np.uint64)[0]))

    def _iteration(self, engine: DebClustTrainer, batchdata: dict[str, Any]) -> dict[str, Any]:
        """One joint step; see the class docstring for what it computes, fires and returns."""
        if batchdata is None:
            raise ValueError("Must provide batch data for current iteration.")
        if self.views is None:
            image, view1, view2 = (
                batchdata[key].to(engine.state.device, non_blocking=engine.non_blocking)
                for key in (self.image_key, *self.view_keys)
            )
        else:
            image = to_unit_float(batchdata[self.image_key].to(engine.state.device, non_blocking=engine.non_blocking))
            view1, view2 = self.views(image, self._view_generator(engine))
        target = self._batch_target(engine, batchdata)
        engine.network.train()
        engine.optimizer.zero_grad(set_to_none=engine.optim_set_to_none)

        with torch.autocast(engine.state.device.type, enabled=engine.amp, **engine.amp_kwargs):
            outputs = engine.network(image, view1, view2)
            engine.state.output = dict(outputs)
            engine.fire_event(IterationEvents.FORWARD_COMPLETED)
            views = {key: gather_across_ranks(outputs[key]) for key in VIEW_OUTPUTS if key in outputs}
            extra = {} if target is None else {"target": target}
            losses = engine.loss_function(q=gather_across_ranks(outputs["q"]), **views, **extra)
            engine.state.output.update(losses)
            engine.fire_event(IterationEvents.LOSS_COMPLETED)

        if engine.scaler is not None:
            engine.scaler.scale(losses["loss"]).backward()
            engine.fire_event(IterationEvents.BACKWARD_COMPLETED)
            engine.scaler.step(engine.optimizer)
            engine.scaler.update()
        else:
            losses["loss"].backward()
            engine.fire_event(IterationEvents.BACKWARD_COMPLETED)
            engine.optimizer.step()

        engine.state.output = {name: float(losses[name].detach()) for name in LOSS_PARTS}
        engine.state.output["q"] = outputs["q"].detach()
        engine.fire_event(IterationEvents.MODEL_COMPLETED)
        return engine.state.output
