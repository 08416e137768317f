"""StatDEC: representation and clustering networks, both ending in statistics pooling."""

from __future__ import annotations

import pytest
import torch

from monai_debclust.networks import StatDECNet, StatisticsPooling


@pytest.mark.parametrize(
    "encoder, kwargs",
    [("convmixer", {"dim": 16, "depth": 1}), ("coatnet", {"dims": (8, 16), "depths": (1, 1), "heads": 2})],
)
def test_forward_shapes(encoder, kwargs):
    net = StatDECNet(encoder, num_clusters=3, projection_hidden=32, projection_dim=8, encoder_kwargs=kwargs)
    image, view1, view2 = (torch.rand(4, 3, 16, 16) for _ in range(3))
    out = net(image, view1, view2)
    assert out["features"].shape == (4, 2 * 16 + 1) and out["q"].shape == (4, 3)
    assert out["z1"].shape == out["z2"].shape == (4, 8)
    torch.testing.assert_close(out["q"].sum(dim=1), torch.ones(4))


def test_two_networks_each_with_statistics_pooling():
    net = StatDECNet(encoder_kwargs={"dim": 16, "depth": 1, "spatial_dims": 3}, with_count=False).eval()
    assert isinstance(net.representation_encoder.pooling, StatisticsPooling)
    assert isinstance(net.clustering_encoder.pooling, StatisticsPooling)
    assert not set(map(id, net.representation_encoder.parameters())) & set(map(id, net.clustering_encoder.parameters()))
    image, view1 = torch.rand(2, 3, 8, 8, 8), torch.rand(2, 3, 8, 8, 8)
    out = net(image, view1)
    assert set(out) == {"features", "q", "z1"} and out["features"].shape == (2, 32)
    torch.testing.assert_close(out["features"], net.clustering_encoder(image))
    torch.testing.assert_close(out["z1"], net.projection(net.representation_encoder(view1)))


def test_rejects_an_encoder_without_swappable_pooling():
    with pytest.raises(ValueError, match="swappable pooling"):
        StatDECNet("resnet18")
