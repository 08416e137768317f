"""A model folder is untrusted input: nothing in network.json or model.pt may run code."""

from __future__ import annotations

import json

import pytest
import torch

from monai_debclust.bundle import CheckpointError, load_trained_network, save_trained_network

ARGS = {"encoder": "convmixer", "num_clusters": 2, "projection_hidden": 16, "projection_dim": 8,
        "encoder_kwargs": {"dim": 8, "depth": 1, "kernel_size": 3}}


class _Payload:
    """Unpickling this runs ``open(marker, "w")``: what a malicious checkpoint would do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def model_dir(tmp_path, tiny_network):
    save_trained_network(tiny_network(), tmp_path / "models", ARGS)
    return tmp_path / "models"


@pytest.mark.parametrize("payload", [
    {"_target_": "builtins.open", "file": "{marker}", "mode": "w"},
    {"network": "$open('{marker}', 'w')"},
    {"format": 1, "network": "DebClustNet", "arguments": {**ARGS, "encoder": "$open('{marker}', 'w')"}},
    {"format": 1, "network": "DebClustNet", "arguments": {**ARGS, "num_clusters": "$open('{marker}', 'w') and 2"}},
])
def test_malicious_network_json_is_refused_and_runs_nothing(model_dir, tmp_path, payload):
    marker = tmp_path / "pwned"
    text = json.dumps(payload).replace("{marker}", str(marker))
    (model_dir / "network.json").write_text(text)
    with pytest.raises(CheckpointError, match="not a valid network description"):
        load_trained_network(model_dir / "model.pt")
    assert not marker.exists()


def test_pickled_object_checkpoint_is_refused_and_runs_nothing(model_dir, tmp_path):
    marker = tmp_path / "pwned"
    state = torch.load(model_dir / "model.pt", weights_only=True)
    with open(model_dir / "model.pt", "wb") as handle:
        torch.save({**state, "extra": _Payload(str(marker))}, handle)
    with pytest.raises(CheckpointError, match="not a weights-only checkpoint"):
        load_trained_network(model_dir / "model.pt")
    assert not marker.exists()


def test_a_checkpoint_of_another_configuration_names_the_keys_that_differ(model_dir):
    other = {**ARGS, "num_clusters": 3, "encoder_kwargs": {"dim": 8, "depth": 2, "kernel_size": 3}}
    (model_dir / "network.json").write_text(json.dumps({"format": 1, "network": "DebClustNet", "arguments": other}))
    with pytest.raises(CheckpointError) as caught:
        load_trained_network(model_dir / "model.pt")
    message = str(caught.value)
    assert "missing from the checkpoint" in message and "encoder.blocks.1" in message
    assert "clustering.centres (2, 8) vs (3, 8)" in message


def test_garbage_instead_of_a_checkpoint_is_a_clear_error(model_dir):
    (model_dir / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read as a PyTorch checkpoint|not a weights-only"):
        load_trained_network(model_dir / "model.pt")
