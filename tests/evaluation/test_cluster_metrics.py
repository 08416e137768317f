"""cluster_report and format_report, against values computed on paper and scikit-learn's."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from monai_debclust.evaluation import cluster_report, format_report

# Two classes, 4 of "a" and 6 of "b"; clusters 7 and 3. Contingency (rows a, b; columns 3, 7):
#   a: 1 3      Hungarian: 7 -> a, 3 -> b (3 + 4 = 7 agree; the swap gives 1 + 2 = 3).
#   b: 4 2
# a: predicted = cluster 7 = 5 samples, 3 right -> precision 3/5, recall 3/4, F1 2/3.
# b: predicted = cluster 3 = 5 samples, 4 right -> precision 4/5, recall 4/6, F1 8/11.
Y_TRUE = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
Y_PRED = [7, 7, 7, 3, 7, 7, 3, 3, 3, 3]
NAMES = ["a", "b"]


@pytest.fixture
def report():
    return cluster_report(Y_TRUE, Y_PRED, class_names=NAMES)


def test_hand_computed_two_class_example(report):
    assert report["mapping"] == {7: 0, 3: 1}
    assert report["accuracy"] == pytest.approx(0.7)
    a, b = report["per_class"]["a"], report["per_class"]["b"]
    assert (a["precision"], a["recall"], a["f1"], a["support"]) == pytest.approx((3 / 5, 3 / 4, 2 / 3, 4))
    assert (b["precision"], b["recall"], b["f1"], b["support"]) == pytest.approx((4 / 5, 4 / 6, 8 / 11, 6))
    assert report["macro_f1"] == pytest.approx((2 / 3 + 8 / 11) / 2)


def test_binary_f1_defaults_to_minority_class(report):
    assert report["positive_class"] == "a"
    assert report["binary_f1"] == pytest.approx(2 / 3)
    assert report["minority_class"] == "a" and report["minority_f1"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("positive", [1, "b"])
def test_binary_f1_uses_given_positive_class(positive):
    report = cluster_report(Y_TRUE, Y_PRED, class_names=NAMES, positive_class=positive)
    assert report["positive_class"] == "b"
    assert report["binary_f1"] == pytest.approx(8 / 11)
    assert report["minority_f1"] == pytest.approx(2 / 3)  # still the smallest class


@pytest.mark.parametrize("positive", [2, "c"])
def test_rejects_unknown_positive_class(positive):
    with pytest.raises(ValueError, match="positive_class"):
        cluster_report(Y_TRUE, Y_PRED, class_names=NAMES, positive_class=positive)


def test_perfect_permutation_scores_one():
    report = cluster_report([0, 0, 1, 1, 2, 2, 2], [5, 5, 9, 9, 1, 1, 1])
    assert report["accuracy"] == 1.0 and report["macro_f1"] == 1.0
    assert report["nmi"] == pytest.approx(1.0) and report["ari"] == pytest.approx(1.0)
    assert report["binary_f1"] is None and report["positive_class"] is None
    assert list(report["per_class"]) == ["0", "1", "2"]


def test_nmi_and_ari_equal_sklearn_on_raw_cluster_ids():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 3, 200), rng.integers(0, 5, 200)
    y_true[:20] = -1
    report = cluster_report(y_true, y_pred)
    assert report["nmi"] == pytest.approx(normalized_mutual_info_score(y_true[20:], y_pred[20:]))
    assert report["ari"] == pytest.approx(adjusted_rand_score(y_true[20:], y_pred[20:]))
    assert report["num_labelled"] == 180 and report["num_unlabelled"] == 20


def test_confusion_is_classes_by_clusters():
    report = cluster_report([0, 0, 1, 1, 2, 2], [0, 1, 1, 2, 2, 3])
    assert report["num_classes"] == 3 and report["num_clusters"] == 4
    assert report["clusters"] == [0, 1, 2, 3] and report["class_names"] == ["0", "1", "2"]
    assert report["confusion"] == [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]


def test_fewer_clusters_than_classes_give_unmatched_class_zero_recall():
    report = cluster_report([0, 0, 1, 1, 1, 2, 2, 2], [0, 0, 1, 1, 1, 1, 1, 1])
    assert report["per_class"]["0"]["recall"] == 1.0
    recalls = [report["per_class"][name]["recall"] for name in ("1", "2")]
    assert sorted(recalls) == [0.0, 1.0]


def test_unknown_labels_are_excluded():
    report = cluster_report([0, 0, -1, -1, 1, 1], [0, 0, 0, 0, 1, 1])
    assert report["accuracy"] == 1.0
    assert report["per_class"]["0"]["support"] == 2
    assert report["confusion"] == [[2, 0], [0, 2]]


def test_class_names_list_absent_classes_without_counting_them_in_macro_f1():
    report = cluster_report([0, 0, 1, 1], [0, 0, 1, 1], class_names=["x", "y", "z"])
    assert report["per_class"]["z"]["support"] == 0
    assert report["macro_f1"] == 1.0
    assert report["binary_f1"] is None  # three classes


def test_report_round_trips_through_json_and_still_formats(report):
    loaded = json.loads(json.dumps(report))
    assert loaded["per_class"] == report["per_class"]
    assert loaded["confusion"] == report["confusion"]
    assert format_report(loaded) == format_report(report)


def test_format_report_shows_classes_and_scores(report):
    text = format_report(report)
    lines = text.splitlines()
    row_a = next(line for line in lines if line.startswith("a "))
    assert row_a.split() == ["a", "0.600", "0.750", "0.667", "4"]
    assert "0.700" in next(line for line in lines if line.startswith("accuracy"))
    assert "0.697" in next(line for line in lines if line.startswith("macro F1"))  # 23/33
    assert "positive class: a" in text
    assert any(line.startswith("NMI") for line in lines) and any(line.startswith("ARI") for line in lines)
    assert "7->a" in text and "3->b" in text
