"""Gaussian blur of a batch with a per-sample random sigma and a kernel sized to the image (SimCLR)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from monai_debclust.transforms.batch import Params, RandBatchTransform, apply_to_chosen, per_sample

__all__ = ["gaussian_blur", "blur_kernel_size", "RandGaussianBlur"]


def blur_kernel_size(spatial_shape: Sequence[int], fraction: float = 0.1) -> int:
    """Odd kernel length of about ``fraction`` of the smallest spatial length, at least 3."""
    length = max(3, round(fraction * min(spatial_shape)))
    return length if length % 2 else length + 1


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor | float, kernel_size: int) -> torch.Tensor:
    """Blur a batch ``(B, C, *spatial)`` with separable Gaussians of per-sample ``sigma``, reflecting at the borders.

    Each axis is filtered as a weighted sum of ``kernel_size`` shifted slices of the padded batch,
    each slice weighted per sample: a depthwise convolution whose kernel differs between samples,
    which on the CPU runs several times faster than ``conv2d`` for kernels of this size.

    Args:
        images: floating-point batch with 1, 2 or 3 spatial axes.
        sigma: standard deviation in pixels, the same along every axis: one number, or ``(B,)``.
        kernel_size: odd kernel length, shorter than twice every spatial length.
    """
    radius = kernel_size // 2
    if kernel_size % 2 == 0 or images.ndim not in (3, 4, 5) or radius >= min(images.shape[2:]):
        raise ValueError(
            f"need an odd kernel_size shorter than twice each spatial length of a (B, C, *spatial) batch "
            f"with 1 to 3 spatial axes; got kernel_size={kernel_size} for shape {tuple(images.shape)}."
        )
    sigma = torch.as_tensor(sigma, dtype=torch.float64).expand(images.shape[0])
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    taps = torch.exp(-(offsets**2) / (2 * sigma[:, None] ** 2))
    taps = taps / taps.sum(dim=1, keepdim=True)
    weights = [per_sample(taps[:, shift], images) for shift in range(kernel_size)]
    out = F.pad(images, [radius] * (2 * (images.ndim - 2)), mode="reflect")
    for dim in range(2, images.ndim):
        length = out.shape[dim] - 2 * radius
        blurred = out.narrow(dim, 0, length) * weights[0]
        for shift in range(1, kernel_size):
            blurred.addcmul_(out.narrow(dim, shift, length), weights[shift])
        out = blurred
    return out


class RandGaussianBlur(RandBatchTransform):
    """With probability ``prob``, blur with ``sigma ~ U(sigma_range)`` and a kernel of ``kernel_fraction`` of the size.

    The SimCLR blur (Chen et al., 2020): one sigma for all axes, kernel length about 10 % of the
    image side (made odd, at least 3), reflected borders. MONAI's ``RandGaussianSmooth`` draws a
    sigma per axis, sizes its kernel from sigma and pads with zeros, which darkens the borders.

    Parameters: ``apply`` ``(B,)`` bool and ``sigma`` ``(B,)``.

    Args:
        prob: probability of blurring an image.
        sigma_range: range of the standard deviation in pixels.
        kernel_fraction: kernel length as a fraction of the smallest spatial length.
    """

    def __init__(
        self, prob: float = 0.5, sigma_range: Sequence[float] = (0.1, 2.0), kernel_fraction: float = 0.1
    ) -> None:
        if not 0 < sigma_range[0] <= sigma_range[1]:
            raise ValueError(f"sigma_range must satisfy 0 < min <= max, got {tuple(sigma_range)}.")
        self.prob = prob
        self.sigma_range = (float(sigma_range[0]), float(sigma_range[1]))
        self.kernel_fraction = kernel_fraction

    def draw(self, images: torch.Tensor, generator: torch.Generator | None = None) -> Params:
        """Which samples of a batch are blurred, and their sigmas."""
        batch, (low, high) = images.shape[0], self.sigma_range
        chosen = torch.rand(batch, generator=generator) < self.prob
        sigma = low + (high - low) * torch.rand(batch, generator=generator, dtype=torch.float64)
        return {"apply": chosen, "sigma": sigma}

    def randomize(self, data: object = None) -> None:
        """Decide whether to blur and draw sigma, from ``self.R``."""
        chosen = self.R.rand() < self.prob
        sigma = float(self.R.uniform(*self.sigma_range)) if chosen else self.sigma_range[0]
        self.params = {"apply": torch.tensor([chosen]), "sigma": torch.tensor([sigma], dtype=torch.float64)}

    def apply(self, images: torch.Tensor, params: Params) -> torch.Tensor:
        """Blur the chosen samples of a batch ``(B, C, H, W)`` or ``(B, C, D, H, W)``."""
        kernel_size = blur_kernel_size(images.shape[2:], self.kernel_fraction)
        return apply_to_chosen(
            images, params["apply"], lambda x, rows: gaussian_blur(x, params["sigma"][rows], kernel_size)
        )
