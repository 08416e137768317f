"""Experiment tracking: an embedding-collapse signal each epoch, and MONAI's ``--tracking mlflow`` made to fit.

:class:`EmbeddingCollapseHandler` puts the effective rank of the training features into
``engine.state.metrics`` at the end of each epoch, where MONAI's ``TensorBoardStatsHandler`` and
``MLFlowHandler`` (both log the epoch's ``state.metrics``) find it. The effective rank
(Roy & Vetterli, 2007, "The effective rank: a measure of effective dimensionality")
of an ``(N, D)`` feature matrix with singular values :math:`\\sigma_i` is

.. math:: \\operatorname{erank} = \\exp\\Big(-\\sum_i p_i \\log p_i\\Big), \\qquad p_i = \\sigma_i / \\sum_j \\sigma_j,

between 1 (every image on one line: collapsed) and :math:`\\min(N, D)`; MONAI 1.6's
:class:`~monai.metrics.EmbeddingCollapseMetric` adds its ``effective_rank_score`` in ``[0, 1]``
(higher: more collapsed).

:func:`track_loss_parts` adapts the ``MLFlowHandler`` that ``python -m monai.bundle run training
... --tracking mlflow`` appends to the trainer's handlers: MONAI's default settings log
``from_engine(['loss'], first=True)`` of the iteration output, a tuple for the
:class:`~monai_debclust.engines.DebClustTrainer`'s dictionary output, which MLflow cannot log. The
bundles call it before training, so each loss part is logged as a number under its own name and
the trained model (``models/``) is logged as an artifact of the run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from ignite.engine import Engine, Events
from monai.data import DataLoader
from monai.metrics import EmbeddingCollapseMetric
from torch.utils.data import Dataset, Subset

from monai_debclust.engines.embedding import embed_dataset
from monai_debclust.engines.trainer import loss_parts

__all__ = ["EFFECTIVE_RANK", "COLLAPSE_SCORE", "effective_rank", "EmbeddingCollapseHandler", "track_loss_parts"]

#: Names of the epoch metrics :class:`EmbeddingCollapseHandler` writes.
EFFECTIVE_RANK = "effective_rank"
COLLAPSE_SCORE = "collapse_score"


def effective_rank(features: torch.Tensor) -> float:
    """The effective rank of ``(N, D)`` features (centred), by the entropy of the normalised singular values."""
    x = features.detach().double()
    singular = torch.linalg.svdvals(x - x.mean(dim=0, keepdim=True))
    total = singular.sum()
    if total <= 0:
        return 1.0
    p = singular[singular > 0] / total
    return float(torch.exp(-(p * p.log()).sum()))


class EmbeddingCollapseHandler:
    """Each epoch, the effective rank of the features of (a fixed sample of) the training images.

    Args:
        dataset: the training images without augmentation (``dict(image, ...)``).
        max_samples: images embedded each epoch, a fixed random sample when there are more.
        batch_size: images per forward pass.
        num_workers: data-loading processes.
        seed: the sample's random state.
        interval: every how many epochs.
    """

    def __init__(self, dataset: Dataset, max_samples: int = 512, batch_size: int = 64, num_workers: int = 0,
                 seed: int = 0, interval: int = 1) -> None:
        if len(dataset) > max_samples:
            chosen = np.random.default_rng(seed).choice(len(dataset), max_samples, replace=False)
            dataset = Subset(dataset, np.sort(chosen).tolist())
        self.loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
        self.interval = interval
        self.metric = EmbeddingCollapseMetric(reduction="none", include_indicators=["effective_rank"])

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_COMPLETED(every=self.interval), self)

    def __call__(self, engine: Engine) -> None:
        features = embed_dataset(engine.network, self.loader, engine.state.device, amp=engine.amp, keys=())["features"]
        features = features.float().cpu()
        engine.state.metrics[EFFECTIVE_RANK] = effective_rank(features)
        if len(features) >= 2:
            score = self.metric(embeddings=features).get("effective_rank_score")
            if score is not None:
                engine.state.metrics[COLLAPSE_SCORE] = float(score)


def track_loss_parts(handlers: Sequence[object], output_dir: str | os.PathLike) -> int:
    """Make the ``MLFlowHandler`` among ``handlers`` log the loss parts and the trained model; returns how many.

    Args:
        handlers: the trainer's handlers (``@train#handlers``), where ``--tracking mlflow`` appends its one.
        output_dir: the run's folder; its ``models/`` (``model.pt``, ``network.json``, ...) become artifacts.
    """
    from monai.handlers import MLFlowHandler

    adapted = 0
    for handler in handlers:
        if isinstance(handler, MLFlowHandler):
            handler.output_transform = loss_parts
            handler.artifacts = (*handler.artifacts, Path(output_dir) / "models")
            adapted += 1
    return adapted
