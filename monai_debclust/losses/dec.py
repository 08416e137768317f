"""The DEC clustering loss: KL divergence from soft assignments to their sharpened target."""

from __future__ import annotations

import torch
from monai.utils import LossReduction
from torch.nn.modules.loss import _Loss

__all__ = ["DECClusteringLoss"]


class DECClusteringLoss(_Loss):
    """KL(P || Q) between soft cluster assignments and their sharpened target (Xie et al., ICML 2016).

    ``p_ij = (q_ij**2 / f_j**beta) / sum_k (q_ik**2 / f_k**beta)`` with ``f_j = sum_i q_ij``, and
    ``KL_i = sum_j p_ij (log p_ij - log q_ij)``. P is a constant (detached): the gradient reaches
    Q only. P is computed from the batch's own ``q`` unless a ``target`` is given. ``beta=1`` is the original target; smaller values pull less towards equal cluster
    sizes. Inputs in float16/bfloat16 are computed and returned in float32.

    Args:
        beta: exponent of the cluster-frequency normalisation.
        eps: floor for q and f, keeping the logarithm finite.
        reduction: ``"mean"``: ``sum_i KL_i / N`` (per sample, PyTorch's ``"batchmean"``);
            ``"sum"``: ``sum_i KL_i``; ``"none"``: the ``(N,)`` ``KL_i``.
    """

    def __init__(
        self, beta: float = 1.0, eps: float = 1e-8, reduction: LossReduction | str = LossReduction.MEAN
    ) -> None:
        super().__init__(reduction=LossReduction(reduction).value)
        self.beta, self.eps = beta, eps

    def target(self, q: torch.Tensor) -> torch.Tensor:
        """The sharpened target ``P`` of ``q`` ``(N, K)``, rows summing to 1 (not detached)."""
        q = q.to(torch.promote_types(q.dtype, torch.float32))
        weight = q.pow(2) / q.sum(dim=0).clamp_min(self.eps).pow(self.beta)
        return weight / weight.sum(dim=1, keepdim=True).clamp_min(self.eps)

    def forward(self, q: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        """Args:
            q: ``(N, K)`` soft assignments, rows summing to 1.
            target: ``(N, K)`` target P for these rows, e.g. computed over the whole training set
                and refreshed every few iterations (DEC's schedule); by default ``self.target(q)``.

        Raises:
            ValueError: when ``q`` is not two-dimensional or ``target`` has another shape.
        """
        if q.ndim != 2:
            raise ValueError(f"q must be (batch, clusters), got shape {tuple(q.shape)}.")
        if target is not None and target.shape != q.shape:
            raise ValueError(f"target must have the shape of q {tuple(q.shape)}, got {tuple(target.shape)}.")
        dtype = torch.promote_types(q.dtype, torch.float32)
        p = (self.target(q) if target is None else target).detach().to(dtype)
        q = q.to(dtype)
        kl = (p * (p.clamp_min(self.eps).log() - q.clamp_min(self.eps).log())).sum(dim=1)
        return {"mean": kl.mean(), "sum": kl.sum(), "none": kl}[self.reduction]
