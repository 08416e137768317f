"""How big a described network would be, worked out from its arguments alone: nothing is allocated.

An untrusted ``network.json`` is checked argument by argument
(:mod:`~monai_debclust.networks.checks`), but bounded arguments can still multiply to a network
that no machine holds (a ConvMixer of ``dim`` 65536 and ``depth`` 256 has about ``10**12``
parameters). Each encoder of :data:`~monai_debclust.networks.factory.ENCODERS` therefore has a
size formula here: its exact parameter count (the weights and biases of its layers, counted as
PyTorch counts ``numel`` of ``parameters()``) and the peak number of activation values one image
holds during an inference forward pass (the largest feature map with the tensors alive beside it:
the residual input, the branch being computed and its next step). The description validator
(:func:`~monai_debclust.networks.description.check_network_size`) adds the heads and refuses a
network whose float32 parameters plus one inference batch of activations pass a memory limit.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import NamedTuple

__all__ = [
    "BYTES_PER_VALUE",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_IMAGE_SIZE",
    "DEFAULT_MEMORY_LIMIT",
    "MEMORY_LIMIT_VARIABLE",
    "EncoderSize",
    "coatnet_size",
    "convmixer_size",
    "format_bytes",
    "memory_limit",
    "projection_head_parameters",
    "resnet18_size",
]

#: float32 parameters and activations.
BYTES_PER_VALUE = 4
#: The bundles' defaults (``image_size`` and ``batch_size`` of ``configs/inference.json``), used
#: where a model folder has no ``input.json``.
DEFAULT_IMAGE_SIZE = 32
DEFAULT_BATCH_SIZE = 64
#: Default limit of a network's estimated memory: 16 GiB, two thirds of a 24 GiB machine, leaving
#: the rest to the data loaders, the optimiser (training) and the system.
DEFAULT_MEMORY_LIMIT = 16 * 2**30
#: Environment variable that sets another limit, in GiB (e.g. ``MONAI_DEBCLUST_NETWORK_MEMORY_GIB=60``).
MEMORY_LIMIT_VARIABLE = "MONAI_DEBCLUST_NETWORK_MEMORY_GIB"


class EncoderSize(NamedTuple):
    """An encoder's size: parameters, peak activation values of one image, channels of its last map."""

    parameters: int
    activations: int
    channels: int


