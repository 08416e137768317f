"""A small CoAtNet-style hybrid encoder: convolutional stages, then a self-attention stage."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.layers.factories import Conv, Norm
from torch import nn

from monai_debclust.networks.pooling import global_average_pooling, pooled_features

__all__ = ["MBConvBlock", "TransformerBlock", "CoAtNetEncoder"]


class MBConvBlock(nn.Module):
    """Pre-norm inverted-bottleneck block (MBConv, without squeeze-excitation), residual.

    ``y = x + Drop(Conv_1x1(GELU(BN(DWConv_3(GELU(BN(Conv_1x1(BN(x)))))))))``, expanding the
    channels by ``expansion`` inside (Sandler et al., 2018; the pre-norm form of CoAtNet).

    Args:
        spatial_dims: number of spatial dimensions (2 or 3).
        channels: number of input and output channels.
        expansion: channel expansion of the hidden layer.
        dropout: dropout probability on the residual branch.
    """

    def __init__(self, spatial_dims: int, channels: int, expansion: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        conv, norm = Conv[Conv.CONV, spatial_dims], Norm[Norm.BATCH, spatial_dims]
        hidden = channels * expansion
        self.branch = nn.Sequential(
            norm(channels),
            conv(channels, hidden, kernel_size=1, bias=False),
            norm(hidden),
            nn.GELU(),
            conv(hidden, hidden, kernel_size=3, padding=1, groups=hidden, bias=False),
            norm(hidden),
            nn.GELU(),
            conv(hidden, channels, kernel_size=1),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.branch(x)


class TransformerBlock(nn.Module):
    """Pre-norm transformer block on tokens ``(B, N, C)`` (Vaswani et al., 2017).

    ``y = x + MHSA(LN(x))``,  ``z = y + MLP(LN(y))`` with ``MLP = Linear(C, 4C) -> GELU -> Linear(4C, C)``.

    Args:
        channels: token length ``C``, divisible by ``heads``.
        heads: number of attention heads.
        dropout: dropout probability in the attention and the MLP.
    """

    def __init__(self, channels: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(channels)
        self.attention = nn.MultiheadAttention(channels, heads, dropout=dropout, batch_first=True)
        self.mlp = nn.Sequential(
            nn.LayerNorm(channels),
            nn.Linear(channels, 4 * channels),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(4 * channels, channels),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.attention_norm(x)
        x = x + self.attention(y, y, y, need_weights=False)[0]
        return x + self.mlp(x)


class CoAtNetEncoder(nn.Module):
    """Small CoAtNet-style hybrid encoder, 2-D or 3-D (after Dai et al., 2021, "CoAtNet: Marrying
    Convolution and Attention for All Data Sizes").

    Stage ``i`` halves the spatial size with a ``Conv(k3, stride 2) -> BN`` to ``dims[i]`` channels,
    then runs ``depths[i]`` blocks: :class:`MBConvBlock` s in every stage but the last, and
    :class:`TransformerBlock` s (multi-head self-attention over all flattened positions) in the
    last. The final map is layer-normalised and pooled (global average by default) into
    ``h`` of ``out_channels`` values.

    Where it departs from CoAtNet, to stay small and work for any input size in 2-D and 3-D: the
    relative-position bias of the attention is replaced by a convolutional position encoding,
    ``x + DWConv_3(x)`` before the tokens are flattened (Chu et al., 2021, "Conditional
    Positional Encodings for Vision Transformers"); the MBConv blocks have no squeeze-excitation.

    Args:
        spatial_dims: 2 for images, 3 for volumes.
        in_channels: number of input channels.
        dims: channels of each stage; at least two stages (convolution, then attention).
        depths: number of blocks of each stage, as many as ``dims``.
        heads: attention heads of the last stage; ``dims[-1]`` must be divisible by it.
        dropout: dropout probability in the blocks.
        pooling: module mapping the final map ``(B, dims[-1], *S')`` to ``(B, F)``; ``None`` is
            global average pooling (see :class:`~monai_debclust.networks.ConvMixerEncoder`).
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 3,
        dims: Sequence[int] = (32, 64, 128),
        depths: Sequence[int] = (1, 1, 1),
        heads: int = 4,
        dropout: float = 0.0,
        pooling: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}.")
        if len(dims) < 2 or len(dims) != len(depths):
            raise ValueError(f"dims and depths must have the same length, at least 2, got {dims} and {depths}.")
        if dims[-1] % heads != 0:
            raise ValueError(f"dims[-1]={dims[-1]} must be divisible by heads={heads}.")
        conv, norm = Conv[Conv.CONV, spatial_dims], Norm[Norm.BATCH, spatial_dims]
        channels = [in_channels, *dims]
        self.conv_stages = nn.Sequential(
            *(
                nn.Sequential(
                    conv(channels[i], channels[i + 1], kernel_size=3, stride=2, padding=1, bias=False),
                    norm(channels[i + 1]),
                    *(MBConvBlock(spatial_dims, channels[i + 1], dropout=dropout) for _ in range(depths[i])),
                )
                for i in range(len(dims) - 1)
            )
        )
        self.downsample = nn.Sequential(
            conv(dims[-2], dims[-1], kernel_size=3, stride=2, padding=1, bias=False), norm(dims[-1])
        )
        self.position = conv(dims[-1], dims[-1], kernel_size=3, padding=1, groups=dims[-1])
        self.transformer = nn.Sequential(*(TransformerBlock(dims[-1], heads, dropout) for _ in range(depths[-1])))
        self.norm = nn.LayerNorm(dims[-1])
        self.pooling = global_average_pooling(spatial_dims) if pooling is None else pooling
        self.out_channels = pooled_features(self.pooling, dims[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(self.conv_stages(x))
        x = x + self.position(x)
        tokens = self.norm(self.transformer(x.flatten(2).transpose(1, 2)))
        return self.pooling(tokens.transpose(1, 2).reshape(x.shape))
