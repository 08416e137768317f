"""Match cluster ids to class ids (Hungarian assignment), the basis of every cluster metric.

A clustering names its groups arbitrarily, so before clusters can be scored against labels
each cluster is given the class it stands for. With as many clusters as classes this is the
one-to-one assignment that maximises the number of agreeing samples (Kuhn's Hungarian
method on the contingency table, as in Xie et al., 2016, "Unsupervised deep embedding for
clustering analysis"). With more clusters than classes, the Hungarian step gives every class
one cluster first and each remaining cluster then joins the class it overlaps most
(many-to-one). With fewer clusters than classes, the Hungarian step leaves some classes
without a cluster; their recall is 0.

Labels and cluster ids are any integers (they need not be contiguous). A true label of ``-1``
means *unknown*: that sample is left out of the matching and of every score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

__all__ = [
    "UNKNOWN_LABEL",
    "as_labels",
    "labelled_pairs",
    "contingency_table",
    "match_clusters",
    "relabel",
    "cluster_accuracy",
]

#: The label of a sample whose class is not known; such samples are excluded from scoring.
UNKNOWN_LABEL = -1

LabelsLike = np.ndarray | torch.Tensor | Sequence[int]


def as_labels(labels: LabelsLike, name: str = "labels") -> np.ndarray:
    """Return ``labels`` (array, tensor or list of ints) as a 1-D ``int64`` array.

    Raises:
        ValueError: when the labels are not one-dimensional or not integers.
    """
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    array = np.asarray(labels)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}.")
    if array.size and array.dtype.kind not in "iu":
        raise ValueError(f"{name} must be integers, got dtype {array.dtype}.")
    return array.astype(np.int64)


def labelled_pairs(
    y_true: LabelsLike, y_pred: LabelsLike, num_classes: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate labels and cluster ids and drop the samples whose label is unknown (``-1``).

    Args:
        y_true: class label per sample, ``-1`` where unknown.
        y_pred: cluster id per sample.
        num_classes: when given, the classes are ``0 .. num_classes - 1`` (also those absent
            from ``y_true``); otherwise the distinct known labels in ``y_true``.

    Returns:
        ``(y_true, y_pred, classes)``: the labelled samples only, and the sorted class ids.

    Raises:
        ValueError: on mismatched lengths, labels below ``-1`` or outside ``num_classes``, or
            when no sample is labelled.
    """
    t, p = as_labels(y_true, "y_true"), as_labels(y_pred, "y_pred")
    if len(t) != len(p):
        raise ValueError(f"y_true and y_pred must have the same length, got {len(t)} and {len(p)}.")
    known = t != UNKNOWN_LABEL
    t, p = t[known], p[known]
    if len(t) == 0:
        raise ValueError("no labelled samples: every y_true is -1 (unknown) or the input is empty.")
    if t.min() < 0:
        raise ValueError(f"class labels must be >= 0, or -1 for unknown; got {t.min()}.")
    if num_classes is None:
        return t, p, np.unique(t)
    if t.max() >= num_classes:
        raise ValueError(f"class label {t.max()} is outside 0 .. {num_classes - 1} (num_classes={num_classes}).")
    return t, p, np.arange(num_classes, dtype=np.int64)


def contingency_table(
    y_true: LabelsLike, y_pred: LabelsLike, num_classes: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count the labelled samples of each class in each cluster.

    Args:
        y_true: class label per sample, ``-1`` where unknown (excluded).
        y_pred: cluster id per sample.
        num_classes: see :func:`labelled_pairs`.

    Returns:
        ``(classes, clusters, table)``: sorted class ids ``(C,)``, sorted ids of the clusters
        holding labelled samples ``(K,)``, and the ``(C, K)`` table of counts.
    """
    t, p, classes = labelled_pairs(y_true, y_pred, num_classes)
    clusters, column = np.unique(p, return_inverse=True)
    table = np.zeros((len(classes), len(clusters)), dtype=np.int64)
    np.add.at(table, (np.searchsorted(classes, t), column), 1)
    return classes, clusters, table


def _class_row_per_cluster(table: np.ndarray) -> np.ndarray:
    """Row (class) index for each column (cluster) of a ``(C, K)`` contingency table.

    Hungarian one-to-one assignment maximising the matched counts; the columns it leaves over
    (only when there are more clusters than classes) take the row they overlap most.
    """
    rows = table.argmax(axis=0)
    matched_rows, matched_columns = linear_sum_assignment(table, maximize=True)
    rows[matched_columns] = matched_rows
    return rows


def match_clusters(y_true: LabelsLike, y_pred: LabelsLike, num_classes: int | None = None) -> dict[int, int]:
    """Map each cluster to the class it stands for.

    ``K == C``: one-to-one Hungarian assignment maximising the agreeing samples.
    ``K > C``: Hungarian for ``C`` of the clusters, then every remaining cluster maps to the
    class it overlaps most (many-to-one). ``K < C``: Hungarian; the classes left over get no
    cluster, so their recall is 0.

    Args:
        y_true: class label per sample; ``-1`` means unknown and the sample is ignored.
        y_pred: cluster id per sample (any integers).
        num_classes: when given, the classes are ``0 .. num_classes - 1`` even if some are
            absent from ``y_true``; this decides whether ``K`` is below, equal or above ``C``.

    Returns:
        ``{cluster id: class id}`` for every cluster that holds a labelled sample.
    """
    classes, clusters, table = contingency_table(y_true, y_pred, num_classes)
    rows = _class_row_per_cluster(table)
    return {int(cluster): int(classes[row]) for cluster, row in zip(clusters, rows)}


def relabel(y_pred: LabelsLike, mapping: Mapping[int, int]) -> np.ndarray:
    """Replace each cluster id by its class, ``-1`` for a cluster missing from ``mapping``.

    A cluster is missing when it held no labelled sample while matching; its members get the
    unknown label rather than an invented class.
    """
    clusters, index = np.unique(as_labels(y_pred, "y_pred"), return_inverse=True)
    classes = np.array([mapping.get(int(cluster), UNKNOWN_LABEL) for cluster in clusters], dtype=np.int64)
    return classes[index]


def cluster_accuracy(y_true: LabelsLike, y_pred: LabelsLike, num_classes: int | None = None) -> float:
    """Fraction of labelled samples whose matched cluster (:func:`match_clusters`) is their class.

    Samples with ``y_true == -1`` are excluded from numerator and denominator.
    """
    _, _, table = contingency_table(y_true, y_pred, num_classes)
    rows = _class_row_per_cluster(table)
    return float(table[rows, np.arange(table.shape[1])].sum() / table.sum())