def memory_limit() -> int:
    """The memory limit in bytes: :data:`MEMORY_LIMIT_VARIABLE` (GiB) when set, else :data:`DEFAULT_MEMORY_LIMIT`.

    Raises:
        ValueError: when the variable is set to anything but a positive number.
    """
    text = os.environ.get(MEMORY_LIMIT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_MEMORY_LIMIT
    try:
        gib = float(text)
    except ValueError:
        gib = math.nan
    if not (math.isfinite(gib) and gib > 0):
        raise ValueError(f"{MEMORY_LIMIT_VARIABLE} must be a positive number of GiB, got {text!r}.")
    return int(gib * 2**30)


def format_bytes(count: float) -> str:
    """``count`` bytes in the largest binary unit that keeps the number at least 1, e.g. ``'3.8 TiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if count < 1024 or unit == "PiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    raise AssertionError("unreachable")


def _halved(size: int, times: int) -> int:
    """The size left after ``times`` convolutions of kernel 3, stride 2 and padding 1 (``ceil(size / 2)`` each)."""
    for _ in range(times):
        size = (size + 1) // 2
    return size


def projection_head_parameters(in_features: int, hidden_features: int, out_features: int) -> int:
    """Parameters of :class:`~monai_debclust.networks.ProjectionHead`: ``Linear(no bias) -> BN1d -> ReLU -> Linear``."""
    return in_features * hidden_features + 2 * hidden_features + hidden_features * out_features + out_features


def convmixer_size(
    spatial_dims: int, in_channels: int, image_size: int, dim: int, depth: int, kernel_size: int, patch_size: int,
    **unused: object,
) -> EncoderSize:
    """Size of :class:`~monai_debclust.networks.ConvMixerEncoder` on images of ``image_size`` per side.

    Parameters: the patch convolution ``C_in * D * p**d + D`` and its batch norm ``2D``, then per
    block a depthwise ``D * k**d + D`` and a pointwise ``D**2 + D`` convolution and two batch
    norms ``4D``. Peak: the input and three maps of ``D * (S // p)**d`` values.
    """
    volume = in_channels * image_size**spatial_dims
    feature_map = dim * (image_size // patch_size) ** spatial_dims
    parameters = in_channels * dim * patch_size**spatial_dims + 3 * dim
    parameters += depth * (dim * kernel_size**spatial_dims + dim * dim + 6 * dim)
    return EncoderSize(parameters, volume + 3 * feature_map, dim)


#: MONAI's ResNet-18: (channels, blocks) of its four stages, and the size of its first convolution.
_RESNET18_STAGES = ((64, 2), (128, 2), (256, 2), (512, 2))
_RESNET18_STEM_KERNEL = 7


def resnet18_size(spatial_dims: int, in_channels: int, image_size: int, **unused: object) -> EncoderSize:
    """Size of MONAI's ResNet-18 without its classifier (``feed_forward=False``).

    Parameters: the stem ``C_in * 64 * 7**d`` and its batch norm; per basic block two ``3**d``
    convolutions without bias and two batch norms; a ``1**d`` projection (with bias) and a batch norm where a
    stage changes the width. Peak: the input and three maps of the stem's ``64 * ceil(S / 2)**d``.
    """
    kernel = 3**spatial_dims
    width = _RESNET18_STAGES[0][0]
    parameters = in_channels * width * _RESNET18_STEM_KERNEL**spatial_dims + 2 * width
    for channels, blocks in _RESNET18_STAGES:
        for block in range(blocks):
            block_in = width if block == 0 else channels
            parameters += block_in * channels * kernel + channels * channels * kernel + 4 * channels
            if block == 0 and block_in != channels:
                parameters += block_in * channels + 3 * channels
        width = channels
    stem_map = _RESNET18_STAGES[0][0] * _halved(image_size, 1) ** spatial_dims
    return EncoderSize(parameters, in_channels * image_size**spatial_dims + 3 * stem_map, width)


def coatnet_size(
    spatial_dims: int, in_channels: int, image_size: int, dims: Sequence[int], depths: Sequence[int], heads: int,
    **unused: object,
) -> EncoderSize:
    """Size of :class:`~monai_debclust.networks.CoAtNetEncoder`.

    Parameters: per stage a ``3**d`` stride-2 convolution without bias and a batch norm; per MBConv
    block of ``C`` channels ``8C**2 + 4C * 3**d + 19C`` (three convolutions, the last with bias,
    four batch norms); the position convolution ``C * 3**d + C``; per transformer block
    ``12C**2 + 13C`` (attention ``4C**2 + 4C``, MLP ``8C**2 + 5C``, two layer norms); the final
    layer norm. Peak: an MBConv block holds its input and two maps of ``4C`` channels; a
    transformer block its ``N`` tokens with the queries, keys and values and ``heads * N**2``
    attention weights, or its tokens and two ``4C``-wide MLP maps.
    """
    if len(dims) < 2 or len(dims) != len(depths):
        raise ValueError(f"dims and depths must have the same length, at least 2, got {dims} and {depths}.")
    kernel = 3**spatial_dims
    channels = [in_channels, *dims]
    parameters, peak = 0, in_channels * image_size**spatial_dims
    for stage, width in enumerate(dims):
        parameters += channels[stage] * width * kernel + 2 * width
        positions = _halved(image_size, stage + 1) ** spatial_dims
        if stage < len(dims) - 1:
            parameters += depths[stage] * (8 * width * width + 4 * width * kernel + 19 * width)
            peak = max(peak, 9 * width * positions if depths[stage] else 2 * width * positions)
    width, tokens = dims[-1], _halved(image_size, len(dims)) ** spatial_dims
    parameters += width * kernel + width + depths[-1] * (12 * width * width + 13 * width) + 2 * width
    peak = max(peak, 4 * width * tokens + heads * tokens * tokens, 9 * width * tokens)
    return EncoderSize(parameters, peak, width)
