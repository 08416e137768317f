"""The four evaluation protocols of self-supervised methods, on frozen features, each scored alike.

* ``linear``: a linear classifier (cross-entropy, Adam, ``epochs`` epochs of mini-batches of
  ``batch_size``) on standardised features;
* ``semi_supervised``: the same with a seeded, stratified ``label_fraction`` (10 %) of the
  training labels (at least one per class);
* ``knn``: cosine kNN with ``k = 20`` (:func:`~monai_debclust.evaluation.knn_predict`);
* ``clustering``: k-means on the features (``kmeans``) and the model's own head (``head``), each
  cluster matched to a class by the Hungarian matching of
  :func:`~monai_debclust.evaluation.match_clusters`.

The supervised protocols are ``folds``-fold cross-validations on the labelled set, split by
duplicate group (and patient, where known) so that no copy of a test image is trained on, or —
with a data set's own test split — trained on the training images that share no group with a
test image (:mod:`~monai_debclust.evaluation.splits`). Each protocol reports top-1 ``accuracy``,
``f1`` (the minority class's F1 with two classes, the macro F1 otherwise; ``f1_kind`` says
which), ``macro_f1``, ``minority_f1``, ``per_class_f1`` by class name and the split's
``leakage`` record (duplicate groups merged, images left out). Images labelled ``-1`` and the
images of duplicate groups with conflicting labels are left out of every score.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score

from monai_debclust.similarity.kmeans import kmeans
from monai_debclust.evaluation.matching import match_clusters, relabel
from monai_debclust.evaluation.probes import knn_predict, stratified_subsample
from monai_debclust.evaluation.splits import (
    GroupsLike,
    Predictor,
    cross_validated_predictions,
    group_folds,
    grouped_labels,
    holdout_split,
)
from monai_debclust.similarity import as_feature_matrix

__all__ = ["PROTOCOLS", "clustering_row", "evaluate_protocols", "linear_classifier_predict", "protocol_scores"]

#: The protocols :func:`evaluate_protocols` knows, in the order of the papers' tables.
PROTOCOLS = ("linear", "semi_supervised", "knn", "clustering")


def protocol_scores(labels: np.ndarray, predictions: np.ndarray, class_names: Sequence[str]) -> dict:
    """Top-1 accuracy, binary-or-macro F1, macro F1, minority-class F1 and per-class F1 of ``predictions``.

    Args:
        labels: ``(N,)`` class ids in ``0 .. len(class_names) - 1``.
        predictions: ``(N,)`` predicted class ids.
        class_names: name of class ``i`` at index ``i``.
    """
    classes = np.arange(len(class_names))
    present = np.isin(classes, labels)
    per_class = f1_score(labels, predictions, labels=classes, average=None, zero_division=0)
    support = np.bincount(labels, minlength=len(classes))
    minority = int(np.flatnonzero(present)[np.argmin(support[present])])
    macro = float(per_class[present].mean())
    binary = int(present.sum()) == 2
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "f1": float(per_class[minority]) if binary else macro,
        "f1_kind": "binary" if binary else "macro",
        "macro_f1": macro,
        "minority_f1": float(per_class[minority]),
        "minority_class": str(class_names[minority]),
        "per_class_f1": {str(class_names[c]): float(per_class[c]) for c in classes[present]},
    }


def linear_classifier_predict(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    num_classes: int,
    epochs: int = 100,
    batch_size: int = 512,
    learning_rate: float = 1e-2,
    seed: int = 0,
) -> np.ndarray:
    """Train ``Linear(D, C)`` with cross-entropy on standardised ``train_x`` and predict ``test_x``.

    The standardisation (mean and standard deviation of each feature) is the training set's; the
    optimiser is Adam with ``learning_rate``, on shuffled mini-batches of ``batch_size``.
    """
    generator = torch.Generator().manual_seed(seed)
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    x = torch.from_numpy((train_x - mean) / std)
    y = torch.from_numpy(train_y).long()
    torch.manual_seed(seed)
    classifier = torch.nn.Linear(x.shape[1], num_classes)
    optimizer = torch.optim.Adam(classifier.parameters(), lr=learning_rate)
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=generator).split(batch_size):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(classifier(x[batch]), y[batch]).backward()
            optimizer.step()
    with torch.no_grad():
        return classifier(torch.from_numpy((test_x - mean) / std)).argmax(1).numpy()


def _predictor(protocol: str, num_classes: int, seed: int, knn_k: int, label_fraction: float, probe_epochs: int,
               probe_batch_size: int) -> Predictor:
    """``predict(train_x, train_y, test_x)`` of one supervised protocol."""
    if protocol == "knn":
        return lambda train_x, train_y, test_x: knn_predict(train_x, train_y, test_x, k=min(knn_k, len(train_x)))

    def linear(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
        if protocol == "semi_supervised":
            chosen = stratified_subsample(train_y, label_fraction, seed)
            train_x, train_y = train_x[chosen], train_y[chosen]
        return linear_classifier_predict(train_x, train_y, test_x, num_classes, probe_epochs, probe_batch_size,
                                         seed=seed)

    return linear


def evaluate_protocols(
    features: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    class_names: Sequence[str],
    q: np.ndarray | torch.Tensor | None = None,
    protocols: Sequence[str] = PROTOCOLS,
    num_clusters: int | None = None,
    knn_k: int = 20,
    folds: int = 5,
    label_fraction: float = 0.1,
    probe_epochs: int = 100,
    probe_batch_size: int = 512,
    seed: int = 0,
    groups: GroupsLike = None,
    extra_keys: Sequence | None = None,
    is_test: np.ndarray | Sequence[bool] | None = None,
) -> dict[str, dict]:
    """Score frozen ``features`` against ``labels`` by each of ``protocols`` (see the module docstring).

    Args:
        features: ``(N, D)`` encoder features (projection head removed).
        labels: ``(N,)`` class ids, ``-1`` for unknown.
        class_names: name of class ``i`` at index ``i``.
        q: ``(N, K)`` the model's soft assignments, for the ``head`` row of ``clustering`` (None: no such row).
        protocols: a subset of :data:`PROTOCOLS`.
        num_clusters: ``K`` of the k-means row; default the number of classes.
        knn_k: neighbours of the kNN protocol.
        folds: folds of the cross-validation of the supervised protocols.
        label_fraction: fraction of the training labels of the semi-supervised probe.
        probe_epochs: epochs of the linear classifiers.
        probe_batch_size: their batch size.
        seed: seed of the folds, the label subsample, the classifiers and k-means.
        groups: ``(N,)`` duplicate group of each image, or a
            :class:`~monai_debclust.similarity.DuplicateGroups` (from
            :func:`~monai_debclust.similarity.pixel_duplicate_groups`); None: every image unique.
        extra_keys: ``(N,)`` a further grouping key such as a patient id (``""`` unknown).
        is_test: ``(N,)`` marks the data set's own test images: the supervised protocols then
            train once on the other images (less those sharing a group with a test image) and
            score the test images, and the clustering rows score the training images; None
            cross-validates and clusters every labelled image.

    Returns:
        ``{row: scores}`` with rows ``linear``, ``semi_supervised``, ``knn``, ``kmeans`` and ``head``
        for the protocols asked (``head`` only with ``q``; ``kmeans_overclustered`` /
        ``head_overclustered`` instead when there are more clusters than classes, see :func:`clustering_row`); scores as :func:`protocol_scores` plus
        ``leakage``. A supervised row is missing where a split cannot hold every class.
    """
    unknown = sorted(set(protocols) - set(PROTOCOLS))
    if unknown:
        raise ValueError(f"unknown protocol(s) {unknown}; known: {', '.join(PROTOCOLS)}.")
    x_all = as_feature_matrix(features)
    grouped = grouped_labels(labels, groups, extra_keys)
    if len(x_all) != len(grouped.keep):
        raise ValueError(f"{len(x_all)} feature rows but {len(grouped.keep)} labels.")
    x, y = x_all[grouped.keep], grouped.labels
    if not len(y):
        raise ValueError("the protocols need labelled images; none has a known label outside a conflict.")
    if is_test is not None:
        splits = [holdout_split(np.asarray(is_test, dtype=bool), grouped)]
    else:
        enough = len(np.unique(y)) >= 2 and np.bincount(y)[np.unique(y)].min() >= folds
        splits = group_folds(grouped, folds, seed) if enough and len(np.unique(grouped.groups)) >= folds \
            else []  # a fold split needs every class in every fold
    scored = np.concatenate([test for _, test in splits]) if splits else np.zeros(0, dtype=np.int64)
    rows: dict[str, dict] = {}
    for protocol in [p for p in PROTOCOLS[:3] if p in protocols and splits]:
        predict = _predictor(protocol, len(class_names), seed, knn_k, label_fraction, probe_epochs, probe_batch_size)
        predictions = cross_validated_predictions(x, y, splits, predict)
        rows[protocol] = {**protocol_scores(y[scored], predictions[scored], class_names), "leakage": grouped.leakage}
    if "clustering" in protocols:  # on the labelled training images (all of them without a test split)
        y_all = torch.as_tensor(np.asarray(labels)).long().numpy()
        pool = (y_all >= 0) if is_test is None else (y_all >= 0) & ~np.asarray(is_test, dtype=bool)
        scored_pool = grouped.keep[pool]
        y_pool = y_all[pool][scored_pool]
        k = min(num_clusters or len(class_names), int(pool.sum()))
        _, assigned = kmeans(x_all[pool], k, seed=seed)
        assigned = assigned[scored_pool]
        rows[clustering_row("kmeans", k, len(class_names))] = {
            **protocol_scores(y_pool, relabel(assigned, match_clusters(y_pool, assigned)), class_names),
            "leakage": grouped.leakage}
        if q is not None:
            head = torch.as_tensor(q).argmax(1).numpy()[pool][scored_pool]
            rows[clustering_row("head", q.shape[1], len(class_names))] = {
                **protocol_scores(y_pool, relabel(head, match_clusters(y_pool, head)), class_names),
                "leakage": grouped.leakage}
    return rows


def clustering_row(row: str, num_clusters: int, num_classes: int) -> str:
    """The name of a clustering row: ``row``, or ``<row>_overclustered`` when ``num_clusters > num_classes``.

    An over-clustering (K = 3-5 times the classes) is scored by many-to-one matching
    (:func:`~monai_debclust.evaluation.match_clusters`), which a larger K makes easier, so its
    figures are reported apart from the one-to-one ones.
    """
    return f"{row}_overclustered" if num_clusters > num_classes else row
