"""A run's output folder: the latest checkpoint, model.pt + network.json, atomic JSON."""

from __future__ import annotations

import json

import pytest
import torch

from monai_debclust.utils import write_json
from monai_debclust.bundle import (
    CheckpointError,
    latest_checkpoint,
    load_trained_network,
    resumable_checkpoint,
    save_trained_network,
    trained_input,
)


def test_latest_checkpoint_is_the_highest_epoch(tmp_path):
    assert latest_checkpoint(tmp_path / "absent") is None
    for name in ("checkpoint_epoch=2.pt", "checkpoint_epoch=10.pt", "checkpoint_epoch=9.pt", "best_model.pt",
                 "checkpoint_epoch=x.pt"):
        (tmp_path / name).write_bytes(b"")
    assert latest_checkpoint(tmp_path) == str(tmp_path / "checkpoint_epoch=10.pt")


def test_saved_network_rebuilds_from_network_json_with_the_trained_weights(tmp_path, tiny_network):
    network = tiny_network(seed=3)
    args = {"encoder": "convmixer", "num_clusters": 2, "projection_hidden": 16, "projection_dim": 8,
            "encoder_kwargs": {"dim": 8, "depth": 1, "kernel_size": 3}}
    path = save_trained_network(torch.nn.DataParallel(network), tmp_path / "models", args)
    described = json.loads((tmp_path / "models" / "network.json").read_text())
    assert described == {"format": 1, "network": "DebClustNet", "arguments": args}
    state = torch.load(path, weights_only=True)
    assert not any(key.startswith("module.") for key in state)
    rebuilt = load_trained_network(path).eval()
    image = torch.rand(2, 3, 16, 16)
    torch.testing.assert_close(rebuilt(image)["q"], network.eval()(image)["q"])


def test_write_json_replaces_the_file_whole(tmp_path):
    path = write_json({"a": 1}, tmp_path / "sub" / "metrics.json")
    write_json({"b": [1, 2]}, path)
    assert json.loads(path.read_text()) == {"b": [1, 2]}
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]


def test_input_settings_saved_beside_the_weights_are_the_defaults_of_later_runs(tmp_path, tiny_network):
    args = {"encoder": "convmixer", "encoder_kwargs": {"dim": 8, "depth": 1, "kernel_size": 3}}
    ckpt = save_trained_network(tiny_network(), tmp_path / "models", args, {"image_size": 24, "in_channels": 1})
    assert trained_input(ckpt, "image_size", 32) == 24
    assert trained_input(ckpt, "in_channels", 3) == 1
    assert trained_input(ckpt, "nifti_mode", "slice") == "slice"  # not recorded: the default
    assert trained_input(tmp_path / "elsewhere" / "model.pt", "image_size", 32) == 32  # no input.json


def test_a_checkpoint_cut_short_by_a_killed_save_is_passed_over_for_the_one_before(tmp_path, tiny_network):
    network = tiny_network()
    torch.save({"model": network.state_dict()}, tmp_path / "checkpoint_epoch=1.pt")
    whole = (tmp_path / "checkpoint_epoch=1.pt").read_bytes()
    (tmp_path / "checkpoint_epoch=2.pt").write_bytes(whole[: len(whole) // 2])
    assert resumable_checkpoint(tmp_path, network) == str(tmp_path / "checkpoint_epoch=1.pt")


def test_a_pickled_object_as_newest_checkpoint_is_refused_not_passed_over(tmp_path, tiny_network):
    network = tiny_network()
    torch.save({"model": network.state_dict()}, tmp_path / "checkpoint_epoch=1.pt")
    torch.save({"model": network.state_dict(), "extra": object()}, tmp_path / "checkpoint_epoch=2.pt")
    with pytest.raises(CheckpointError, match="weights-only"):
        resumable_checkpoint(tmp_path, network)
