"""The modified ConvMixer encoder of the joint debiased-representation / clustering method."""

from __future__ import annotations

import torch
from monai.networks.layers.factories import Conv, Norm
from torch import nn

from monai_debclust.networks.pooling import global_average_pooling, pooled_features

__all__ = ["ConvMixerBlock", "ConvMixerEncoder"]


def _mixing_layer(conv: nn.Module, dim: int, spatial_dims: int, dropout: float) -> nn.Sequential:
    """``Drop(BN(GELU(conv(x))))``, the branch of both residuals of a ConvMixer block."""
    return nn.Sequential(conv, nn.GELU(), Norm[Norm.BATCH, spatial_dims](dim), nn.Dropout(dropout))


class ConvMixerBlock(nn.Module):
    """One block of the modified ConvMixer: spatial mixing, then channel mixing, each residual.

    ``y = x + Drop(BN(GELU(DepthwiseConv_k(x))))``    (the residual of the original ConvMixer)

    ``z = y + Drop(BN(GELU(PointwiseConv_1x1(y))))``  (the added residual)

    The original ConvMixer (Trockman & Kolter, 2022, "Patches Are All You Need?") has the first
    residual only; the modification adds the second (Zheng et al., 2022,
    arXiv:2209.06941).

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        dim: number of channels, kept throughout.
        kernel_size: size of the depthwise kernel; the padding keeps the spatial size ("same").
        dropout: element-wise dropout probability after each normalisation.
    """

    def __init__(self, spatial_dims: int, dim: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        conv = Conv[Conv.CONV, spatial_dims]
        depthwise = conv(dim, dim, kernel_size=kernel_size, groups=dim, padding="same")
        self.spatial = _mixing_layer(depthwise, dim, spatial_dims, dropout)
        self.channel = _mixing_layer(conv(dim, dim, kernel_size=1), dim, spatial_dims, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x + self.spatial(x)
        return y + self.channel(y)


class ConvMixerEncoder(nn.Module):
    """Modified ConvMixer encoder ``f``: image ``(B, C_in, *S)`` to feature ``h`` ``(B, out_channels)``.

    Patch embedding ``Conv(in -> dim, kernel p, stride p) -> GELU -> BN``, then ``depth``
    :class:`ConvMixerBlock` s, then ``pooling`` (global average by default, so ``h`` has ``dim``
    values). Paper defaults: dim 256, depth 8, kernel 7, patch 2, dropout 0.04 (Zheng et al.,
    2022, after Trockman & Kolter, 2022).

    The dropout ("Drop") is element-wise (``nn.Dropout``), not channel-wise.

    Args:
        spatial_dims: 2 for images ``(B, C, H, W)``, 3 for volumes ``(B, C, D, H, W)``.
        in_channels: number of input channels.
        dim: number of channels after the patch embedding, kept by every block.
        depth: number of blocks.
        kernel_size: depthwise kernel size of the blocks.
        patch_size: kernel size and stride of the patch embedding.
        dropout: dropout probability inside the blocks.
        pooling: module mapping the final map ``(B, dim, *S')`` to ``(B, F)``; ``None`` is global
            average pooling. :class:`~monai_debclust.networks.StatisticsPooling` is a drop-in;
            ``out_channels`` follows its ``out_features(dim)``.
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 3,
        dim: int = 256,
        depth: int = 8,
        kernel_size: int = 7,
        patch_size: int = 2,
        dropout: float = 0.04,
        pooling: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}.")
        for name, value in {"in_channels": in_channels, "dim": dim, "kernel_size": kernel_size,
                            "patch_size": patch_size}.items():
            if value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}.")
        if depth < 0:
            raise ValueError(f"depth must be non-negative, got {depth}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
        self.patch_embedding = nn.Sequential(
            Conv[Conv.CONV, spatial_dims](in_channels, dim, kernel_size=patch_size, stride=patch_size),
            nn.GELU(),
            Norm[Norm.BATCH, spatial_dims](dim),
        )
        self.blocks = nn.Sequential(*(ConvMixerBlock(spatial_dims, dim, kernel_size, dropout) for _ in range(depth)))
        self.pooling = global_average_pooling(spatial_dims) if pooling is None else pooling
        self.out_channels = pooled_features(self.pooling, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pooling(self.blocks(self.patch_embedding(x)))
