"""Cluster-to-class matching: permutations, K > C, K < C, unknown labels, input types."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_debclust.evaluation import cluster_accuracy, contingency_table, match_clusters, relabel


def test_permuted_cluster_ids_match_perfectly():
    y_true = [0, 0, 1, 1, 2, 2, 2]
    y_pred = [2, 2, 0, 0, 1, 1, 1]
    assert match_clusters(y_true, y_pred) == {2: 0, 0: 1, 1: 2}
    assert cluster_accuracy(y_true, y_pred) == 1.0


def test_non_contiguous_ids_and_tensor_input():
    y_true = torch.tensor([10, 10, 10, 4, 4])
    y_pred = np.array([-3, -3, 8, 8, 8])
    # class 10 -> cluster -3 (2 agree), class 4 -> cluster 8 (2 agree); the other way gives 1 + 0.
    assert match_clusters(y_true, y_pred) == {-3: 10, 8: 4}
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(4 / 5)


def test_hungarian_beats_greedy_assignment():
    # Greedy (largest cell first) would take cluster 0 -> class 0 (3) and leave cluster 1 ->
    # class 1 (0): 3 matches. Hungarian takes 0 -> 1 and 1 -> 0: 2 + 2 = 4 matches.
    y_true = [0, 0, 0, 1, 1, 0, 0]
    y_pred = [0, 0, 0, 0, 0, 1, 1]
    assert match_clusters(y_true, y_pred) == {0: 1, 1: 0}
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(4 / 7)


def test_more_clusters_than_classes_map_many_to_one():
    # Class 0 is split over clusters 0 and 1, class 1 over clusters 2 and 3.
    y_true = [0, 0, 0, 0, 0, 1, 1, 1, 1]
    y_pred = [0, 0, 0, 1, 1, 2, 2, 3, 1]
    mapping = match_clusters(y_true, y_pred)
    assert mapping == {0: 0, 1: 0, 2: 1, 3: 1}
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(8 / 9)


def test_fewer_clusters_than_classes_leave_a_class_unmatched():
    y_true = [0, 0, 1, 1, 2, 2]
    y_pred = [0, 0, 1, 1, 1, 1]
    mapping = match_clusters(y_true, y_pred)
    assert sorted(mapping) == [0, 1]
    assert mapping[0] == 0 and mapping[1] in (1, 2)
    assert len(set(mapping.values())) == 2  # one class has no cluster
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(4 / 6)


def test_num_classes_makes_absent_class_count():
    # Only classes 0 and 1 occur, but there are 3; with 3 clusters the matching stays one-to-one.
    y_true = [0, 0, 0, 1, 1, 1]
    y_pred = [0, 0, 2, 1, 1, 1]
    assert match_clusters(y_true, y_pred) == {0: 0, 1: 1, 2: 0}
    assert match_clusters(y_true, y_pred, num_classes=3) == {0: 0, 1: 1, 2: 2}
    assert cluster_accuracy(y_true, y_pred, num_classes=3) == pytest.approx(5 / 6)


def test_unknown_labels_are_excluded():
    y_true = [0, 0, -1, -1, -1, 1, 1]
    y_pred = [0, 0, 1, 1, 1, 1, 1]
    assert cluster_accuracy(y_true, y_pred) == 1.0
    classes, clusters, table = contingency_table(y_true, y_pred)
    assert classes.tolist() == [0, 1] and clusters.tolist() == [0, 1]
    assert table.tolist() == [[2, 0], [0, 2]]


def test_cluster_of_only_unknown_samples_is_unmapped_and_relabels_to_unknown():
    y_true = [0, 1, -1]
    y_pred = [4, 5, 6]
    mapping = match_clusters(y_true, y_pred)
    assert mapping == {4: 0, 5: 1}
    assert relabel(y_pred, mapping).tolist() == [0, 1, -1]


def test_relabel_replaces_cluster_ids():
    assert relabel(torch.tensor([3, 1, 3, 2]), {1: 0, 2: 0, 3: 1}).tolist() == [1, 0, 1, 0]


@pytest.mark.parametrize(
    ("y_true", "y_pred", "match"),
    [
        ([0, 1], [0], "same length"),
        ([0.0, 1.0], [0, 1], "integers"),
        ([[0, 1]], [[0, 1]], "one-dimensional"),
        ([-1, -1], [0, 1], "no labelled samples"),
        ([0, -2], [0, 1], ">= 0"),
    ],
)
def test_rejects_bad_labels(y_true, y_pred, match):
    with pytest.raises(ValueError, match=match):
        match_clusters(y_true, y_pred)


def test_rejects_label_outside_num_classes():
    with pytest.raises(ValueError, match="outside 0 .. 1"):
        match_clusters([0, 2], [0, 1], num_classes=2)
