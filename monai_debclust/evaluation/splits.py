"""Splits that cannot leak: folds by duplicate group and patient, conflicts left out, test copies out of training.

A stratified k-fold over images puts the copies of one photograph on both sides of a fold, and a
kNN then finds the copy, not the class. Here every image carries a group
(:func:`~monai_debclust.similarity.pixel_duplicate_groups`, optionally joined by a known patient
id) and a fold holds whole groups (scikit-learn's ``StratifiedGroupKFold``). A duplicate group
whose members carry different labels (a *conflict*) has no right answer: its images are left out
of training and scores alike, and counted. With a data set's own test split, training keeps no
image that shares a group with a test image.

Every protocol reports the same ``leakage`` record::

    {"split": "group_kfold" | "holdout", "groups": duplicate groups of 2+ labelled images,
     "merged_images": their images, "conflict_groups": ..., "conflict_images_excluded": ...,
     "train_images_removed": training images sharing a group with a test image (test split only)}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import StratifiedGroupKFold

from monai_debclust.evaluation.matching import UNKNOWN_LABEL
from monai_debclust.similarity import DuplicateGroups, join_groups, label_conflicts

__all__ = ["GroupedLabels", "cross_validated_predictions", "group_folds", "grouped_labels", "holdout_split"]

GroupsLike = DuplicateGroups | np.ndarray | Sequence[int] | None
#: ``predict(train_x, train_y, test_x) -> test predictions``.
Predictor = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass
class GroupedLabels:
    """The images a protocol may score: known labels outside conflicting duplicate groups.

    Attributes:
        keep: ``(N,)`` mask of the scored images (known label, no conflict).
        labels: ``(K,)`` their labels.
        groups: ``(K,)`` their split groups (duplicates joined with the extra keys).
        representative: ``(K,)`` whether the image is the first scored member of its duplicate group
            (the one that training keeps).
        leakage: the record of the module docstring.
    """

    keep: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    representative: np.ndarray
    leakage: dict


def grouped_labels(labels: np.ndarray | torch.Tensor | Sequence[int], groups: GroupsLike = None,
                   extra_keys: Sequence | None = None) -> GroupedLabels:
    """Find the scored images and their split groups.

    Args:
        labels: ``(N,)`` class ids, ``-1`` unknown.
        groups: ``(N,)`` duplicate group ids or :class:`~monai_debclust.similarity.DuplicateGroups`;
            None makes every image its own group (no duplicates known).
        extra_keys: ``(N,)`` a further grouping key such as a patient id (``None``/``""`` unknown):
            images sharing it stay on one side of every split. It joins groups but makes no conflict
            (one patient's two eyes may differ).
    """
    y = torch.as_tensor(np.asarray(labels)).long().numpy()
    if isinstance(groups, DuplicateGroups):
        groups = groups.group
    duplicate = np.arange(len(y)) if groups is None else np.asarray(groups, dtype=np.int64)
    if len(duplicate) != len(y):
        raise ValueError(f"{len(duplicate)} group ids for {len(y)} labels.")
    known = y != UNKNOWN_LABEL
    conflict = label_conflicts(duplicate, y)
    split = duplicate if extra_keys is None else join_groups(duplicate, extra_keys)
    sizes = np.bincount(duplicate[known], minlength=int(duplicate.max()) + 1)[duplicate] if known.any() \
        else np.zeros(len(y), np.int64)
    shared = known & (sizes > 1)
    leakage = {"split": "group_kfold", "groups": int(len(np.unique(duplicate[shared]))),
               "merged_images": int(shared.sum()),
               "conflict_groups": int(len(np.unique(duplicate[known & conflict]))),
               "conflict_images_excluded": int((known & conflict).sum())}
    keep = known & ~conflict
    representative = np.zeros(int(keep.sum()), dtype=bool)
    representative[np.unique(duplicate[keep], return_index=True)[1]] = True
    return GroupedLabels(keep, y[keep], split[keep], representative, leakage)


def group_folds(grouped: GroupedLabels, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``folds`` (train, test) index pairs into the scored images, each group wholly on one side, classes
    stratified as far as groups allow, training reduced to one image per duplicate group."""
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(train[grouped.representative[train]], test)
            for train, test in splitter.split(np.zeros(len(grouped.labels)), grouped.labels, grouped.groups)]


def holdout_split(is_test: np.ndarray, grouped: GroupedLabels) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices into the scored images for a data set's own test split; training loses every
    image whose group holds a test image (``grouped.leakage`` records how many)."""
    is_test = np.asarray(is_test, dtype=bool)[grouped.keep]
    touched = np.isin(grouped.groups, grouped.groups[is_test])
    train, test = np.flatnonzero(~is_test & ~touched & grouped.representative), np.flatnonzero(is_test)
    grouped.leakage.update(split="holdout", train_images_removed=int((~is_test & touched).sum()))
    return train, test


def cross_validated_predictions(
    features: np.ndarray, labels: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]], predict: Predictor
) -> np.ndarray:
    """Predictions of each split's test images by ``predict`` trained on that split's training images only.

    Returns:
        ``(N,)`` predictions; images in no split's test side keep ``-1``.
    """
    predictions = np.full(len(labels), UNKNOWN_LABEL, dtype=np.int64)
    for train, test in splits:
        predictions[test] = predict(features[train], labels[train], features[test])
    return predictions
