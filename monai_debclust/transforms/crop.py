"""Random resized crop: the scale-and-aspect crop of SimCLR, for batches of 2-D and 3-D images."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from monai_debclust.transforms.batch import Params, RandBatchTransform

__all__ = ["RandResizedCrop", "resized_crop"]


def _resize_axis(images: torch.Tensor, dim: int, starts: torch.Tensor, sizes: torch.Tensor, length: int) -> torch.Tensor:
    """Linear resampling of the boxes ``[start, start + size)`` along ``dim`` to ``length`` samples each.

    Sample ``j`` reads the box at ``src = size / length * (j + 0.5) - 0.5`` clipped to
    ``[0, size - 1]``, as ``F.interpolate(..., align_corners=False)`` does for the cropped box.
    When the boxes may shrink (the axis is longer than ``length``), each output sample is the mean
    of ``ceil(axis / length)`` evenly spaced samples of its footprint (box-filter antialiasing).
    The two neighbours of every sample are whole rows of the batch picked by ``index_select``.
    """
    batch, dtype, device = images.shape[0], images.dtype, images.device
    axis_length = images.shape[dim]
    samples = length * max(1, math.ceil(axis_length / length))
    offsets = (torch.arange(samples, device=device, dtype=dtype) + 0.5) * (length / samples)
    size = sizes.to(device=device, dtype=dtype, non_blocking=True)[:, None]
    src = (size / length * offsets - 0.5).clamp_min(0)
    low = src.floor().clamp_max(size - 1)
    weight = src - low
    base = starts.to(device=device, non_blocking=True)[:, None]
    low_index = low.long()
    high_index = base + torch.minimum(low_index + 1, size.long() - 1)
    moved = images.movedim(dim, -2).contiguous()  # (B, ..., axis, rest): the axis indexes whole rows
    lead = moved.shape[:-2]
    rows = moved.reshape(-1, moved.shape[-1])
    first_row = torch.arange(math.prod(lead), device=device).view(batch, -1, 1) * axis_length
    picked = [
        rows.index_select(0, (first_row + index.view(batch, 1, samples)).flatten()).view(*lead, samples, -1)
        for index in (base + low_index, high_index)
    ]
    weight = weight.view(batch, *([1] * (len(lead) - 1)), samples, 1)
    out = picked[0] * (1 - weight) + picked[1] * weight
    if samples > length:
        out = out.unflatten(-2, (length, samples // length)).mean(-2)
    return out.movedim(-2, dim)


def resized_crop(
    images: torch.Tensor, starts: torch.Tensor, sizes: torch.Tensor, spatial_size: Sequence[int]
) -> torch.Tensor:
    """Crop box ``b`` of every sample of ``images`` ``(B, C, *spatial)`` and resize it to ``spatial_size``.

    Linear along every axis (bilinear in 2-D, trilinear in 3-D), separably, with the sampling
    positions of ``F.interpolate(align_corners=False)``; a box larger than the output is averaged
    over its footprint instead of point-sampled, so shrinking does not alias. Each axis picks the two
    neighbours of every output row with ``index_select`` (whole contiguous rows) and blends them.

    Args:
        images: floating-point batch with 2 or 3 spatial axes.
        starts: ``(B, dims)`` integer first index of each box along each spatial axis.
        sizes: ``(B, dims)`` integer length of each box, ``>= 1``, within the image.
        spatial_size: the output's spatial shape.
    """
    out = images
    for axis in reversed(range(images.ndim - 2)):
        out = _resize_axis(out, axis + 2, starts[:, axis], sizes[:, axis], int(spatial_size[axis]))
    return out


class RandResizedCrop(RandBatchTransform):
    """Crop a random box of random area and aspect ratio, then resize it (Szegedy et al., 2015; SimCLR).

    In 2-D the box covers a fraction ``s ~ U(scale)`` of the image area and has the aspect ratio
    ``w / h = r`` with ``log r ~ U(log ratio)``: ``w = sqrt(s H W r)``, ``h = sqrt(s H W / r)``.
    Up to ``max_attempts`` boxes are drawn until one fits; otherwise the whole image is used.
    The box is resized to ``spatial_size`` by :func:`resized_crop`.

    In 3-D ``(C, D, H, W)`` the box covers a fraction ``s`` of the volume: each leading spatial
    axis (depth) keeps ``s**(1/3)`` of its length, the ``(H, W)`` plane covers ``s**(2/3)`` of its area
    with the aspect ratio ``r`` as in 2-D.

    Parameters: ``starts`` and ``sizes``, ``(B, dims)`` integer boxes.

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

    def check(self, images: torch.Tensor) -> None:
        if images.ndim - 2 not in (2, 3):
            raise ValueError(f"expected a (C, H, W) or (C, D, H, W) image, got shape {tuple(images.shape[1:])}.")

    def box_sizes(self, fraction: torch.Tensor, aspect: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
        """Integer box lengths ``(..., dims)`` for area (volume) fractions and aspect ratios ``(...)``."""
        dims = len(shape)
        plane_area = shape[-2] * shape[-1] * fraction ** (2 / dims)
        lengths = [length * fraction ** (1 / dims) for length in shape[:-2]]
        lengths += [(plane_area / aspect).sqrt(), (plane_area * aspect).sqrt()]
        return torch.stack(lengths, dim=-1).round().long()

    def draw(self, images: torch.Tensor, generator: torch.Generator | None = None) -> Params:
        """Boxes for a batch: ``max_attempts`` candidates per sample, the first that fits, else the whole image."""
        batch, shape = images.shape[0], tuple(images.shape[2:])
        low, high = self.scale
        fraction = low + (high - low) * torch.rand(batch, self.max_attempts, generator=generator, dtype=torch.float64)
        log_low, log_high = self.log_ratio
        log_aspect = torch.rand(batch, self.max_attempts, generator=generator, dtype=torch.float64)
        sizes = self.box_sizes(fraction, (log_low + (log_high - log_low) * log_aspect).exp(), shape)
        lengths = torch.tensor(shape)
        fits = ((sizes > 0) & (sizes <= lengths)).all(-1)
        first = fits.int().argmax(dim=1)
        sizes = torch.where(fits.any(dim=1, keepdim=True), sizes[torch.arange(batch), first], lengths)
        room = (lengths - sizes + 1).double()
        starts = (torch.rand(batch, len(shape), generator=generator, dtype=torch.float64) * room).floor().long()
        return {"starts": starts, "sizes": sizes}

    def randomize(self, data: torch.Tensor) -> None:
        """Draw the box for one image ``data`` ``(C, *spatial)`` from ``self.R``."""
        shape = tuple(int(length) for length in data.shape[1:])
        for _ in range(self.max_attempts):
            fraction = torch.tensor(self.R.uniform(*self.scale), dtype=torch.float64)
            aspect = torch.tensor(math.exp(self.R.uniform(*self.log_ratio)), dtype=torch.float64)
            sizes = self.box_sizes(fraction, aspect, shape)
            if all(0 < size <= length for size, length in zip(sizes.tolist(), shape)):
                starts = [self.R.randint(0, length - size + 1) for size, length in zip(sizes.tolist(), shape)]
                self.params = {"starts": torch.tensor([starts]), "sizes": sizes[None]}
                return
        self.params = {"starts": torch.zeros(1, len(shape), dtype=torch.long), "sizes": torch.tensor([shape])}

    def apply(self, images: torch.Tensor, params: Params) -> torch.Tensor:
        """Crop and resize a floating-point batch ``(B, C, H, W)`` or ``(B, C, D, H, W)``."""
        spatial = tuple(images.shape[2:])
        if self.spatial_size is None:
            size = spatial
        elif isinstance(self.spatial_size, int):
            size = (self.spatial_size,) * len(spatial)
        else:
            size = tuple(self.spatial_size)
        return resized_crop(images, params["starts"], params["sizes"], size)
