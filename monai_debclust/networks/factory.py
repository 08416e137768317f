"""Encoders by name, for configurations (MONAI bundles, command line) that cannot hold a class."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from monai.networks.nets import resnet18
from torch import nn

from monai_debclust.networks.checks import CHANNELS, MAX_SIZE, PROBABILITY, SIZE, SPATIAL_DIMS, integer_in, integers_in
from monai_debclust.networks.coatnet import CoAtNetEncoder
from monai_debclust.networks.convmixer import ConvMixerEncoder
from monai_debclust.networks.size import EncoderSize, coatnet_size, convmixer_size, resnet18_size

__all__ = ["ENCODERS", "EncoderEntry", "get_encoder"]


def _resnet18_encoder(spatial_dims: int = 2, in_channels: int = 3, **kwargs: Any) -> nn.Module:
    """MONAI's ResNet-18 without its classification layer: ``forward`` gives the pooled 512 features."""
    network = resnet18(spatial_dims=spatial_dims, n_input_channels=in_channels, feed_forward=False, **kwargs)
    network.out_channels = network.layer4[-1].bn2.num_features
    return network


class EncoderEntry(NamedTuple):
    """An encoder of the table: how to build it, the checks of the arguments a description may give
    it, and its size from those arguments and the image size (:mod:`~monai_debclust.networks.size`)."""

    build: Callable[..., nn.Module]
    arguments: Mapping[str, Callable[[Any], bool]]
    size: Callable[..., EncoderSize]


#: The one encoder table, read by :func:`get_encoder` (building) and by
#: :func:`~monai_debclust.networks.build_network` (validating a description); each builder takes
#: ``spatial_dims``, ``in_channels`` and its own keywords.
ENCODERS: dict[str, EncoderEntry] = {
    "convmixer": EncoderEntry(ConvMixerEncoder, {
        "spatial_dims": SPATIAL_DIMS, "in_channels": CHANNELS, "dim": SIZE, "depth": integer_in(1, 256),
        "kernel_size": integer_in(1, 63), "patch_size": integer_in(1, 64), "dropout": PROBABILITY}, convmixer_size),
    "resnet18": EncoderEntry(_resnet18_encoder, {"spatial_dims": SPATIAL_DIMS, "in_channels": CHANNELS},
                             resnet18_size),
    "coatnet": EncoderEntry(CoAtNetEncoder, {
        "spatial_dims": SPATIAL_DIMS, "in_channels": CHANNELS, "dims": integers_in(1, MAX_SIZE),
        "depths": integers_in(1, 256), "heads": integer_in(1, 256), "dropout": PROBABILITY}, coatnet_size),
}


def get_encoder(name: str, spatial_dims: int = 2, in_channels: int = 3, **kwargs: Any) -> nn.Module:
    """Build the encoder called ``name``; the result has ``out_channels``, the length of ``h``.

    Args:
        name: ``"convmixer"`` (:class:`ConvMixerEncoder`, the method's encoder), ``"resnet18"``
            (MONAI's :func:`monai.networks.nets.resnet18`, pooled features) or ``"coatnet"``
            (:class:`CoAtNetEncoder`); case-insensitive.
        spatial_dims: 2 for images, 3 for volumes.
        in_channels: number of input channels.
        kwargs: the encoder's own arguments (``dim``, ``depth``, ... for the ConvMixer).
    """
    entry = ENCODERS.get(name.lower())
    if entry is None:
        raise ValueError(f"unknown encoder {name!r}; known encoders: {', '.join(sorted(ENCODERS))}.")
    return entry.build(spatial_dims=spatial_dims, in_channels=in_channels, **kwargs)
