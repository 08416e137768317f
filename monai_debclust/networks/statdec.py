"""StatDEC: a representation network and a clustering network, both ending in statistics pooling."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from monai_debclust.networks.debclust import project_views
from monai_debclust.networks.factory import get_encoder
from monai_debclust.networks.heads import ClusteringHead, ProjectionHead
from monai_debclust.networks.pooling import StatisticsPooling

__all__ = ["StatDECNet"]


class StatDECNet(nn.Module):
    """StatDEC (Rezaei et al., 2021, "Learning Statistical Representation with Joint Deep Embedded
    Clustering", arXiv:2109.05232): two networks trained together.

    * representation network: encoder ``f_r`` ending in :class:`StatisticsPooling`, then a
      :class:`ProjectionHead` ``g``; ``z = g(f_r(view))`` for the contrastive loss;
    * clustering network: its own encoder ``f_c`` ending in :class:`StatisticsPooling`, then a
      :class:`ClusteringHead`; ``h = f_c(image)`` and ``q(h)`` for the DEC loss.

    ``forward`` returns the keys of :class:`DebClustNet`, with ``features`` from the clustering
    network, so the same losses and trainer serve both.

    Args:
        encoder: ``"convmixer"`` or ``"coatnet"``: an encoder of :func:`get_encoder` that takes a
            ``pooling`` argument.
        num_clusters: number of clusters ``K``.
        projection_hidden: hidden width of ``g``.
        projection_dim: length of ``z``.
        alpha: degrees of freedom of the Student-t kernel.
        with_count: whether the statistics pooling appends the (log) count.
        encoder_kwargs: arguments of both encoders, e.g. ``{"spatial_dims": 2, "dim": 64}``.
    """

    def __init__(
        self,
        encoder: str = "convmixer",
        num_clusters: int = 2,
        projection_hidden: int = 512,
        projection_dim: int = 128,
        alpha: float = 1.0,
        with_count: bool = True,
        encoder_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if encoder.lower() not in ("convmixer", "coatnet"):
            raise ValueError(
                f"StatDEC needs an encoder with a swappable pooling: 'convmixer' or 'coatnet', got {encoder!r}."
            )
        kwargs = dict(encoder_kwargs or {})
        spatial_dims = kwargs.get("spatial_dims", 2)
        self.representation_encoder, self.clustering_encoder = (
            get_encoder(encoder, pooling=StatisticsPooling(spatial_dims, with_count), **kwargs) for _ in range(2)
        )
        features = self.clustering_encoder.out_channels
        self.projection = ProjectionHead(features, projection_hidden, projection_dim)
        self.clustering = ClusteringHead(features, num_clusters, alpha)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Clustering-network feature ``h = f_c(x)``."""
        return self.clustering_encoder(x)

    def assign(self, x: torch.Tensor) -> torch.Tensor:
        """Soft cluster assignment ``q(f_c(x))``, ``(B, K)``."""
        return self.clustering(self.embed(x))

    def forward(
        self, image: torch.Tensor, view1: torch.Tensor | None = None, view2: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """``dict(features=f_c(image), q=q(image))``, plus ``z1``/``z2`` from ``g(f_r(view))``."""
        features = self.embed(image)
        return {"features": features, "q": self.clustering(features),
                **project_views(self.representation_encoder, self.projection, view1, view2)}
