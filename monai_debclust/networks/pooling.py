"""Poolings that turn a feature map ``(B, C, *spatial)`` into a feature vector ``(B, F)``."""

from __future__ import annotations

import math

import torch
from monai.networks.layers.factories import Pool
from torch import nn

__all__ = ["StatisticsPooling", "global_average_pooling", "pooled_features"]


def global_average_pooling(spatial_dims: int) -> nn.Module:
    """Global average pooling and flattening, ``(B, C, *spatial) -> (B, C)``.

    Args:
        spatial_dims: number of spatial dimensions of the feature map (1, 2 or 3).
    """
    return nn.Sequential(Pool[Pool.ADAPTIVEAVG, spatial_dims](1), nn.Flatten(1))


def pooled_features(pooling: nn.Module, in_channels: int) -> int:
    """Length of the vector ``pooling`` makes from a map of ``in_channels`` channels.

    A pooling that changes the length says so with an ``out_features(in_channels)`` method (as
    :class:`StatisticsPooling` does); any other pooling is taken to keep one value per channel.
    """
    out_features = getattr(pooling, "out_features", None)
    return int(out_features(in_channels)) if callable(out_features) else in_channels


class StatisticsPooling(nn.Module):
    """Statistics pooling of StatDEC (Rezaei et al., 2021, "Learning Statistical Representation
    with Joint Deep Embedded Clustering", arXiv:2109.05232).

    A feature map ``x`` of shape ``(B, C, *S)`` with ``n = prod(S)`` positions is summarised per
    channel ``c`` by its mean and standard deviation over the positions,

    ``mu_c = (1/n) sum_s x_cs``,   ``sigma_c = sqrt(max((1/n) sum_s (x_cs - mu_c)**2, eps))``,

    and, with ``with_count=True``, by the cardinality as one extra feature ``log(n)``: the output
    is ``[mu_1..mu_C, sigma_1..sigma_C, log n]`` of length ``2C + 1`` (``2C`` without the count).

    Choices where the paper leaves room:

    * the spread is the standard deviation (the paper names the variance), so that it has the
      units of the mean; it is the population one (divisor ``n``), defined for ``n = 1``;
    * the floor ``eps`` under the variance keeps the gradient of the square root finite where a
      channel is constant; above the floor the value is the exact standard deviation;
    * the count enters as ``log n`` rather than ``n``: a raw count of a few hundred positions
      would dominate the Euclidean distances of the clustering head, its logarithm stays on the
      scale of the other features and still tells feature maps of different sizes apart.

    Args:
        spatial_dims: number of spatial dimensions of the feature map (1, 2 or 3).
        with_count: append ``log n`` as the last feature.
        eps: floor for the variance before the square root.
    """

    def __init__(self, spatial_dims: int = 2, with_count: bool = True, eps: float = 1e-8) -> None:
        super().__init__()
        if spatial_dims not in (1, 2, 3):
            raise ValueError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims}.")
        self.spatial_dims, self.with_count, self.eps = spatial_dims, with_count, eps

    def out_features(self, in_channels: int) -> int:
        """Length of the pooled vector for a map of ``in_channels`` channels: ``2C (+1)``."""
        return 2 * in_channels + int(self.with_count)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != self.spatial_dims + 2:
            raise ValueError(
                f"expected a (batch, channels, *spatial) map with {self.spatial_dims} spatial dims, "
                f"got shape {list(x.shape)}."
            )
        flat = x.flatten(2)
        var, mean = torch.var_mean(flat, dim=2, correction=0)
        stats = [mean, var.clamp_min(self.eps).sqrt()]
        if self.with_count:
            stats.append(torch.full_like(mean[:, :1], math.log(flat.shape[2])))
        return torch.cat(stats, dim=1)
