"""ClusterEvaluator, score_clustering and MetricsWriter."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from monai_debclust.engines import ClusterEvaluator, format_scores, score_clustering
from monai_debclust.handlers import MetricsWriter

from .conftest import BATCH, NUM_IMAGES


def test_score_clustering_of_a_perfect_split_and_its_knn_probe():
    labels = np.array([0] * 15 + [1] * 15)
    q = np.eye(2)[1 - labels]  # cluster ids swapped: the matching must undo it
    features = np.eye(2)[labels] + 0.01 * np.random.default_rng(0).normal(size=(30, 2))
    scores = score_clustering(features, q, labels, class_names=["normal", "glaucoma"])
    assert scores["cluster"]["accuracy"] == 1.0 and scores["cluster"]["macro_f1"] == 1.0
    assert scores["knn"]["accuracy"] == 1.0 and (scores["knn_k"], scores["knn_folds"]) == (20, 5)
    text = format_scores(scores)
    assert "glaucoma" in text and "kNN-20 probe (5-fold): accuracy 1.000" in text


def test_too_few_labels_for_k_neighbours_in_every_fold_skip_the_probe():
    labels = [0, 1] * 12 + [-1] * 6  # 24 labelled: a training fold holds 19 < 20
    scores = score_clustering(np.random.rand(30, 3), np.eye(2)[[0, 1] * 15], labels)
    assert scores["knn"] is None and scores["cluster"]["num_unlabelled"] == 6
    assert "kNN" not in format_scores(scores)


@pytest.fixture
def evaluator(samples, tiny_network, tmp_path):
    loader = torch.utils.data.DataLoader(samples, batch_size=BATCH)
    writer = MetricsWriter(tmp_path / "metrics.json")
    return ClusterEvaluator(
        "cpu", loader, tiny_network(), class_names=["dark", "bright"], knn_k=5, val_handlers=[writer]
    )


def test_evaluator_sets_scalar_metrics_scores_and_the_best_epoch(evaluator):
    evaluator.run(3)
    metrics = evaluator.state.metrics
    assert {"accuracy", "macro_f1", "minority_f1", "nmi", "ari", "f1_dark", "f1_bright", "knn5_accuracy",
            "knn5_macro_f1"} <= set(metrics)
    assert all(isinstance(value, float) for value in metrics.values())
    assert evaluator.state.scores["cluster"]["num_labelled"] == NUM_IMAGES
    assert (evaluator.state.best_metric, evaluator.state.best_metric_epoch) == (metrics["macro_f1"], 3)
    assert evaluator.state.epoch == 3  # the trainer's epoch, as MONAI's ValidationHandler passes it


def test_metrics_file_keeps_a_history_and_drops_what_a_resumed_run_redoes(evaluator, tmp_path):
    for epoch in (1, 2, 3):
        evaluator.run(epoch)
    evaluator.run(2)  # a run resumed from the checkpoint of epoch 1 redoes epoch 2
    content = json.loads((tmp_path / "metrics.json").read_text())
    assert [entry["epoch"] for entry in content["history"]] == [1, 2]
    assert content["epoch"] == 2 and content["best"]["metric"] == "macro_f1"
    assert content["scores"]["cluster"]["class_names"] == ["dark", "bright"]
    assert not list(tmp_path.glob(".*tmp"))


def write_images(samples: list[dict], folder) -> list[str]:
    """Each sample's image as a PNG under ``folder/<label>/``; sample 1 is a byte copy of sample 0 filed under
    the other class (a conflict) and sample 3 a copy of sample 2 in its own class (a merged group)."""
    from PIL import Image

    paths = []
    for i, sample in enumerate(samples):
        source = {1: 0, 3: 2}.get(i, i)
        pixels = (samples[source]["image"].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        path = folder / str(sample["label"]) / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path)
        paths.append(str(path))
    return paths


def test_metrics_json_carries_the_duplicate_groups_and_the_images_left_out(samples, tiny_network, tmp_path):
    samples[1]["label"] = 1 - samples[0]["label"]  # the copy of image 0 is filed under the other class
    paths = write_images(samples, tmp_path / "images")
    with_paths = [{**sample, "path": path} for sample, path in zip(samples, paths)]
    loader = torch.utils.data.DataLoader(with_paths, batch_size=BATCH)
    evaluator = ClusterEvaluator("cpu", loader, tiny_network(), class_names=["dark", "bright"], knn_k=5,
                                 val_handlers=[MetricsWriter(tmp_path / "metrics.json")], protocols=("knn",),
                                 duplicate_cache_dir=tmp_path / "cache")
    evaluator.run()
    content = json.loads((tmp_path / "metrics.json").read_text())
    leakage = content["scores"]["leakage"]
    assert (leakage["groups"], leakage["merged_images"]) == (2, 4) and leakage["grouped_by"] == "pixels"
    assert (leakage["conflict_groups"], leakage["conflict_images_excluded"]) == (1, 2)
    assert content["metrics"]["images_left_out"] == 2.0 and content["metrics"]["duplicate_groups"] == 2.0
    assert content["scores"]["protocols"]["knn"]["leakage"] == {k: v for k, v in leakage.items() if k != "grouped_by"}
    assert len(list((tmp_path / "cache").glob("groups-*.npz"))) == 1
    assert "2 groups merging 4 images; 2 images of 1 groups filed under two classes left out" in format_scores(
        evaluator.state.scores)


def test_a_test_split_scores_the_test_images_and_removes_their_training_copies(samples, tiny_network, tmp_path):
    paths = write_images(samples, tmp_path / "images")
    is_test = [i in (3, 20, 21, 22, 23, 4, 5, 6) for i in range(len(samples))]  # 3 is a copy of training image 2
    marked = [{**sample, "path": path, "is_test": flag} for sample, path, flag in zip(samples, paths, is_test)]
    loader = torch.utils.data.DataLoader(marked, batch_size=BATCH)
    evaluator = ClusterEvaluator("cpu", loader, tiny_network(), class_names=["dark", "bright"], knn_k=3,
                                 protocols=("knn", "clustering"), duplicate_cache_dir=tmp_path / "cache")
    evaluator.run()
    scores = evaluator.state.scores
    assert scores["leakage"]["split"] == "holdout" and scores["leakage"]["train_images_removed"] == 1
    assert scores["cluster"]["num_labelled"] == len(samples) - sum(is_test)  # clustering on the training images
    assert scores["protocols"]["knn"]["leakage"]["train_images_removed"] == 1
    assert "1 training images sharing a group with a test image removed" in format_scores(scores)
    assert "scored on the test set" in format_scores(scores)
