"""The SimSiam objective: symmetric negative cosine with a stop-gradient."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.utils import LossReduction
from torch.nn.modules.loss import _Loss

__all__ = ["SimSiamLoss"]


class SimSiamLoss(_Loss):
    """Symmetric negative cosine similarity of SimSiam (Chen & He, CVPR 2021).

    ``L = D(p1, sg(z2)) / 2 + D(p2, sg(z1)) / 2`` with ``D(p, z) = -cos(p, z)`` and ``sg`` the
    stop-gradient: the projections ``z`` are targets and receive no gradient from this loss.
    Values lie in ``[-1, 1]``. Inputs in float16/bfloat16 are computed and returned in float32.

    Args:
        eps: floor of the L2 norm, so that a zero vector gives a zero cosine.
        reduction: ``"mean"`` (over the N images), ``"sum"`` or ``"none"`` (``(N,)`` per image).
    """

    def __init__(self, eps: float = 1e-8, reduction: LossReduction | str = LossReduction.MEAN) -> None:
        super().__init__(reduction=LossReduction(reduction).value)
        self.eps = eps

    def _negative_cosine(self, p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        dtype = torch.promote_types(torch.promote_types(p.dtype, z.dtype), torch.float32)
        p, z = (F.normalize(t.to(dtype), dim=1, eps=self.eps) for t in (p, z.detach()))
        return -(p * z).sum(dim=1)

    def forward(self, p1: torch.Tensor, p2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """Args:
            p1, p2: ``(N, D)`` predictor outputs of the two views.
            z1, z2: ``(N, D)`` projections of the two views (detached inside).

        Raises:
            ValueError: when the four inputs are not ``(N, D)`` tensors of one shape.
        """
        shapes = [tuple(t.shape) for t in (p1, p2, z1, z2)]
        if len(shapes[0]) != 2 or len(set(shapes)) != 1:
            raise ValueError(f"p1, p2, z1, z2 must be (batch, features) of one shape, got {shapes}.")
        per_image = (self._negative_cosine(p1, z2) + self._negative_cosine(p2, z1)) / 2
        return {"mean": per_image.mean(), "sum": per_image.sum(), "none": per_image}[self.reduction]
