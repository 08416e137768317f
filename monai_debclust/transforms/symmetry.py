"""Random symmetries of the pixel grid: flips along chosen axes and quarter turns."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.transforms import Randomizable, Transform

__all__ = ["RandFlipRotate90"]


class RandFlipRotate90(Randomizable, Transform):
    """Flip each of ``flip_axes`` with ``flip_prob``, then turn the ``(H, W)`` plane by 90, 180 or 270 degrees.

    The turn happens with probability ``rotate90_prob``, its angle drawn uniformly from the three;
    ``rotate90_prob = 0.75`` makes all four orientations equally likely, and together with a
    left-right flip (``flip_prob = 0.5``) all eight symmetries of the square.

    Spatial axes count as in MONAI: ``0`` is the first spatial axis, ``-1`` the last (the
    left-right axis ``W``), ``-2`` the up-down axis ``H``. MONAI's ``RandFlip`` and ``RandRotate90``
    draw the same flips and turns, but wrap every output in a ``MetaTensor`` carrying an inverse
    trace; on a ``3 x 128 x 128`` image that bookkeeping takes a third or more of the whole view
    chain (:class:`~monai_debclust.transforms.RandView`), and views are never inverted.

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
        self._flips: tuple[int, ...] = ()
        self._quarter_turns = 0

    def randomize(self, data: object = None) -> None:
        """Draw which axes flip and how many quarter turns (0 to 3) follow."""
        self._flips = tuple(axis for axis in self.flip_axes if self.R.rand() < self.flip_prob)
        self._quarter_turns = int(self.R.randint(1, 4)) if self.R.rand() < self.rotate90_prob else 0

    def __call__(self, img: torch.Tensor, randomize: bool = True) -> torch.Tensor:
        """Flip and turn a channel-first tensor ``(C, H, W)`` or ``(C, D, H, W)``."""
        if randomize:
            self.randomize()
        spatial = img.ndim - 1
        if any(not -spatial <= axis < spatial for axis in self.flip_axes):
            raise ValueError(f"flip_axes {self.flip_axes} do not all exist in an image of shape {tuple(img.shape)}.")
        if self._flips:
            img = torch.flip(img, [axis + 1 if axis >= 0 else axis for axis in self._flips])
        if self._quarter_turns:
            img = torch.rot90(img, self._quarter_turns, dims=(-2, -1))
        return img
