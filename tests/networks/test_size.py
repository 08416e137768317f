"""The size budget of a described network: estimated from its arguments, refused before anything is allocated."""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

import pytest
import torch
from torch import nn

from monai_debclust.bundle import load_trained_network, save_trained_network
from monai_debclust.bundle.outputs import CheckpointError
from monai_debclust.cli import main as cli_main
from monai_debclust.networks import NETWORKS, NetworkSizeError, build_network, check_network_size, estimate_network_size
from monai_debclust.networks.size import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_IMAGE_SIZE,
    DEFAULT_MEMORY_LIMIT,
    MEMORY_LIMIT_VARIABLE,
    memory_limit,
)

REPO = Path(__file__).resolve().parents[2]
BUNDLES = REPO / "monai_debclust" / "bundles"
#: The issue's example: every argument within its own bound, about 10**12 parameters together.
HUGE = {"format": 1, "network": "DebClustNet", "arguments": {
    "encoder": "convmixer", "projection_hidden": 65536, "projection_dim": 65536,
    "encoder_kwargs": {"dim": 65536, "depth": 256}}}

SMALL_NETWORKS = [
    ("DebClustNet", {"encoder": "convmixer", "num_clusters": 3, "projection_hidden": 16, "projection_dim": 8,
                     "encoder_kwargs": {"dim": 16, "depth": 2, "kernel_size": 3, "patch_size": 4}}),
    ("DebClustNet", {"encoder": "convmixer",
                     "encoder_kwargs": {"spatial_dims": 3, "in_channels": 1, "dim": 16, "depth": 1}}),
    ("DebClustNet", {"encoder": "resnet18", "num_clusters": 4}),
    ("DebClustNet", {"encoder": "resnet18", "encoder_kwargs": {"spatial_dims": 3, "in_channels": 1}}),
    ("DebClustNet", {"encoder": "coatnet", "encoder_kwargs": {"dims": [8, 16, 32], "depths": [1, 2, 1], "heads": 4}}),
    ("DebClustNet", {"encoder": "coatnet", "encoder_kwargs": {"spatial_dims": 3, "dims": [8, 16], "depths": [2, 1],
                                                              "heads": 2}}),
    ("StatDECNet", {"encoder": "convmixer", "encoder_kwargs": {"dim": 16, "depth": 1}}),
    ("StatDECNet", {"encoder": "coatnet", "with_count": False,
                    "encoder_kwargs": {"dims": [8, 16], "depths": [1, 1], "heads": 2}}),
    ("SimSiamNet", {"encoder": "convmixer", "projection_dim": 32, "encoder_kwargs": {"dim": 16, "depth": 1}}),
    ("SimSiamNet", {"encoder": "coatnet", "predictor_hidden": 48,
                    "encoder_kwargs": {"dims": [8, 16], "depths": [1, 1], "heads": 2}}),
]


@pytest.mark.parametrize("name, arguments", SMALL_NETWORKS)
def test_the_estimated_parameter_count_is_that_of_the_built_network(name, arguments):
    description = {"format": 1, "network": name, "arguments": arguments}
    network = build_network(description)
    real = sum(parameter.numel() for parameter in network.parameters())
    assert estimate_network_size(description).parameters == pytest.approx(real, rel=0.1)


def test_every_network_and_encoder_of_the_tables_is_covered():
    covered = {(name, arguments["encoder"]) for name, arguments in SMALL_NETWORKS}
    encoders = {arguments["encoder"] for _, arguments in SMALL_NETWORKS}
    assert set(NETWORKS) <= {name for name, _ in covered}
    assert encoders == {"convmixer", "resnet18", "coatnet"}


def test_the_issue_example_is_refused_fast_and_without_allocating(monkeypatch):
    def no_parameters(*args, **kwargs):
        raise AssertionError("a parameter was created")

    monkeypatch.setattr(nn.Parameter, "__new__", no_parameters)
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(NetworkSizeError) as refused:
        build_network(HUGE)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 10 * 2**20
    message = str(refused.value)
    assert "TiB" in message and "1.11e+12 parameters" in message and "16.0 GiB" in message
    assert MEMORY_LIMIT_VARIABLE in message


def test_activations_count_too_a_small_network_on_huge_inputs_is_refused():
    small = {"format": 1, "network": "DebClustNet", "arguments": {
        "encoder": "convmixer", "encoder_kwargs": {"dim": 64, "depth": 1, "patch_size": 1}}}
    assert check_network_size(small, image_size=224, batch_size=64).bytes < DEFAULT_MEMORY_LIMIT
    with pytest.raises(NetworkSizeError, match="batch of 64 images of 4096 pixels per side"):
        check_network_size(small, image_size=4096, batch_size=64)


