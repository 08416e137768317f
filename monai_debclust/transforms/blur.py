"""Gaussian blur with an isotropic random sigma and a kernel sized to the image (SimCLR)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.transforms import RandomizableTransform

__all__ = ["gaussian_blur", "blur_kernel_size", "RandGaussianBlur"]


def blur_kernel_size(spatial_shape: Sequence[int], fraction: float = 0.1) -> int:
    """Odd kernel length of about ``fraction`` of the smallest spatial length, at least 3."""
    length = max(3, round(fraction * min(spatial_shape)))
    return length if length % 2 else length + 1


def gaussian_blur(img: torch.Tensor, sigma: float, kernel_size: int) -> torch.Tensor:
    """Blur a channel-first image ``(C, *spatial)`` with a separable Gaussian, reflecting at the borders.

    Each axis is filtered as a weighted sum of ``kernel_size`` shifted slices of the padded image,
    which on CPU runs several times faster than a depthwise ``conv2d`` for kernels of this size.

    Args:
        img: floating-point tensor with 1, 2 or 3 spatial axes.
        sigma: standard deviation in pixels, the same along every axis.
        kernel_size: odd kernel length, shorter than twice every spatial length.
    """
    radius = kernel_size // 2
    if kernel_size % 2 == 0 or img.ndim not in (2, 3, 4) or radius >= min(img.shape[1:]):
        raise ValueError(
            f"need an odd kernel_size shorter than twice each spatial length of a (C, *spatial) image "
            f"with 1 to 3 spatial axes; "
            f"got kernel_size={kernel_size} for shape {tuple(img.shape)}."
        )
    weights = [math.exp(-(offset**2) / (2 * sigma**2)) for offset in range(-radius, radius + 1)]
    weights = [weight / sum(weights) for weight in weights]
    out = F.pad(img[None], [radius] * (2 * (img.ndim - 1)), mode="reflect")[0]
    for axis in range(1, img.ndim):
        length = out.shape[axis] - 2 * radius
        blurred = out.narrow(axis, 0, length) * weights[0]
        for shift in range(1, kernel_size):
            blurred.add_(out.narrow(axis, shift, length), alpha=weights[shift])
        out = blurred
    return out


class RandGaussianBlur(RandomizableTransform):
    """With probability ``prob``, blur with ``sigma ~ U(sigma_range)`` and a kernel of ``kernel_fraction`` of the size.

    The SimCLR blur (Chen et al., 2020): one sigma for all axes, kernel length about 10 % of the
    image side (made odd, at least 3), reflected borders. MONAI's ``RandGaussianSmooth`` draws a
    sigma per axis, sizes its kernel from sigma and pads with zeros, which darkens the borders.

    Args:
        prob: probability of blurring an image.
        sigma_range: range of the standard deviation in pixels.
        kernel_fraction: kernel length as a fraction of the smallest spatial length.
    """

    def __init__(
        self, prob: float = 0.5, sigma_range: Sequence[float] = (0.1, 2.0), kernel_fraction: float = 0.1
    ) -> None:
        super().__init__(prob)
        if not 0 < sigma_range[0] <= sigma_range[1]:
            raise ValueError(f"sigma_range must satisfy 0 < min <= max, got {tuple(sigma_range)}.")
        self.sigma_range = (float(sigma_range[0]), float(sigma_range[1]))
        self.kernel_fraction = kernel_fraction
        self._sigma = self.sigma_range[0]

    def randomize(self, data: object = None) -> None:
        """Decide whether to blur and draw sigma."""
        super().randomize(None)
        if self._do_transform:
            self._sigma = float(self.R.uniform(*self.sigma_range))

    def __call__(self, img: torch.Tensor, randomize: bool = True) -> torch.Tensor:
        """Blur a channel-first float image ``(C, H, W)`` or ``(C, D, H, W)``."""
        if randomize:
            self.randomize()
        if not self._do_transform:
            return img
        return gaussian_blur(img, self._sigma, blur_kernel_size(img.shape[1:], self.kernel_fraction))
