"""The joint model: keys, shapes, one pass for the views, gradients from both branches."""

from __future__ import annotations

import pytest
import torch
from monai.bundle import ConfigParser

from monai_debclust.networks import ConvMixerEncoder, DebClustNet, SoftAssignmentNet

SMALL = {"dim": 16, "depth": 1}


def _net(**kwargs) -> DebClustNet:
    torch.manual_seed(0)
    return DebClustNet("convmixer", num_clusters=3, projection_hidden=32, projection_dim=8,
                       encoder_kwargs=SMALL, **kwargs)


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_forward_keys_and_shapes(spatial_dims):
    net = DebClustNet(ConvMixerEncoder(spatial_dims, 1, **SMALL), num_clusters=3, projection_hidden=32,
                      projection_dim=8)
    image, view1, view2 = (torch.rand(4, 1, *[16] * spatial_dims) for _ in range(3))
    out = net(image, view1, view2)
    assert set(out) == {"features", "q", "z1", "z2"}
    assert out["features"].shape == (4, 16) and out["q"].shape == (4, 3)
    assert out["z1"].shape == out["z2"].shape == (4, 8)
    torch.testing.assert_close(out["q"].sum(dim=1), torch.ones(4))


def test_without_views_only_the_clustering_branch():
    assert set(_net()(torch.rand(2, 3, 16, 16))) == {"features", "q"}


def test_views_share_one_encoder_pass_and_split_back():
    net = _net().eval()
    calls = []
    net.encoder.register_forward_hook(lambda module, args, output: calls.append(args[0].shape[0]))
    image, view1, view2 = torch.rand(2, 3, 16, 16), torch.rand(3, 3, 16, 16), torch.rand(3, 3, 16, 16)
    out = net(image, view1, view2)
    assert calls == [2, 6]  # the image alone, then both views in one batch
    torch.testing.assert_close(out["z1"], net.projection(net.encoder(view1)))
    torch.testing.assert_close(out["z2"], net.projection(net.encoder(view2)))
    torch.testing.assert_close(out["features"], net.embed(image))
    torch.testing.assert_close(out["q"], net.assign(image))


@pytest.mark.parametrize("branch", ["q", "z1"])
def test_gradients_reach_the_encoder_from_each_branch(branch):
    net = _net()
    out = net(torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16))
    target = out["q"][:, 0].sum() if branch == "q" else out["z1"].pow(2).sum()
    target.backward()
    stem = net.encoder.patch_embedding[0].weight
    assert stem.grad is not None and stem.grad.abs().sum() > 0
    other = net.projection.layers[0].weight if branch == "q" else net.clustering.centres
    assert other.grad is None


def test_encoder_by_name_from_a_bundle_config():
    config = {"network": {"_target_": "monai_debclust.networks.DebClustNet", "encoder": "convmixer",
                          "encoder_kwargs": {"dim": 24, "depth": 2, "spatial_dims": 3}, "num_clusters": 4}}
    net = ConfigParser(config).get_parsed_content("network")
    assert isinstance(net.encoder, ConvMixerEncoder) and len(net.encoder.blocks) == 2
    assert net.clustering.centres.shape == (4, 24)
    assert net.assign(torch.rand(2, 3, 8, 8, 8)).shape == (2, 4)


def test_rejects_encoder_kwargs_with_a_module():
    with pytest.raises(ValueError, match="by name"):
        DebClustNet(ConvMixerEncoder(**SMALL), encoder_kwargs={"dim": 8})


def test_rejects_an_encoder_without_out_channels():
    with pytest.raises(ValueError, match="out_channels"):
        DebClustNet(torch.nn.Flatten())


def test_soft_assignment_net_is_one_tensor_and_survives_torchscript_tracing(tmp_path):
    torch.manual_seed(0)
    net = DebClustNet("convmixer", num_clusters=3, projection_hidden=16, projection_dim=8,
                      encoder_kwargs={"dim": 16, "depth": 1, "kernel_size": 3}).eval()
    image = torch.rand(2, 3, 16, 16)
    wrapped = SoftAssignmentNet(net).eval()
    q = wrapped(image)
    assert q.shape == (2, 3)  # dim 1 is K, as the Zoo's outputs.pred.num_channels says
    torch.testing.assert_close(q, net.assign(image))
    path = tmp_path / "model.ts"
    torch.jit.trace(wrapped, image).save(str(path))
    torch.testing.assert_close(torch.jit.load(str(path))(image), q)


def test_soft_assignment_net_has_the_state_dict_of_the_network_it_wraps():
    net = DebClustNet(ConvMixerEncoder(**SMALL), num_clusters=3)
    wrapped = SoftAssignmentNet(net)
    assert list(wrapped.state_dict()) == list(net.state_dict())
    wrapped.load_state_dict(net.state_dict(), strict=True)  # what MONAI's ckpt_export does with model.pt
