"""Representation-quality probes: weighted kNN, linear and semi-supervised (few-label) probes.

These are the protocols by which self-supervised methods are compared on frozen features:

* kNN-20 (Wu et al., 2018, "Unsupervised feature learning via non-parametric instance
  discrimination"): each test feature votes with its ``k`` nearest training features by
  cosine similarity, neighbour ``i`` weighted ``exp(s_i / T)``;
* linear probe: a logistic regression on standardised frozen features;
* semi-supervised probe: the same with only a stratified fraction (10 %) of the training labels.

Samples labelled ``-1`` (unknown) are dropped before any probe. :func:`knn_cross_validate`
splits by duplicate group (:mod:`~monai_debclust.evaluation.splits`), so a copy of a test image
never votes for it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from monai_debclust.evaluation.matching import UNKNOWN_LABEL, LabelsLike, as_labels
from monai_debclust.evaluation.splits import GroupsLike, cross_validated_predictions, group_folds, grouped_labels
from monai_debclust.similarity import as_feature_matrix, unit_rows

__all__ = ["knn_predict", "knn_cross_validate", "stratified_subsample", "linear_probe"]

FeaturesLike = np.ndarray | torch.Tensor


def _labelled(features: FeaturesLike, labels: LabelsLike, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of the samples whose label is known, checked for matching lengths."""
    x, y = as_feature_matrix(features, f"{name} features"), as_labels(labels, f"{name} labels")
    if len(x) != len(y):
        raise ValueError(f"{name}: {len(x)} feature rows but {len(y)} labels.")
    known = y != UNKNOWN_LABEL
    return x[known], y[known]


def knn_predict(
    train_features: FeaturesLike,
    train_labels: LabelsLike,
    test_features: FeaturesLike,
    k: int = 20,
    temperature: float = 0.07,
    chunk_size: int = 4096,
) -> np.ndarray:
    """Weighted kNN classification by cosine similarity (the kNN monitor of Wu et al., 2018).

    For a test feature, the ``k`` training features of highest cosine similarity ``s_i`` vote
    for their labels with weight ``exp(s_i / T)``; the label with the largest total wins.

    Args:
        train_features: ``(N, D)`` features with known labels.
        train_labels: ``(N,)`` integer labels; ``-1`` rows are dropped.
        test_features: ``(M, D)`` features to classify.
        k: number of neighbours, at most the number of labelled training samples.
        temperature: ``T``; smaller values let the nearest neighbours dominate.
        chunk_size: test rows per similarity block, bounding memory to ``chunk_size x N``.

    Returns:
        ``(M,)`` predicted labels.
    """
    x_train, y_train = _labelled(train_features, train_labels, "train")
    x_test = as_feature_matrix(test_features, "test features")
    if x_test.shape[1] != x_train.shape[1]:
        raise ValueError(f"test features have {x_test.shape[1]} dims, training features {x_train.shape[1]}.")
    if not 1 <= k <= len(x_train):
        raise ValueError(f"k must be in [1, {len(x_train)}] (labelled training samples), got {k}.")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}.")
    classes, y_index = np.unique(y_train, return_inverse=True)
    x_train, x_test = unit_rows(x_train), unit_rows(x_test)
    predictions = np.empty(len(x_test), dtype=np.int64)
    for start in range(0, len(x_test), chunk_size):
        similarity = x_test[start : start + chunk_size] @ x_train.T
        neighbours = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        weights = np.exp(np.take_along_axis(similarity, neighbours, axis=1).astype(np.float64) / temperature)
        votes = np.zeros((len(similarity), len(classes)))
        np.add.at(votes, (np.arange(len(similarity))[:, None], y_index[neighbours]), weights)
        predictions[start : start + chunk_size] = classes[votes.argmax(axis=1)]
    return predictions


