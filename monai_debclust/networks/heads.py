"""Heads on top of the encoder feature ``h``: the projection MLP ``g`` and the DEC clustering head."""

from __future__ import annotations

import torch
from torch import nn

from monai_debclust.similarity.kmeans import kmeans

__all__ = ["ProjectionHead", "student_t_assignment", "ClusteringHead"]


class ProjectionHead(nn.Module):
    """Projection MLP ``g`` of the representation branch: ``Linear(no bias) -> BN1d -> ReLU -> Linear``.

    ``z = W_2 ReLU(BN(W_1 h)) + b_2``; the contrastive loss is computed on ``z`` (SimCLR, Chen et
    al., 2020; 512 hidden and 128 output features in Zheng et al., 2022). The first linear layer
    has no bias because the batch normalisation that follows removes it.

    Args:
        in_features: length of the encoder feature ``h``.
        hidden_features: width of the hidden layer.
        out_features: length of the projection ``z``.
    """

    def __init__(self, in_features: int, hidden_features: int = 512, out_features: int = 128) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(in_features, hidden_features, bias=False),
            nn.BatchNorm1d(hidden_features),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_features, out_features),
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.layers(h)


def student_t_assignment(features: torch.Tensor, centres: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Soft assignment of features to centres by a Student-t kernel (DEC, Xie et al., 2016).

    ``q_ij = k_ij / sum_k k_ik``  with  ``k_ij = (1 + ||h_i - mu_j||**2 / alpha)**(-(alpha + 1) / 2)``,

    computed as a softmax over ``-(alpha + 1)/2 * log1p(d_ij**2 / alpha)``, which neither
    underflows for far-away points nor loses the small distances (``log1p``), in any float dtype.

    Args:
        features: ``(B, D)`` features ``h``.
        centres: ``(K, D)`` cluster centres ``mu``.
        alpha: degrees of freedom of the Student-t kernel (1 in DEC).

    Returns:
        ``(B, K)`` soft assignments ``q``; each row sums to 1.
    """
    shapes_fit = features.ndim == 2 and centres.ndim == 2 and features.shape[1] == centres.shape[1]
    if not (torch.jit.is_tracing() or shapes_fit):  # a trace records the example's shapes, checked once
        raise ValueError(
            f"features must be (batch, dim) and centres (clusters, dim) with the same dim, "
            f"got {tuple(features.shape)} and {tuple(centres.shape)}."
        )
    if alpha <= 0:
        raise ValueError(f"alpha must be positive, got {alpha}.")
    squared_distance = (features.unsqueeze(1) - centres.unsqueeze(0)).pow(2).sum(dim=2)
    logits = -(alpha + 1.0) / 2.0 * torch.log1p(squared_distance / alpha)
    return torch.softmax(logits, dim=1)


class ClusteringHead(nn.Module):
    """DEC clustering head: ``K`` learnable centres ``mu`` and the Student-t assignment ``q(h)``.

    See :func:`student_t_assignment` for ``q``. The centres are meant to be initialised by k-means
    on the encoder features (:meth:`initialise_centres`) before the clustering loss is switched on
    (Xie et al., 2016, "Unsupervised Deep Embedding for Clustering Analysis").

    Args:
        in_features: length ``D`` of the features.
        num_clusters: number of clusters ``K``.
        alpha: degrees of freedom of the Student-t kernel.
    """

    def __init__(self, in_features: int, num_clusters: int, alpha: float = 1.0) -> None:
        super().__init__()
        if num_clusters < 1:
            raise ValueError(f"num_clusters must be at least 1, got {num_clusters}.")
        if alpha <= 0:
            raise ValueError(f"alpha must be positive, got {alpha}.")
        self.alpha = alpha
        self.centres = nn.Parameter(torch.empty(num_clusters, in_features))
        nn.init.xavier_uniform_(self.centres)

    @property
    def num_clusters(self) -> int:
        return self.centres.shape[0]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return student_t_assignment(h, self.centres, self.alpha)

    def initialise_centres(self, features: torch.Tensor, seed: int = 0, n_init: int = 10) -> torch.Tensor:
        """Set the centres to the k-means centres of ``features``; return the k-means labels.

        Args:
            features: ``(N, D)`` encoder features of (a sample of) the training set, ``N >= K``.
            seed: k-means random seed.
            n_init: number of k-means restarts.

        Returns:
            ``(N,)`` long tensor of the k-means cluster of each feature.
        """
        features = torch.as_tensor(features)
        if features.ndim != 2 or features.shape[1] != self.centres.shape[1]:
            raise ValueError(
                f"features must be (points, {self.centres.shape[1]}) to match the centres, "
                f"got shape {tuple(features.shape)}."
            )
        centres, labels = kmeans(features, self.num_clusters, seed=seed, n_init=n_init)
        with torch.no_grad():
            self.centres.copy_(torch.from_numpy(centres))
        return torch.from_numpy(labels).long().to(features.device)
