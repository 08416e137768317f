"""The joint objective: a contrastive loss plus a weighted clustering loss."""

from __future__ import annotations

import torch
from torch import nn

from monai_debclust.losses.debiased import ModifiedDebiasedContrastiveLoss
from monai_debclust.losses.dec import DECClusteringLoss

__all__ = ["JointDebClustLoss"]


class JointDebClustLoss(nn.Module):
    """``L = L_contrastive(z1, z2) + gamma * L_clustering(q)`` (Zheng et al., arXiv:2209.06941, 2022).

    ``gamma`` is a plain attribute so that a handler can ramp it during training. The clustering
    part is a zero tensor when ``q`` is None or ``gamma == 0`` (e.g. before the centres are
    initialised); with ``gamma == 0`` a given ``q`` stays in the graph with a zero gradient, so
    that ``DistributedDataParallel`` finds the centres used. Each part applies its own reduction.

    The representation part is any loss of the two views: ``forward(z1, z2)`` (NT-Xent, the
    debiased losses), or ``forward(p1, p2, z1, z2)`` when predictions are given
    (:class:`~monai_debclust.losses.SimSiamLoss`), so that every method of the trainer is this
    one objective with another part or ``gamma = 0``.

    Args:
        contrastive: the representation loss, ``forward(z1, z2)`` or ``forward(p1, p2, z1, z2)``;
            default :class:`ModifiedDebiasedContrastiveLoss` with its defaults.
        clustering: the clustering loss, ``forward(q, target=None)``; default :class:`DECClusteringLoss`.
        gamma: weight of the clustering loss, ``>= 0``.
    """

    def __init__(
        self, contrastive: nn.Module | None = None, clustering: DECClusteringLoss | None = None, gamma: float = 5.0
    ) -> None:
        super().__init__()
        self.contrastive = ModifiedDebiasedContrastiveLoss() if contrastive is None else contrastive
        self.clustering = DECClusteringLoss() if clustering is None else clustering
        self.gamma = gamma

    @property
    def gamma(self) -> float:
        """Weight of the clustering loss."""
        return self._gamma

    @gamma.setter
    def gamma(self, value: float) -> None:
        if not value >= 0:
            raise ValueError(f"gamma must be >= 0, got {value}.")
        self._gamma = float(value)

    def forward(
        self,
        z1: torch.Tensor,
        z2: torch.Tensor,
        q: torch.Tensor | None = None,
        target: torch.Tensor | None = None,
        p1: torch.Tensor | None = None,
        p2: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Args:
            z1, z2: ``(N, D)`` projections of the two views.
            p1, p2: ``(N, D)`` predictions of the two views (SimSiam), or None.
            q: ``(N, K)`` soft cluster assignments, or None.
            target: ``(N, K)`` DEC target for these rows, passed to the clustering loss; by default
                the clustering loss sharpens ``q`` itself.

        Returns:
            ``loss`` (the total), ``contrastive`` and ``clustering`` (unweighted).
        """
        contrastive = self.contrastive(z1, z2) if p1 is None else self.contrastive(p1, p2, z1, z2)
        if q is None:
            clustering = contrastive.new_zeros(())
        elif self.gamma == 0:
            clustering = 0.0 * q.sum()
        else:
            clustering = self.clustering(q, target)
        return {"loss": contrastive + self.gamma * clustering, "contrastive": contrastive, "clustering": clustering}
