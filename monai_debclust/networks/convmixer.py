"""The modified ConvMixer encoder of the joint debiased-representation / clustering method."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.networks.layers.factories import Conv, Norm
from torch import nn

from monai_debclust.networks.pooling import global_average_pooling, pooled_features

__all__ = ["ConvMixerBlock", "ConvMixerEncoder", "IntegerMaskDropout"]

#: Resolution of :class:`IntegerMaskDropout`'s drop probability: a drop is a 32-bit draw below a threshold.
_MASK_LEVELS = 2**32


class IntegerMaskDropout(nn.Module):
    """Element-wise dropout (as ``nn.Dropout``) whose CPU masks cost a quarter of ``bernoulli_``'s.

    In training, each element is zeroed with probability ``p`` and the others are scaled by
    ``1 / (1 - p)``. On the CPU the mask comes from 32-bit halves of 64-bit draws of torch's
    generator (``torch.randint``: seeded by ``torch.manual_seed``, as ``nn.Dropout``), an element
    being dropped when its draw is among the lowest ``round(p * 2**32)`` values; PyTorch's own
    dropout draws one Bernoulli variable per element, which at the paper's ConvMixer 256/8 took a
    fifth of a CPU training step. On other devices it is ``F.dropout``. The masks differ from
    ``nn.Dropout``'s for the same seed; their distribution is the same (``p`` rounded to a
    multiple of ``2**-32``). Parameter-free: state dicts are those of ``nn.Dropout``. A
    TorchScript copy (for export) uses ``F.dropout`` everywhere.

    Args:
        p: probability of an element to be zeroed, in ``[0, 1)``.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p must be in [0, 1), got {p}.")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu" or torch.jit.is_scripting():
            return F.dropout(x, self.p, training=True)
        return self._drop_by_integer_mask(x)

    @torch.jit.unused
    def _drop_by_integer_mask(self, x):  # unannotated: TorchScript cannot read the postponed annotations of unused methods
        dropped = round(self.p * _MASK_LEVELS)
        draws = torch.randint(-(2**63), 2**63 - 1, ((x.numel() + 1) // 2,), dtype=torch.int64)
        keep = draws.view(torch.int32)[: x.numel()] >= -(2**31) + dropped
        mask = keep.to(x.dtype).mul_(_MASK_LEVELS / (_MASK_LEVELS - dropped))
        if x.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last):
            return x * mask.as_strided(x.shape, x.stride())  # i.i.d. values: any order will do, x's is fastest
        return x * mask.view(x.shape)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _ChannelsLastGradient(torch.autograd.Function):
    """Identity whose backward hands on the gradient in channels-last layout, as its input was.

    The global average pooling's gradient comes back in the default layout; without this every
    backward operation of the blocks would mix layouts and take PyTorch's slow paths.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad.contiguous(memory_format=torch.channels_last)


def _mixing_layer(conv: nn.Module, dim: int, spatial_dims: int, dropout: float) -> nn.Sequential:
    """``Drop(BN(GELU(conv(x))))``, the branch of both residuals of a ConvMixer block."""
    return nn.Sequential(conv, nn.GELU(), Norm[Norm.BATCH, spatial_dims](dim), IntegerMaskDropout(dropout))


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

    The dropout ("Drop") is element-wise (:class:`IntegerMaskDropout`, ``nn.Dropout`` with
    cheaper masks on the CPU), not channel-wise. 2-D images run in channels-last memory layout,
    inside the encoder (the caller's tensors are not changed), which oneDNN's and cuDNN's
    convolutions take their fast paths for: at the paper's size on the CPU the depthwise
    convolutions' forward and backward are about 3 times faster.

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
        self.channels_last = spatial_dims == 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.channels_last:
            return self.pooling(self.blocks(self.patch_embedding(x)))
        features = self.blocks(self.patch_embedding(x.contiguous(memory_format=torch.channels_last)))
        if features.requires_grad and not (torch.jit.is_scripting() or torch.jit.is_tracing()):
            features = self._channels_last_gradient(features)
        return self.pooling(features)

    @torch.jit.unused
    def _channels_last_gradient(self, features):  # unannotated, as IntegerMaskDropout._drop_by_integer_mask
        """``features``, whose gradient is handed on in channels-last layout (TorchScript copies: no-grad only)."""
        return _ChannelsLastGradient.apply(features)
