"""The DEC clustering loss: KL divergence from soft assignments to their sharpened target."""

from __future__ import annotations

from collections.abc import Callable

import torch
from monai.utils import LossReduction
from torch.nn.modules.loss import _Loss

from monai_debclust.losses.partial_ot import PartialOTTarget

__all__ = ["TARGET_STRATEGIES", "DECClusteringLoss"]

#: Names of the targets :class:`DECClusteringLoss` computes itself.
TARGET_STRATEGIES = ("sharpen", "partial_ot")


class DECClusteringLoss(_Loss):
    """KL(P || Q) between soft cluster assignments and their target (Xie et al., ICML 2016).

    ``KL_i = sum_j p_ij (log p_ij - log q_ij)``. P is a constant (detached): the gradient reaches
    Q only. P is computed from the batch's own ``q`` by the ``target_strategy`` unless a
    ``target`` is given:

    * ``"sharpen"``, DEC's target: ``p_ij = (q_ij**2 / f_j**beta) / sum_k (q_ik**2 / f_k**beta)``
      with ``f_j = sum_i q_ij``. ``beta=1`` is the original target, which pulls clusters towards
      equal sizes; smaller values pull less.
    * ``"partial_ot"``: :class:`~monai_debclust.losses.PartialOTTarget` with its defaults, P2OT's
      partial optimal-transport pseudo-labels, whose cluster sizes are only KL-penalised.
    * any callable ``q -> P``, e.g. a configured ``PartialOTTarget`` (whose ``rho`` a handler ramps).

    A target row may sum to ``w_i < 1`` (P2OT gives a sample it is unsure of less mass); its KL is
    then weighted by that mass, ``KL_i = w_i KL(p_i / w_i || q_i) = sum_j p_ij (log(p_ij / w_i) - log q_ij)``,
    whose gradient ``-p_ij / q_ij`` is that of the cross entropy to ``p_i``. For rows summing to 1
    this is the plain KL. Inputs in float16/bfloat16 are computed and returned in float32.

    Args:
        beta: exponent of the cluster-frequency normalisation of ``"sharpen"``.
        eps: floor for q, f and the row masses, keeping the logarithm finite.
        reduction: ``"mean"``: ``sum_i KL_i / N`` (per sample, PyTorch's ``"batchmean"``);
            ``"sum"``: ``sum_i KL_i``; ``"none"``: the ``(N,)`` ``KL_i``.
        target_strategy: ``"sharpen"``, ``"partial_ot"`` or a callable ``q -> P``; see above.
    """

    def __init__(
        self,
        beta: float = 1.0,
        eps: float = 1e-8,
        reduction: LossReduction | str = LossReduction.MEAN,
        target_strategy: str | Callable[[torch.Tensor], torch.Tensor] = "sharpen",
    ) -> None:
        super().__init__(reduction=LossReduction(reduction).value)
        if isinstance(target_strategy, str):
            if target_strategy not in TARGET_STRATEGIES:
                raise ValueError(f"target_strategy must be one of {TARGET_STRATEGIES} or a callable, "
                                 f"got {target_strategy!r}.")
            if target_strategy == "partial_ot":
                target_strategy = PartialOTTarget()
        elif not callable(target_strategy):
            raise TypeError(f"target_strategy must be one of {TARGET_STRATEGIES} or a callable q -> P, "
                            f"got {type(target_strategy).__name__}.")
        self.beta, self.eps, self.target_strategy = beta, eps, target_strategy

    def target(self, q: torch.Tensor) -> torch.Tensor:
        """The target ``P`` of ``q`` ``(N, K)`` by the ``target_strategy`` (not detached)."""
        q = q.to(torch.promote_types(q.dtype, torch.float32))
        if self.target_strategy != "sharpen":
            return self.target_strategy(q)
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
        mass = p.sum(dim=1, keepdim=True).clamp_min(self.eps)
        kl = (p * ((p / mass).clamp_min(self.eps).log() - q.clamp_min(self.eps).log())).sum(dim=1)
        return {"mean": kl.mean(), "sum": kl.sum(), "none": kl}[self.reduction]