def test_a_network_that_fits_a_batch_of_64_is_refused_at_a_much_larger_batch(monkeypatch):
    monkeypatch.delenv(MEMORY_LIMIT_VARIABLE, raising=False)
    small = {"format": 1, "network": "DebClustNet", "arguments": {
        "encoder": "convmixer", "encoder_kwargs": {"dim": 64, "depth": 1, "patch_size": 1}}}
    assert check_network_size(small).bytes < DEFAULT_MEMORY_LIMIT
    assert check_network_size(small, batch_size=DEFAULT_BATCH_SIZE) == check_network_size(small)
    with pytest.raises(NetworkSizeError, match="batch of 65536 images of 32 pixels per side.*or a smaller batch"):
        check_network_size(small, batch_size=65536)


def test_cluster_checks_the_trained_network_at_the_run_batch_size(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(MEMORY_LIMIT_VARIABLE, raising=False)
    arguments = {"encoder": "convmixer", "num_clusters": 2, "encoder_kwargs": {"dim": 64, "depth": 1, "patch_size": 1}}
    network = build_network({"format": 1, "network": "DebClustNet", "arguments": arguments})
    save_trained_network(network, tmp_path / "run" / "models", arguments, {"image_size": 32, "in_channels": 3})
    (tmp_path / "archive").mkdir()
    command = ["cluster", str(tmp_path / "archive"), "--bundle", str(REPO / "bundles" / "refuge"),
               "--output", str(tmp_path / "run")]
    capsys.readouterr()
    for options in (["--batch_size", "65536"], ["--set", "batch_size=65536"]):
        assert cli_main([*command, *options]) == 2
        message = capsys.readouterr().err
        assert "too large" in message and "batch of 65536 images of 32 pixels per side" in message
    assert not (tmp_path / "run" / "clustering").exists()


def test_the_limit_is_a_setting(monkeypatch):
    description = {"format": 1, "network": "DebClustNet", "arguments": {
        "encoder": "convmixer", "encoder_kwargs": {"dim": 16, "depth": 1}}}
    size = check_network_size(description)
    with pytest.raises(NetworkSizeError, match="over the limit of"):
        check_network_size(description, limit_bytes=size.bytes - 1)
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, str(size.bytes / 2**30 / 2))
    assert memory_limit() < size.bytes
    with pytest.raises(NetworkSizeError):
        build_network(description)
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, "lots")
    with pytest.raises(ValueError, match=MEMORY_LIMIT_VARIABLE):
        memory_limit()


@pytest.mark.parametrize("bundle", sorted(path.name for path in BUNDLES.iterdir() if (path / "train.json").is_file()))
def test_realistic_bundle_networks_pass(bundle):
    train = json.loads((BUNDLES / bundle / "train.json").read_text())
    inference = json.loads((BUNDLES / bundle / "configs" / "inference.json").read_text())
    assert inference["batch_size"] == DEFAULT_BATCH_SIZE
    assert inference["image_size"]["default"] == DEFAULT_IMAGE_SIZE
    for dim, depth in ((64, 4), (256, 8)):  # the bundle's CPU and GPU sizes, at the paper's 224 pixels too
        for image_size in (train["image_size"], 224):
            arguments = {"encoder": train["encoder"], "num_clusters": train["num_clusters"],
                         "projection_hidden": train["projection_hidden"], "projection_dim": train["projection_dim"],
                         "encoder_kwargs": {"dim": dim, "depth": depth, "kernel_size": train["kernel_size"],
                                            "patch_size": train["patch_size"]}}
            for name in NETWORKS:
                check_network_size({"format": 1, "network": name, "arguments": arguments}, image_size=image_size)
    for encoder in ("resnet18", "coatnet"):
        check_network_size({"format": 1, "network": "DebClustNet", "arguments": {"encoder": encoder}}, image_size=224)


def test_a_model_folder_is_checked_at_the_size_of_its_input_json(tmp_path):
    arguments = {"encoder": "convmixer", "num_clusters": 2, "projection_hidden": 8, "projection_dim": 4,
                 "encoder_kwargs": {"dim": 8, "depth": 1, "patch_size": 1}}
    network = build_network({"format": 1, "network": "DebClustNet", "arguments": arguments})
    save_trained_network(network, tmp_path, arguments, {"image_size": 16, "in_channels": 3})
    assert isinstance(load_trained_network(tmp_path / "model.pt"), nn.Module)
    (tmp_path / "input.json").write_text(json.dumps({"image_size": 100_000, "in_channels": 3}))
    with pytest.raises(CheckpointError, match="too large.*100000 pixels per side"):
        load_trained_network(tmp_path / "model.pt")
    (tmp_path / "input.json").write_text(json.dumps({"image_size": "$huge", "in_channels": 3}))
    with pytest.raises(CheckpointError, match="image_size must be an integer"):
        load_trained_network(tmp_path / "model.pt")


def test_refused_descriptions_are_never_built(monkeypatch):
    built = []
    monkeypatch.setattr(torch.nn.Module, "__init__", lambda self, *a, **k: built.append(self))
    with pytest.raises(NetworkSizeError):
        build_network(HUGE)
    assert built == []
