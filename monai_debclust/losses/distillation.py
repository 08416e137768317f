"""Feature-level distillation: a student's features of augmented views pulled towards a teacher's."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FeatureDistillationLoss"]


class FeatureDistillationLoss(nn.Module):
    """``L = mean_i mean_v (2 - 2 cos(h_i^(v), t_i))``: the squared distance of unit vectors between the
    student's feature ``h`` of each view ``v`` of image ``i`` and the teacher's feature ``t_i``.

    The distillation step of offline clustering with experts (Chang & Chang): ``t_i`` is the
    feature of image ``i`` by the expert that owns it (its k-means group), computed once on the
    un-augmented image; the student sees augmented views, so it learns the experts' features and
    the invariances of self-supervision at once. It returns the trainer's loss parts
    (``contrastive`` holds the distillation term, ``clustering`` is zero) so that
    :class:`~monai_debclust.engines.DebClustTrainer` runs it unchanged, with the teachers'
    features as its per-sample ``target`` rows.

    Args:
        eps: floor of the L2 norm.
    """

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(
        self, z1: torch.Tensor, z2: torch.Tensor, q: torch.Tensor | None = None, target: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Args:
            z1, z2: ``(N, D)`` student features of the two views.
            q: ignored (the trainer passes the student's assignments).
            target: ``(N, D)`` teacher features of the same images.

        Raises:
            ValueError: when ``target`` is missing or its shape differs from the views'.
        """
        if target is None or target.shape != z1.shape or z2.shape != z1.shape:
            raise ValueError(
                f"the views and the teacher target must be (batch, features) of one shape, got {tuple(z1.shape)}, "
                f"{tuple(z2.shape)} and {None if target is None else tuple(target.shape)}."
            )
        teacher = F.normalize(target.detach().float(), dim=1, eps=self.eps)
        distance = sum(2 - 2 * (F.normalize(z.float(), dim=1, eps=self.eps) * teacher).sum(dim=1) for z in (z1, z2))
        loss = (distance / 2).mean()
        return {"loss": loss, "contrastive": loss, "clustering": loss.new_zeros(())}
