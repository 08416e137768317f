"""Statistics pooling (StatDEC): per-channel mean, standard deviation and log count."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from monai_debclust.networks import StatisticsPooling, global_average_pooling, pooled_features


@pytest.mark.parametrize("spatial_dims", [1, 2, 3])
def test_values_equal_mean_std_and_log_count(spatial_dims):
    generator = torch.Generator().manual_seed(0)
    shape = (2, 3, *[4, 5, 3][:spatial_dims])
    x = torch.randn(shape, generator=generator, dtype=torch.float64)
    pooled = StatisticsPooling(spatial_dims, with_count=True)(x)
    flat = x.numpy().reshape(2, 3, -1)
    n = flat.shape[2]
    mean = flat.sum(axis=2) / n
    std = np.sqrt(((flat - mean[..., None]) ** 2).sum(axis=2) / n)
    expected = np.concatenate([mean, std, np.full((2, 1), math.log(n))], axis=1)
    assert pooled.shape == (2, 2 * 3 + 1)
    np.testing.assert_allclose(pooled.numpy(), expected, rtol=1e-12)


def test_without_count_gives_two_features_per_channel():
    pooling = StatisticsPooling(2, with_count=False)
    x = torch.randn(2, 4, 3, 3)
    assert pooling.out_features(4) == 8
    torch.testing.assert_close(pooling(x), torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3), correction=0)], 1))


def test_constant_channel_has_a_finite_gradient():
    x = torch.ones(1, 2, 4, 4, requires_grad=True)
    pooled = StatisticsPooling(2)(x)
    pooled.sum().backward()
    torch.testing.assert_close(pooled[0, 2:4].detach(), torch.full((2,), 1e-4))  # sqrt of the floor
    assert torch.isfinite(x.grad).all()


def test_rejects_a_map_of_the_wrong_rank():
    with pytest.raises(ValueError, match="3 spatial dims"):
        StatisticsPooling(3)(torch.randn(2, 4, 5, 5))


def test_pooled_features_reads_out_features_or_keeps_channels():
    assert pooled_features(StatisticsPooling(2, with_count=True), 16) == 33
    assert pooled_features(global_average_pooling(2), 16) == 16
    assert global_average_pooling(3)(torch.ones(2, 5, 2, 2, 2)).shape == (2, 5)
