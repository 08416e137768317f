"""Step 3 of archive clustering: soft assignments to the trained (or re-fitted) centres, and the outliers.

Outlier rule: an image is flagged when it is far from every centre, its distance to the nearest
centre being above the ``outlier_percentile``-th percentile of this run's distances, *or* when
the model is unsure of it, its confidence (largest soft assignment ``q``) being below
``min_confidence``, by default the ``(100 - outlier_percentile)``-th percentile of this run's
confidences. Both thresholds come from the run's own distribution because the scale of ``q``
depends on the model (a Student-t ``q`` over K clusters in a wide feature space can be flat
for every image): with the default 99 about 1 % of the images are flagged by each rule.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from monai_debclust.networks import ClusteringHead
from monai_debclust.similarity import kmeans

__all__ = ["BLOCK_ROWS", "Outliers", "assign_clusters", "clustering_head", "flag_outliers"]

#: Rows of embeddings handled at once when assigning and writing: bounds the memory (the
#: Student-t head holds a rows x K x D difference tensor, 30 MB for K = 7 and D = 256).
BLOCK_ROWS = 4096


def clustering_head(
    trained: ClusteringHead, embeddings: np.ndarray, recluster: int | None, seed: int = 0, max_points: int = 250_000,
    centres: np.ndarray | None = None,
) -> tuple[ClusteringHead, str]:
    """A CPU copy of the ``trained`` head, or a head on k-means centres when re-clustering; and its source.

    Args:
        trained: the trained network's clustering head.
        embeddings: the archive's embeddings (N, D).
        recluster: ``None`` for the trained centres, or K to fit K k-means centres.
        seed: k-means seed (and of the sample it trains on).
        max_points: k-means trains on at most this many embeddings (a uniform random sample).
        centres: given centres (an earlier run's k-means), used as they are.

    Returns:
        ``(head, source)``: the head and ``"head"`` or ``"kmeans"``.
    """
    if centres is not None:
        source = "kmeans"
    elif recluster is None:
        centres, source = trained.centres.detach().cpu().numpy(), "head"
    else:
        rows = np.arange(len(embeddings))
        if len(rows) > max_points:
            rng = np.random.default_rng(seed)
            rows = np.sort(rng.choice(len(rows), max_points, replace=False))
        centres, _ = kmeans(embeddings[rows], recluster, seed=seed)
        source = "kmeans"
    head = ClusteringHead(centres.shape[1], len(centres), alpha=trained.alpha)
    with torch.no_grad():
        head.centres.copy_(torch.from_numpy(centres))
    return head, source


def assign_clusters(embeddings: np.ndarray, head: ClusteringHead) -> tuple[np.ndarray, np.ndarray]:
    """Soft assignments ``q`` (N, K) and distance to the nearest centre (N,), block by block."""
    q = np.empty((len(embeddings), head.num_clusters), dtype=np.float32)
    distance = np.empty(len(embeddings), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, len(embeddings), BLOCK_ROWS):
            block = torch.from_numpy(np.array(embeddings[start : start + BLOCK_ROWS], dtype=np.float32))
            q[start : start + len(block)] = head(block).numpy()
            # exact differences, not |x|^2 - 2 x.c + |c|^2, which loses small distances in float32
            pairwise = torch.cdist(block, head.centres, compute_mode="donot_use_mm_for_euclid_dist")
            distance[start : start + len(block)] = pairwise.min(dim=1).values.numpy()
    return q, distance


class Outliers(NamedTuple):
    """The flagged images (``mask``) and the two thresholds that flagged them."""

    mask: np.ndarray
    max_distance: float
    min_confidence: float


def flag_outliers(
    distance: np.ndarray, confidence: np.ndarray, percentile: float = 99.0, min_confidence: float | None = None
) -> Outliers:
    """Flag the images farther than the ``percentile``-th distance or less confident than the threshold.

    Args:
        distance: distance of each image to its nearest centre.
        confidence: largest soft assignment of each image.
        percentile: percentile of the run's distances above which an image is far from every centre.
        min_confidence: fixed confidence threshold; ``None`` for the ``100 - percentile`` percentile.
    """
    max_distance = float(np.percentile(distance, percentile))
    threshold = (float(np.percentile(confidence, 100.0 - percentile))
                 if min_confidence is None else float(min_confidence))
    return Outliers((distance > max_distance) | (confidence < threshold), max_distance, threshold)
