"""Training modes through the bundles (``--method``), then ``evaluate.json`` with the four protocols."""

from __future__ import annotations

import json

import pytest

from monai_debclust.bundle import load_trained_network

from .test_bundles import run_bundle, train_config

PROTOCOL_ROWS = ("linear", "semi_supervised", "knn", "kmeans", "head")


@pytest.mark.slow
@pytest.mark.parametrize("method", ["simsiam", "statdec", "experts"])
def test_a_mode_trains_and_its_model_is_evaluated_by_every_protocol(tmp_path, method):
    settings = {"method": method, "demo_size": 60, "epochs": 4}
    stdout = run_bundle("training", [train_config("refuge")], tmp_path, **settings)
    assert stdout.rstrip().splitlines()[-1].startswith("Training finished after epoch")
    network = load_trained_network(tmp_path / "models" / "model.pt")
    assert type(network).__name__ == {"simsiam": "SimSiamNet", "statdec": "StatDECNet"}.get(method, "DebClustNet")
    if method == "experts":
        assert (tmp_path / "experts" / "student" / "model.pt").is_file()
    configs = [train_config("refuge"), "bundles/refuge/configs/evaluate.json"]
    stdout = run_bundle("evaluating", configs, tmp_path, method=method, demo_size=60, probe_epochs=5)
    protocols = json.loads((tmp_path / "evaluation" / "metrics.json").read_text())["scores"]["protocols"]
    assert tuple(protocols) == PROTOCOL_ROWS and "Frozen-feature protocols" in stdout
    for row in protocols.values():
        assert row["f1_kind"] == "binary" and set(row["per_class_f1"]) == {"glaucoma", "normal"}
