"""The small CoAtNet-style hybrid encoder."""

from __future__ import annotations

import pytest
import torch

from monai_debclust.networks import CoAtNetEncoder, MBConvBlock, StatisticsPooling, TransformerBlock


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_output_shape(spatial_dims):
    encoder = CoAtNetEncoder(spatial_dims, in_channels=1, dims=(8, 16, 32), depths=(1, 1, 2), heads=4)
    x = torch.rand(2, 1, *[16] * spatial_dims)
    assert encoder.out_channels == 32
    assert encoder(x).shape == (2, 32)


def test_stages_are_convolution_then_attention():
    encoder = CoAtNetEncoder(dims=(8, 16), depths=(2, 3), heads=2)
    assert sum(isinstance(m, MBConvBlock) for m in encoder.conv_stages.modules()) == 2
    assert [type(m) for m in encoder.transformer] == [TransformerBlock] * 3


def test_attention_mixes_distant_positions():
    torch.manual_seed(0)
    encoder = CoAtNetEncoder(dims=(8, 16), depths=(0, 1), heads=2).eval()
    x = torch.rand(1, 3, 32, 32)
    tokens_before = encoder.downsample(encoder.conv_stages(x))
    y = x.clone()
    y[..., -4:, -4:] += 1.0  # touches only the last corner of the 8x8 token grid
    changed = encoder.downsample(encoder.conv_stages(y))
    assert torch.equal(tokens_before[..., 0, 0], changed[..., 0, 0])  # convolutions: local
    block = encoder.transformer[0]
    first = lambda t: block(t.flatten(2).transpose(1, 2))[:, 0]  # noqa: E731
    assert not torch.allclose(first(tokens_before), first(changed))  # attention: global


def test_statistics_pooling_is_a_drop_in():
    encoder = CoAtNetEncoder(dims=(8, 16), depths=(1, 1), heads=2, pooling=StatisticsPooling(2))
    assert encoder.out_channels == 33
    assert encoder(torch.rand(2, 3, 16, 16)).shape == (2, 33)


@pytest.mark.parametrize(
    "bad, message",
    [({"dims": (16,), "depths": (1,)}, "at least 2"), ({"dims": (8, 16), "depths": (1, 1, 1)}, "same length"),
     ({"heads": 3}, "divisible by heads"), ({"spatial_dims": 1}, "spatial_dims")],
)
def test_rejects_bad_arguments(bad, message):
    with pytest.raises(ValueError, match=message):
        CoAtNetEncoder(**bad)
