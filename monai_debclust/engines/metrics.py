"""Epoch-level training statistics as ignite metrics: the size of each cluster, the smallest share."""

from __future__ import annotations

from collections.abc import Callable

import torch
from ignite.metrics import Metric
from ignite.metrics.metric import reinit__is_reduced, sync_all_reduce

__all__ = ["ClusterSizes"]


class ClusterSizes(Metric):
    """How many training images each cluster took over an epoch (hard assignment ``argmax_j q_ij``).

    A DEC clustering of a long-tailed cohort can collapse (one cluster takes everything) or be
    pulled towards equal sizes by the target's frequency normalisation; both show here first.
    Under ``torch.distributed`` the counts are summed over the ranks.

    ``compute`` returns ``{"cluster_size_<j>": count, ..., "smallest_cluster_share": min_j n_j / N}``,
    which ignite writes into ``engine.state.metrics`` key by key.

    Args:
        num_clusters: ``K``, the number of columns of ``q``.
        output_transform: picks ``q`` ``(B, K)`` from the engine's output; by default ``output["q"]``.
    """

    def __init__(self, num_clusters: int, output_transform: Callable = lambda output: output["q"]) -> None:
        if num_clusters < 1:
            raise ValueError(f"num_clusters must be at least 1, got {num_clusters}.")
        self.num_clusters = num_clusters
        super().__init__(output_transform=output_transform)

    @reinit__is_reduced
    def reset(self) -> None:
        self._counts = torch.zeros(self.num_clusters, dtype=torch.long)

    @reinit__is_reduced
    def update(self, output: torch.Tensor) -> None:
        if output.ndim != 2 or output.shape[1] != self.num_clusters:
            raise ValueError(f"q must be (batch, {self.num_clusters}), got shape {tuple(output.shape)}.")
        self._counts += torch.bincount(output.argmax(dim=1).cpu(), minlength=self.num_clusters)

    @sync_all_reduce("_counts:SUM")
    def compute(self) -> dict[str, float]:
        total = int(self._counts.sum())
        sizes = {f"cluster_size_{j}": int(n) for j, n in enumerate(self._counts.tolist())}
        return {**sizes, "smallest_cluster_share": int(self._counts.min()) / total if total else 0.0}
