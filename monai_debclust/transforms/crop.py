"""Random resized crop: the scale-and-aspect crop of SimCLR, for 2-D and 3-D channel-first images."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.transforms import Randomizable, Transform

__all__ = ["RandResizedCrop"]


class RandResizedCrop(Randomizable, Transform):
    """Crop a random box of random area and aspect ratio, then resize it (Szegedy et al., 2015; SimCLR).

    In 2-D the box covers a fraction ``s ~ U(scale)`` of the image area and has the aspect ratio
    ``w / h = r`` with ``log r ~ U(log ratio)``: ``w = sqrt(s H W r)``, ``h = sqrt(s H W / r)``.
    Up to ``max_attempts`` boxes are drawn until one fits; otherwise the whole image is used.
    The box is resized to ``spatial_size`` with bilinear interpolation (antialiased when it shrinks).

    In 3-D ``(C, D, H, W)`` the box covers a fraction ``s`` of the volume: each leading spatial
    axis (depth) keeps ``s**(1/3)`` of its length, the ``(H, W)`` plane covers ``s**(2/3)`` of its area
    with the aspect ratio ``r`` as in 2-D, and the box is resized with trilinear interpolation.

    Args:
        spatial_size: output spatial size; ``None`` keeps the input's spatial size.
        scale: range of the fraction of the image area (volume) the box covers, within ``(0, 1]``.
        ratio: range of the box's aspect ratio ``w / h``.
        max_attempts: boxes drawn before falling back to the whole image.
    """

    def __init__(
        self,
        spatial_size: Sequence[int] | int | None = None,
        scale: Sequence[float] = (0.08, 1.0),
        ratio: Sequence[float] = (3 / 4, 4 / 3),
        max_attempts: int = 10,
    ) -> None:
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f"scale must satisfy 0 < min <= max <= 1, got {tuple(scale)}.")
        if not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"ratio must satisfy 0 < min <= max, got {tuple(ratio)}.")
        self.spatial_size = spatial_size
        self.scale = (float(scale[0]), float(scale[1]))
        self.log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        self.max_attempts = max_attempts
        self._box: tuple[slice, ...] = ()

    def randomize(self, data: Sequence[int]) -> None:
        """Draw the crop box for an image of spatial shape ``data`` (2 or 3 lengths)."""
        shape = tuple(int(length) for length in data)
        dims = len(shape)
        height, width = shape[-2:]
        for _ in range(self.max_attempts):
            fraction = self.R.uniform(*self.scale)
            aspect = math.exp(self.R.uniform(*self.log_ratio))
            plane_area = height * width * fraction ** (2 / dims)
            sizes = [round(length * fraction ** (1 / dims)) for length in shape[:-2]]
            sizes += [round(math.sqrt(plane_area / aspect)), round(math.sqrt(plane_area * aspect))]
            if all(0 < size <= length for size, length in zip(sizes, shape)):
                starts = [self.R.randint(0, length - size + 1) for size, length in zip(sizes, shape)]
                self._box = tuple(slice(start, start + size) for start, size in zip(starts, sizes))
                return
        self._box = tuple(slice(0, length) for length in shape)

    def __call__(self, img: torch.Tensor, randomize: bool = True) -> torch.Tensor:
        """Crop and resize a floating-point ``(C, H, W)`` or ``(C, D, H, W)`` tensor."""
        spatial = tuple(img.shape[1:])
        if len(spatial) not in (2, 3):
            raise ValueError(f"expected a (C, H, W) or (C, D, H, W) image, got shape {tuple(img.shape)}.")
        if randomize:
            self.randomize(spatial)
        if self.spatial_size is None:
            size = spatial
        elif isinstance(self.spatial_size, int):
            size = (self.spatial_size,) * len(spatial)
        else:
            size = tuple(self.spatial_size)
        crop = img[(slice(None),) + self._box]
        shrinks = any(c > s for c, s in zip(crop.shape[1:], size))
        mode = "bilinear" if len(spatial) == 2 else "trilinear"
        return F.interpolate(
            crop[None], size=size, mode=mode, align_corners=False, antialias=shrinks and len(spatial) == 2
        )[0]
