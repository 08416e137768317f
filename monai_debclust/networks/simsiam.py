"""SimSiam's network: the joint model with a predictor MLP on top of the projection."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from monai_debclust.networks.debclust import DebClustNet, project_views
from monai_debclust.networks.heads import ProjectionHead

__all__ = ["SimSiamNet"]


class SimSiamNet(DebClustNet):
    """SimSiam (Chen & He, "Exploring Simple Siamese Representation Learning", CVPR 2021) as a
    :class:`DebClustNet` with a predictor ``h`` after the projection ``g``.

    ``forward(image, view1, view2)`` returns the keys of :class:`DebClustNet` plus the
    predictions ``p1 = h(z1)``, ``p2 = h(z2)`` that :class:`~monai_debclust.losses.SimSiamLoss`
    compares with the stop-gradient projections. The encoder, the clustering head and the
    feature used for evaluation and archive clustering are those of :class:`DebClustNet`.

    Choices where this differs from the paper (which uses a 3-layer projection with a batch
    normalisation after its output and a ResNet): the projection is the 2-layer
    :class:`~monai_debclust.networks.ProjectionHead` of every other mode, so that the methods
    differ only in their objective; the predictor is the paper's bottleneck MLP.

    Args:
        encoder: an ``nn.Module`` with ``out_channels``, or the name of one for :func:`get_encoder`.
        num_clusters: number of clusters ``K`` of the (k-means filled) clustering head.
        projection_hidden: hidden width of ``g``.
        projection_dim: length of ``z`` and ``p``.
        predictor_hidden: bottleneck width of the predictor; default ``projection_dim // 4``.
        alpha: degrees of freedom of the Student-t kernel.
        encoder_kwargs: arguments of the named encoder.
    """

    def __init__(
        self,
        encoder: nn.Module | str,
        num_clusters: int = 2,
        projection_hidden: int = 512,
        projection_dim: int = 128,
        predictor_hidden: int | None = None,
        alpha: float = 1.0,
        encoder_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(encoder, num_clusters, projection_hidden, projection_dim, alpha, encoder_kwargs)
        # the paper's predictor: Linear(no bias)-BN-ReLU-Linear with a bottleneck, the projection head's shape
        self.predictor = ProjectionHead(projection_dim, predictor_hidden or max(1, projection_dim // 4), projection_dim)

    def forward(
        self, image: torch.Tensor, view1: torch.Tensor | None = None, view2: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """``dict(features, q)`` of ``image``, plus ``z1, z2, p1, p2`` when both views are given."""
        features = self.embed(image)
        outputs = {"features": features, "q": self.clustering(features)}
        projections = project_views(self.encoder, self.projection, view1, view2)
        outputs.update(projections)
        outputs.update({f"p{key[1]}": self.predictor(z) for key, z in projections.items()})
        return outputs
