"""kNN and linear probes on blobs with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs

from monai_debclust.evaluation import knn_cross_validate, knn_predict, linear_probe, stratified_subsample


def blobs(n=300, classes=3, seed=0, spread=0.5):
    x, y = make_blobs(n_samples=n, centers=classes, n_features=16, cluster_std=spread, random_state=seed)
    return x.astype(np.float32), y


def test_knn_predict_uses_cosine_not_euclidean_distance():
    # The query is Euclidean-closer to (1, 0) (class 0) but has the same direction as (10, 10).
    train = np.array([[1.0, 0.0], [10.0, 10.0]])
    assert knn_predict(train, [0, 1], np.array([[2.0, 2.0]]), k=1).tolist() == [1]


def test_knn_predict_weights_votes_by_similarity():
    # Two far neighbours of class 0 (cos 0.6) against one near neighbour of class 1 (cos 1):
    # with T = 0.07, exp(1/T) >> 2 exp(0.6/T), so class 1 wins although it has fewer votes.
    train = np.array([[0.6, 0.8], [0.6, -0.8], [1.0, 0.0]])
    query = np.array([[1.0, 0.0]])
    assert knn_predict(train, [0, 0, 1], query, k=3).tolist() == [1]
    # A large temperature flattens the weights and the majority wins.
    assert knn_predict(train, [0, 0, 1], query, k=3, temperature=100.0).tolist() == [0]


def test_knn_predict_keeps_label_ids_and_drops_unknown_training_rows():
    train = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    labels = torch.tensor([7, 3, -1])
    predicted = knn_predict(torch.from_numpy(train), labels, np.array([[0.1, 1.0], [1.0, 0.1]]), k=1, chunk_size=1)
    assert predicted.tolist() == [3, 7]


def test_knn_predict_rejects_k_above_training_size():
    with pytest.raises(ValueError, match="k must be in"):
        knn_predict(np.eye(3), [0, 1, 2], np.eye(3), k=4)


def test_knn_cross_validation_separates_blobs():
    x, y = blobs()
    scores = knn_cross_validate(x, y, k=20, folds=5)
    assert scores["accuracy"] == pytest.approx(1.0)
    assert scores["macro_f1"] == pytest.approx(1.0)
    assert sorted(scores["per_class_f1"]) == [0, 1, 2]


def test_knn_cross_validation_on_random_labels_is_near_chance():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(400, 16)).astype(np.float32), rng.integers(0, 4, 400)
    scores = knn_cross_validate(x, y, k=20, folds=5)
    assert 0.15 < scores["accuracy"] < 0.35


def test_stratified_subsample_keeps_every_class():
    y = np.array([0] * 200 + [1] * 30 + [2] * 3)
    keep = stratified_subsample(y, 0.1, seed=1)
    counts = np.bincount(y[keep], minlength=3)
    assert counts.tolist() == [20, 3, 1]
    assert len(np.unique(keep)) == len(keep)
    assert np.array_equal(keep, stratified_subsample(y, 0.1, seed=1))


@pytest.mark.parametrize("fraction", [0.0, 1.5])
def test_stratified_subsample_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match="fraction"):
        stratified_subsample([0, 1], fraction)


def test_linear_probe_with_ten_percent_labels_learns_rare_class():
    x, y = blobs(n=600, classes=3, seed=2)
    rare = np.flatnonzero(y == 2)[:8]  # keep only 8 samples of class 2: 10 % rounds to 1
    train = np.concatenate([np.flatnonzero(y != 2)[:400], rare[:5]])
    test = np.concatenate([np.flatnonzero(y != 2)[400:], rare[5:]])
    scores = linear_probe(x[train], y[train], x[test], y[test], label_fraction=0.1, seed=0)
    assert scores["num_train"] == 40 + 1  # ~200 per common class -> ~20 each, and 1 of the rare one
    assert scores["accuracy"] == pytest.approx(1.0)
    assert scores["macro_f1"] == pytest.approx(1.0)  # fails if class 2 were never seen


def test_linear_probe_full_labels_beats_chance_on_overlapping_blobs():
    x, y = blobs(n=400, classes=2, seed=3, spread=4.0)
    scores = linear_probe(x[:300], y[:300], x[300:], y[300:])
    assert scores["num_train"] == 300
    assert 0.6 < scores["accuracy"] <= 1.0


def test_linear_probe_needs_two_classes():
    with pytest.raises(ValueError, match="two classes"):
        linear_probe(np.ones((4, 2)), [1, 1, 1, -1], np.ones((2, 2)), [1, 1])
