"""``--tracking mlflow`` on a bundle's training: loss parts, metrics, the collapse signal and the model in MLflow."""

from __future__ import annotations

import importlib.util
import math

import pytest
import torch

from monai_debclust.handlers import effective_rank

from .test_bundles import run_bundle, train_config, tensorboard_tags


def test_effective_rank_of_collapsed_and_spread_features():
    generator = torch.Generator().manual_seed(0)
    line = torch.randn(200, 1, generator=generator) * torch.tensor([[1.0, 2.0, -1.0, 0.5]])
    assert effective_rank(line) == pytest.approx(1.0, abs=1e-6)  # every image on one line
    spread = torch.randn(2000, 4, generator=generator)
    assert 3.8 < effective_rank(spread) <= 4.0
    assert effective_rank(torch.ones(5, 3)) == 1.0


@pytest.mark.slow
def test_training_with_mlflow_tracking_logs_loss_parts_metrics_collapse_and_the_model(tmp_path):
    if importlib.util.find_spec("mlflow") is None:
        pytest.skip('mlflow is not installed (pip install -e ".[mlflow]")')
    from mlflow.tracking import MlflowClient

    run_bundle("training", [train_config("refuge")], tmp_path, epochs=2, tracking="mlflow")
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlruns.db'}")
    experiment = client.get_experiment_by_name("monai_experiment")
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    assert len(runs) == 1 and runs[0].info.run_name.startswith("run_")  # MONAI names each run by its start time
    first = runs[0]
    for name in ("loss", "contrastive", "clustering", "effective_rank", "collapse_score", "accuracy", "macro_f1"):
        history = client.get_metric_history(first.info.run_id, name)
        assert history and all(math.isfinite(point.value) for point in history), name
    assert len(client.get_metric_history(first.info.run_id, "effective_rank")) == 2  # once per epoch
    artifacts = {entry.path for entry in client.list_artifacts(first.info.run_id)}
    assert any(path.endswith("model.pt") for path in artifacts), artifacts
    assert {"effective_rank", "collapse_score", "loss"} <= tensorboard_tags(tmp_path / "tensorboard")
