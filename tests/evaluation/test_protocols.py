"""The four frozen-feature protocols: linear, semi-supervised (10 %), kNN-20, clustering."""

from __future__ import annotations

import numpy as np
import pytest

from monai_debclust.evaluation import PROTOCOLS, evaluate_protocols, protocol_scores


def blobs(counts: list[int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(counts)), counts)
    centres = 10 * np.eye(len(counts), 6)
    return (centres[labels] + rng.normal(size=(len(labels), 6))).astype(np.float32), labels


def test_every_protocol_separates_well_separated_classes_and_reports_binary_f1_of_the_minority():
    features, labels = blobs([20, 180])
    q = np.eye(2)[labels]
    rows = evaluate_protocols(features, labels, ["glaucoma", "normal"], q=q)
    assert list(rows) == ["linear", "semi_supervised", "knn", "kmeans", "head"]
    assert rows["semi_supervised"]["accuracy"] > 0.9  # from 2 glaucoma and 14 normal labels per fold
    for name, row in rows.items():
        assert name == "semi_supervised" or row["accuracy"] == pytest.approx(1.0)
        assert row["f1_kind"] == "binary"
        assert row["f1"] == row["minority_f1"] == row["per_class_f1"]["glaucoma"]


def test_many_classes_report_macro_f1_and_unknown_labels_are_left_out():
    features, labels = blobs([30, 30, 10])
    labels[:5] = -1
    rows = evaluate_protocols(features, labels, ["a", "b", "c"], protocols=["knn", "clustering"])
    assert set(rows) == {"knn", "kmeans"} and rows["knn"]["f1_kind"] == "macro"
    assert set(rows["knn"]["per_class_f1"]) == {"a", "b", "c"}


def test_protocol_scores_of_a_wrong_prediction_name_the_minority_class():
    scores = protocol_scores(np.array([0, 1, 1, 1]), np.array([1, 1, 1, 1]), ["rare", "common"])
    assert scores["minority_class"] == "rare" and scores["f1"] == 0.0 and scores["accuracy"] == 0.75


def test_unknown_protocol_is_refused():
    with pytest.raises(ValueError, match="unknown protocol"):
        evaluate_protocols(*blobs([10, 10]), ["a", "b"], protocols=["linear", "probe"])
    assert PROTOCOLS == ("linear", "semi_supervised", "knn", "clustering")
