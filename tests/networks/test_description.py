"""A network description is data: known networks and typed, bounded arguments, nothing evaluated."""

from __future__ import annotations

import pytest
import torch

from monai_debclust.networks import (
    DebClustNet,
    NetworkDescriptionError,
    StatDECNet,
    build_network,
    describe_network,
    validate_description,
)

ARGS = {"encoder": "convmixer", "num_clusters": 3, "projection_hidden": 16, "projection_dim": 8,
        "encoder_kwargs": {"spatial_dims": 2, "in_channels": 1, "dim": 8, "depth": 1, "kernel_size": 3}}


def test_description_round_trips_to_the_same_architecture():
    description = describe_network("DebClustNet", ARGS)
    assert description == {"format": 1, "network": "DebClustNet", "arguments": ARGS}
    network = build_network(description)
    assert isinstance(network, DebClustNet) and network.clustering.num_clusters == 3
    assert network.embed(torch.rand(2, 1, 16, 16)).shape == (2, 8)


def test_statdec_and_its_own_argument_are_describable():
    network = build_network(describe_network("StatDECNet", {**ARGS, "with_count": False}))
    assert isinstance(network, StatDECNet)


def test_legacy_target_files_are_read_as_data():
    legacy = {"_target_": "monai_debclust.networks.debclust.DebClustNet", **ARGS}
    assert validate_description(legacy) == describe_network("DebClustNet", ARGS)


@pytest.mark.parametrize(
    "description, match",
    [
        ({"_target_": "os.system", "command": "touch /tmp/pwned"}, "not a known network"),
        ({"_target_": "$__import__('os').system('touch /tmp/pwned')"}, "not a known network"),
        ({"format": 1, "network": "Sequential", "arguments": {}}, "network must be one of"),
        ({"format": 2, "network": "DebClustNet", "arguments": ARGS}, "format must be 1"),
        ({"format": 1, "network": "DebClustNet", "arguments": ARGS, "extra": 1}, "unknown key"),
        ({"format": 1, "network": "DebClustNet", "arguments": {**ARGS, "encoder": "$torch.nn.Identity()"}},
         "encoder must be one of"),
        ({"format": 1, "network": "DebClustNet", "arguments": {**ARGS, "num_clusters": "$2"}}, "num_clusters must be"),
        ({"format": 1, "network": "DebClustNet", "arguments": {**ARGS, "num_clusters": True}}, "num_clusters must be"),
        ({"format": 1, "network": "DebClustNet", "arguments": {**ARGS, "projection_dim": 10**9}},
         "projection_dim must be an integer in"),
        ({"format": 1, "network": "DebClustNet", "arguments": {**ARGS, "_target_": "os.system"}},
         "unknown argument"),
        ({"format": 1, "network": "DebClustNet",
          "arguments": {**ARGS, "encoder_kwargs": {"dim": 8, "pooling": {"_target_": "os.system"}}}},
         "unknown argument.*'pooling'"),
        ({"format": 1, "network": "DebClustNet",
          "arguments": {**ARGS, "encoder_kwargs": {"dropout": float("nan")}}}, "dropout must be a number"),
        ([1, 2], "JSON object"),
    ],
)
def test_rejects_what_is_not_a_known_network_with_typed_arguments(description, match):
    with pytest.raises(NetworkDescriptionError, match=match):
        build_network(description)


def test_a_network_outside_the_registry_cannot_be_described():
    class Custom(DebClustNet):
        pass

    with pytest.raises(NetworkDescriptionError, match="cannot be saved"):
        describe_network(Custom("convmixer", encoder_kwargs={"dim": 8, "depth": 1}), ARGS)
