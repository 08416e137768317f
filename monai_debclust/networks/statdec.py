"""StatDEC: a representation network and a clustering network, both ending in statistics pooling."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from monai_debclust.networks.debclust import DebClustNet
from monai_debclust.networks.factory import get_encoder
from monai_debclust.networks.pooling import StatisticsPooling

__all__ = ["StatDECNet"]


class StatDECNet(DebClustNet):
    """StatDEC (Rezaei et al., 2021, "Learning Statistical Representation with Joint Deep Embedded
    Clustering", arXiv:2109.05232): two networks trained together.

    * representation network: encoder ``f_r`` ending in :class:`StatisticsPooling`, then a
      :class:`ProjectionHead` ``g``; ``z = g(f_r(view))`` for the contrastive loss;
    * clustering network: its own encoder ``f_c`` ending in :class:`StatisticsPooling`, then a
      :class:`ClusteringHead`; ``h = f_c(image)`` and ``q(h)`` for the DEC loss.

    A :class:`DebClustNet` whose ``encoder`` is the representation encoder ``f_r`` and whose
    :meth:`embed` is the clustering encoder ``f_c``: ``forward`` returns the same keys, with
    ``features`` from the clustering network, so the same losses and trainer serve both
    (``--method statdec`` of the bundles: NT-Xent on ``z``, DEC on ``q``).

    Choices the paper leaves open, and the ones made here:

    * how the clustering network learns a representation before DEC can mean anything: the
      representation network trains alone during the warm-up, and when the centres are
      initialised (:meth:`prepare_clustering`, called by
      :class:`~monai_debclust.handlers.ClusterInitHandler` just before its k-means) the clustering
      encoder starts from the representation encoder's weights, as DEC starts from a pre-trained
      encoder (Xie et al., 2016); from then on both train together, ``f_r`` by the contrastive
      loss and ``f_c`` by DEC;
    * the contrastive loss of the representation network: SimCLR's NT-Xent (the paper builds on
      SimCLR); any loss of the trainer can be put in its place;
    * the pooled count enters as ``log n`` and the spread as the standard deviation
      (:class:`StatisticsPooling`); the evaluated and archive-clustering feature is ``f_c``'s.

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
        if encoder.lower() not in ("convmixer", "coatnet"):
            raise ValueError(
                f"StatDEC needs an encoder with a swappable pooling: 'convmixer' or 'coatnet', got {encoder!r}."
            )
        kwargs = dict(encoder_kwargs or {})
        pooling_dims = kwargs.get("spatial_dims", 2)

        def statistics_encoder() -> nn.Module:
            return get_encoder(encoder, pooling=StatisticsPooling(pooling_dims, with_count), **kwargs)

        super().__init__(statistics_encoder(), num_clusters, projection_hidden, projection_dim, alpha)
        self.clustering_encoder = statistics_encoder()

    @property
    def representation_encoder(self) -> nn.Module:
        """The representation network's encoder ``f_r`` (the views go through it)."""
        return self.encoder

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Clustering-network feature ``h = f_c(x)``."""
        return self.clustering_encoder(x)

    def prepare_clustering(self) -> None:
        """Start the clustering network from the representation network: copy ``f_r``'s weights into ``f_c``."""
        self.clustering_encoder.load_state_dict(self.encoder.state_dict())
