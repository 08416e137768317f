"""Random symmetries of the pixel grid: flips along chosen axes and quarter turns, for batches."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from monai_debclust.transforms.batch import Params, RandBatchTransform, apply_to_chosen

__all__ = ["RandFlipRotate90"]


class RandFlipRotate90(RandBatchTransform):
    """Flip each of ``flip_axes`` with ``flip_prob``, then turn the ``(H, W)`` plane by 90, 180 or 270 degrees.

    The turn happens with probability ``rotate90_prob``, its angle drawn uniformly from the three;
    ``rotate90_prob = 0.75`` makes all four orientations equally likely, and together with a
    left-right flip (``flip_prob = 0.5``) all eight symmetries of the square.

    Spatial axes count as in MONAI: ``0`` is the first spatial axis, ``-1`` the last (the
    left-right axis ``W``), ``-2`` the up-down axis ``H``. MONAI's ``RandFlip`` and ``RandRotate90``
    draw the same flips and turns, but wrap every output in a ``MetaTensor`` carrying an inverse
    trace; on a ``3 x 128 x 128`` image that bookkeeping takes a third or more of the whole view
    chain (:class:`~monai_debclust.transforms.RandView`), and views are never inverted.

    Parameters: ``flips`` ``(B, len(flip_axes))`` bool and ``turns`` ``(B,)`` quarter turns, 0 to 3.

    Args:
        flip_axes: spatial axes that may be flipped, each independently.
        flip_prob: probability of each flip.
        rotate90_prob: probability of a quarter turn; a turn needs ``H == W`` to keep the shape.
    """

    def __init__(self, flip_axes: Sequence[int] = (-1,), flip_prob: float = 0.5, rotate90_prob: float = 0.0) -> None:
        for name, prob in (("flip_prob", flip_prob), ("rotate90_prob", rotate90_prob)):
            if not 0 <= prob <= 1:
                raise ValueError(f"{name} must be within [0, 1], got {prob}.")
        self.flip_axes = tuple(int(axis) for axis in flip_axes)
        self.flip_prob, self.rotate90_prob = flip_prob, rotate90_prob

    def check(self, images: torch.Tensor) -> None:
        spatial = images.ndim - 2
        if any(not -spatial <= axis < spatial for axis in self.flip_axes):
            raise ValueError(
                f"flip_axes {self.flip_axes} do not all exist in an image of shape {tuple(images.shape[1:])}."
            )

    def draw(self, images: torch.Tensor, generator: torch.Generator | None = None) -> Params:
        """Flips and quarter turns for a batch."""
        batch = images.shape[0]
        flips = torch.rand(batch, len(self.flip_axes), generator=generator) < self.flip_prob
        turn = torch.rand(batch, generator=generator) < self.rotate90_prob
        turns = torch.randint(1, 4, (batch,), generator=generator)
        return {"flips": flips, "turns": torch.where(turn, turns, 0)}

    def randomize(self, data: object = None) -> None:
        """Draw which axes flip and how many quarter turns (0 to 3) follow, from ``self.R``."""
        flips = [self.R.rand() < self.flip_prob for _ in self.flip_axes]
        turns = int(self.R.randint(1, 4)) if self.R.rand() < self.rotate90_prob else 0
        self.params = {"flips": torch.tensor([flips], dtype=torch.bool).view(1, -1), "turns": torch.tensor([turns])}

    def apply(self, images: torch.Tensor, params: Params) -> torch.Tensor:
        """Flip and turn a batch ``(B, C, H, W)`` or ``(B, C, D, H, W)``; each sample as its parameters say."""
        out = images
        for column, axis in enumerate(self.flip_axes):
            dim = axis + 2 if axis >= 0 else axis
            out = apply_to_chosen(out, params["flips"][:, column], lambda x, _, dim=dim: x.flip(dim))
        for quarter_turns in (1, 2, 3):
            out = apply_to_chosen(
                out, params["turns"] == quarter_turns, lambda x, _, k=quarter_turns: torch.rot90(x, k, dims=(-2, -1))
            )
        return out
