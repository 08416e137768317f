"""Encoders by name, for configurations (MONAI bundles, command line) that cannot hold a class."""

from __future__ import annotations

from typing import Any, Callable

from monai.networks.nets import resnet18
from torch import nn

from monai_debclust.networks.coatnet import CoAtNetEncoder
from monai_debclust.networks.convmixer import ConvMixerEncoder

__all__ = ["ENCODERS", "get_encoder"]


def _resnet18_encoder(spatial_dims: int = 2, in_channels: int = 3, **kwargs: Any) -> nn.Module:
    """MONAI's ResNet-18 without its classification layer: ``forward`` gives the pooled 512 features."""
    network = resnet18(spatial_dims=spatial_dims, n_input_channels=in_channels, feed_forward=False, **kwargs)
    network.out_channels = network.layer4[-1].bn2.num_features
    return network


#: Encoder builders by name; each takes ``spatial_dims``, ``in_channels`` and its own keywords.
ENCODERS: dict[str, Callable[..., nn.Module]] = {
    "convmixer": ConvMixerEncoder,
    "resnet18": _resnet18_encoder,
    "coatnet": CoAtNetEncoder,
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
    builder = ENCODERS.get(name.lower())
    if builder is None:
        raise ValueError(f"unknown encoder {name!r}; known encoders: {', '.join(sorted(ENCODERS))}.")
    return builder(spatial_dims=spatial_dims, in_channels=in_channels, **kwargs)