def knn_cross_validate(
    features: FeaturesLike,
    labels: LabelsLike,
    k: int = 20,
    folds: int = 5,
    seed: int = 0,
    groups: GroupsLike = None,
    extra_keys: Sequence | None = None,
) -> dict:
    """``folds``-fold cross-validated :func:`knn_predict`, split by group so no copy of a test image votes.

    Every scored sample is predicted once, by the model of the fold that held it out; the scores
    are those of the pooled out-of-fold predictions.

    Args:
        features: ``(N, D)`` features.
        labels: ``(N,)`` integer labels, ``-1`` unknown.
        k: neighbours, capped at a fold's training size.
        folds: folds of the ``StratifiedGroupKFold``.
        seed: seed of the folds.
        groups: ``(N,)`` duplicate groups (see :func:`~monai_debclust.evaluation.splits.grouped_labels`);
            None treats every sample as unique.
        extra_keys: ``(N,)`` a further grouping key, e.g. a patient id.

    Returns:
        ``dict(accuracy, macro_f1, per_class_f1={label: f1}, leakage)``.
    """
    x = as_feature_matrix(features)
    grouped = grouped_labels(labels, groups, extra_keys)
    if len(x) != len(grouped.keep):
        raise ValueError(f"features: {len(x)} rows but {len(grouped.keep)} labels.")
    x, y = x[grouped.keep], grouped.labels
    splits = group_folds(grouped, folds, seed)
    predictions = cross_validated_predictions(
        x, y, splits, lambda train_x, train_y, test_x: knn_predict(train_x, train_y, test_x, k=min(k, len(train_x)))
    )
    classes = np.unique(y)
    per_class = f1_score(y, predictions, labels=classes, average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y, predictions)),
        "macro_f1": float(per_class.mean()),
        "per_class_f1": {int(c): float(f) for c, f in zip(classes, per_class)},
        "leakage": grouped.leakage,
    }


def stratified_subsample(labels: LabelsLike, fraction: float, seed: int = 0) -> np.ndarray:
    """Indices of a random ``fraction`` of each class, rounded, but at least one per class.

    Args:
        labels: ``(N,)`` integer labels.
        fraction: in ``(0, 1]``; ``0.1`` is the 10 % semi-supervised protocol.
        seed: random seed of the draw.

    Returns:
        Sorted indices into ``labels``.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}.")
    y = as_labels(labels)
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        chosen.append(rng.choice(members, size=max(1, round(fraction * len(members))), replace=False))
    return np.sort(np.concatenate(chosen))


def linear_probe(
    train_x: FeaturesLike,
    train_y: LabelsLike,
    test_x: FeaturesLike,
    test_y: LabelsLike,
    label_fraction: float = 1.0,
    seed: int = 0,
) -> dict:
    """Logistic regression on standardised frozen features, scored on a test split.

    Args:
        train_x, train_y: training features ``(N, D)`` and labels ``(N,)``.
        test_x, test_y: test features ``(M, D)`` and labels ``(M,)``.
        label_fraction: fraction of the training labels used, drawn per class by
            :func:`stratified_subsample` (at least one per class); ``0.1`` is the 10 %
            semi-supervised probe, ``1.0`` the linear probe.
        seed: seed of the subsample and of the solver.

    Returns:
        ``dict(accuracy, macro_f1, num_train)`` with ``num_train`` the labels actually used.
    """
    x_train, y_train = _labelled(train_x, train_y, "train")
    x_test, y_test = _labelled(test_x, test_y, "test")
    if len(np.unique(y_train)) < 2:
        raise ValueError("the linear probe needs at least two classes among the training labels.")
    keep = stratified_subsample(y_train, label_fraction, seed)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    model.fit(x_train[keep], y_train[keep])
    predictions = model.predict(x_test)
    return {
        "accuracy": float(accuracy_score(y_test, predictions)),
        "macro_f1": float(f1_score(y_test, predictions, average="macro", zero_division=0)),
        "num_train": len(keep),
    }
