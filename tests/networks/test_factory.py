"""Encoders by name."""

from __future__ import annotations

import pytest
import torch

from monai_debclust.networks import CoAtNetEncoder, ConvMixerEncoder, get_encoder

SMALL = {"convmixer": {"dim": 24, "depth": 1}, "resnet18": {}, "coatnet": {"dims": (8, 16), "depths": (1, 1)}}
OUT = {"convmixer": 24, "resnet18": 512, "coatnet": 16}


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("name", sorted(SMALL))
def test_named_encoder_gives_out_channels_features(name, spatial_dims):
    encoder = get_encoder(name, spatial_dims=spatial_dims, in_channels=1, **SMALL[name])
    assert encoder.out_channels == OUT[name]
    size = 32 if spatial_dims == 2 else 16
    assert encoder(torch.rand(2, 1, *[size] * spatial_dims)).shape == (2, OUT[name])


def test_resnet18_is_monais_without_classifier():
    encoder = get_encoder("ResNet18")
    assert type(encoder).__module__ == "monai.networks.nets.resnet" and encoder.fc is None


def test_names_build_the_plugin_classes():
    assert isinstance(get_encoder("convmixer", dim=8, depth=1), ConvMixerEncoder)
    assert isinstance(get_encoder("coatnet"), CoAtNetEncoder)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="coatnet, convmixer, resnet18"):
        get_encoder("vit")
