"""The modified ConvMixer: shapes in 2-D and 3-D, the added residual, the paper's size, export."""

from __future__ import annotations

import pytest
import torch

from monai_debclust.networks import ConvMixerBlock, ConvMixerEncoder, StatisticsPooling


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("patch_size", [1, 2, 4])
@pytest.mark.parametrize("kernel_size", [3, 4, 7])
def test_output_shape_and_patch_grid(spatial_dims, patch_size, kernel_size):
    encoder = ConvMixerEncoder(spatial_dims, in_channels=2, dim=16, depth=2, kernel_size=kernel_size,
                               patch_size=patch_size)
    size = 8 if spatial_dims == 3 else 16
    x = torch.rand(2, 2, *[size] * spatial_dims)
    feature_map = encoder.blocks(encoder.patch_embedding(x))
    assert feature_map.shape == (2, 16, *[size // patch_size] * spatial_dims)
    assert encoder(x).shape == (2, 16)
    assert encoder.out_channels == 16


def test_default_pooling_is_the_global_average():
    encoder = ConvMixerEncoder(dim=16, depth=1).eval()
    x = torch.rand(2, 3, 16, 16)
    expected = encoder.blocks(encoder.patch_embedding(x)).mean(dim=(2, 3))
    torch.testing.assert_close(encoder(x), expected)


def test_statistics_pooling_is_a_drop_in():
    encoder = ConvMixerEncoder(dim=16, depth=1, pooling=StatisticsPooling(2, with_count=True))
    assert encoder.out_channels == 2 * 16 + 1
    assert encoder(torch.rand(2, 3, 16, 16)).shape == (2, 33)


def test_block_applies_both_residuals():
    torch.manual_seed(0)
    block = ConvMixerBlock(spatial_dims=2, dim=8, kernel_size=3, dropout=0.0)
    for module in block.modules():  # non-trivial affine parameters, so every branch is visible
        if isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
            torch.nn.init.uniform_(module.bias, -0.5, 0.5)
    block.eval()
    x = torch.randn(2, 8, 6, 6)
    y = x + block.spatial(x)
    torch.testing.assert_close(block(x), y + block.channel(y))
    assert not torch.allclose(block(x), y)  # the added residual changes the output
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in block.modules()) == 2


def test_block_with_zero_weights_is_the_identity():
    block = ConvMixerBlock(spatial_dims=3, dim=4, kernel_size=3, dropout=0.0).eval()
    with torch.no_grad():
        for parameter in block.parameters():
            parameter.zero_()
    x = torch.randn(1, 4, 5, 5, 5)
    torch.testing.assert_close(block(x), x)


def test_parameter_count_of_the_paper_configuration():
    dim, depth, kernel, patch, channels = 256, 8, 7, 2, 3
    stem = channels * dim * patch * patch + dim  # conv weights + bias: 3072 + 256
    stem_norm = 2 * dim  # BN gamma, beta
    depthwise = dim * kernel * kernel + dim  # 12544 + 256
    pointwise = dim * dim + dim  # 65536 + 256
    block = depthwise + 2 * dim + pointwise + 2 * dim  # 79616
    expected = stem + stem_norm + depth * block
    assert expected == 640_768
    encoder = ConvMixerEncoder(2, channels, dim, depth, kernel, patch, dropout=0.04)
    assert sum(p.numel() for p in encoder.parameters()) == expected


@pytest.mark.parametrize("bad", [{"spatial_dims": 1}, {"dim": 0}, {"depth": -1}, {"dropout": 1.0}])
def test_rejects_bad_arguments(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        ConvMixerEncoder(**bad)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("pooling", [None, StatisticsPooling(2)])
def test_torchscript_round_trip(tmp_path, pooling):
    encoder = ConvMixerEncoder(dim=16, depth=1, kernel_size=4, pooling=pooling).eval()
    x = torch.rand(2, 3, 16, 16)
    torch.jit.save(torch.jit.script(encoder), tmp_path / "encoder.ts")
    loaded = torch.jit.load(tmp_path / "encoder.ts")
    torch.testing.assert_close(loaded(x), encoder(x))


def test_torch_export_round_trip(tmp_path):
    encoder = ConvMixerEncoder(spatial_dims=3, in_channels=1, dim=16, depth=1, kernel_size=3).eval()
    x = torch.rand(2, 1, 8, 8, 8)
    torch.export.save(torch.export.export(encoder, (x,)), tmp_path / "encoder.pt2")
    loaded = torch.export.load(tmp_path / "encoder.pt2").module()
    torch.testing.assert_close(loaded(x), encoder(x))
