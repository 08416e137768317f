"""Long-tailed class profiles, seeded long-tailed sub-sampling and class-count summaries.

The profile is the exponential one of Cao et al., "Learning Imbalanced Datasets with
Label-Distribution-Aware Margin Loss" (LDAM, NeurIPS 2019), used to build CIFAR-10-LT and the
1:9 glaucoma cohorts (REFUGE-like) this package benchmarks on.
"""

from __future__ import annotations

import logging
import math
import os
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from monai_debclust.utils import write_json

__all__ = [
    "longtail_counts",
    "longtail_class_counts",
    "sample_longtail",
    "class_count_summary",
    "format_class_summary",
    "write_class_summary",
]

logger = logging.getLogger(__name__)

UNLABELLED = -1


def longtail_counts(n_max: int, num_classes: int, imbalance_ratio: float) -> list[int]:
    """Per-class sizes of an exponential long-tailed profile (Cao et al., 2019).

    ``n_c = round(n_max * r ** (-c / (C - 1)))`` for ``c = 0 .. C-1``, where
    ``r = imbalance_ratio = n_0 / n_{C-1}`` (largest over smallest, ``r >= 1``). Class 0 is the
    largest (``n_max``) and the last has ``n_max / r``; rounding is half-up.

    The same profile is often written ``n_c = n_max * mu ** (c / (C - 1))`` with
    ``mu = 1 / r < 1`` (the smallest over the largest class). This function takes the ``r >= 1``
    reading only: a ratio of 1:9 glaucoma:normal is ``imbalance_ratio=9``, not ``1/9``.

    Args:
        n_max: size of the largest class, ``>= 1``.
        num_classes: number of classes ``C >= 1``; with one class the result is ``[n_max]``.
        imbalance_ratio: ``r = n_max / n_min >= 1``; ``1`` gives a balanced profile.

    Returns:
        ``C`` non-increasing counts, the first ``n_max``.

    Raises:
        ValueError: for a non-positive ``n_max`` or ``num_classes``, a ratio below 1 or not
            finite, or a profile whose smallest class rounds to zero.

    Example:
        >>> longtail_counts(100, 3, 10)
        [100, 32, 10]
    """
    if int(n_max) != n_max or n_max < 1:
        raise ValueError(f"n_max must be a positive integer, got {n_max!r}.")
    if int(num_classes) != num_classes or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}.")
    if not math.isfinite(imbalance_ratio) or imbalance_ratio < 1:
        raise ValueError(
            f"imbalance_ratio is largest/smallest class and must be a finite number >= 1, got "
            f"{imbalance_ratio!r} (a minority:majority ratio mu < 1 is imbalance_ratio = 1/mu)."
        )
    if num_classes == 1:
        return [int(n_max)]
    exponents = -np.arange(num_classes) / (num_classes - 1)
    counts = [math.floor(n_max * imbalance_ratio**e + 0.5) for e in exponents]
    if counts[-1] < 1:
        raise ValueError(
            f"n_max={n_max} with imbalance_ratio={imbalance_ratio} leaves the smallest class empty; "
            "raise n_max or lower the ratio."
        )
    return counts


def longtail_class_counts(
    class_order: Sequence[Hashable], n_max: int, imbalance_ratio: float
) -> dict[Hashable, int]:
    """Map classes, largest first, to the :func:`longtail_counts` profile.

    Args:
        class_order: the classes from the most to the least frequent (labels or names).
        n_max: size of the first class.
        imbalance_ratio: first over last class size, ``>= 1``.

    Returns:
        ``{class: count}`` in ``class_order`` order, ready for :func:`sample_longtail`.

    Example:
        >>> longtail_class_counts([1, 0], 900, 9)  # normal (1) : glaucoma (0) at 9:1
        {1: 900, 0: 100}
    """
    if len(set(class_order)) != len(class_order):
        raise ValueError(f"class_order has repeated classes: {list(class_order)}.")
    return dict(zip(class_order, longtail_counts(n_max, len(class_order), imbalance_ratio)))


def _label_of(item: Mapping[str, Any], index: int) -> int:
    try:
        label = item["label"]
    except (KeyError, TypeError):
        raise ValueError(f"item {index} has no 'label': {item!r}.") from None
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
        raise ValueError(f"item {index} has a non-integer label {label!r}.")
    return int(label)


def sample_longtail(
    items: Sequence[Mapping[str, Any]],
    counts: Mapping[int, int] | Sequence[int],
    seed: int = 0,
    class_order: Sequence[int] | None = None,
) -> list[dict]:
    """Draw a seeded class-wise subset of ``items`` with the requested size per class.

    Each class ``c`` keeps ``counts[c]`` of its items, drawn without replacement by one
    ``numpy.random.Generator`` seeded with ``seed`` and visited in ascending label order, so the
    same inputs and seed give the same subset. Classes absent from ``counts`` are left out.
    The result keeps the input order of the chosen items (the dictionaries themselves).

    Args:
        items: dictionaries with an integer ``"label"``.
        counts: ``{label: n}``, or a sequence of sizes aligned with ``class_order``. For an
            imbalance ratio use :func:`longtail_class_counts`, e.g. 1:9 glaucoma (0) : normal (1)
            is ``longtail_class_counts([1, 0], 900, 9)``.
        seed: seed of the generator.
        class_order: labels that a sequence ``counts`` refers to; by default the sorted labels
            present in ``items``. Ignored with a mapping.

    Returns:
        The chosen items, ``sum(counts)`` of them.

    Raises:
        ValueError: for an item without an integer label, a negative size, a sequence whose
            length differs from the classes, or a class with fewer items than requested
            (naming the class and both numbers).
    """
    labels = np.array([_label_of(item, i) for i, item in enumerate(items)], dtype=np.int64)
    if isinstance(counts, Mapping):
        wanted = {int(label): int(n) for label, n in counts.items()}
    else:
        order = sorted(set(labels.tolist())) if class_order is None else [int(c) for c in class_order]
        if len(order) != len(counts):
            raise ValueError(
                f"counts has {len(counts)} sizes but there are {len(order)} classes {order}; "
                "pass class_order or a {label: n} mapping."
            )
        wanted = {label: int(n) for label, n in zip(order, counts)}
    rng = np.random.default_rng(seed)
    chosen = []
    for label in sorted(wanted):
        want = wanted[label]
        members = np.flatnonzero(labels == label)
        if want < 0:
            raise ValueError(f"class {label}: requested a negative count {want}.")
        if len(members) < want:
            raise ValueError(f"class {label} has {len(members)} items, fewer than the {want} requested.")
        chosen.append(rng.choice(members, size=want, replace=False))
    selected = np.sort(np.concatenate(chosen)) if chosen else np.empty(0, dtype=np.int64)
    return [items[i] for i in selected.tolist()]


def class_count_summary(
    items: Sequence[Mapping[str, Any]], class_names: Sequence[str] | None = None
) -> dict:
    """Count items per class.

    Args:
        items: dictionaries with an integer ``"label"``; ``-1`` means unlabelled.
        class_names: names indexed by label, used for the ``"name"`` field.

    Returns:
        ``{"total": N, "unlabelled": n, "imbalance_ratio": largest/smallest class (None without
        labelled items), "classes": [{"label", "name", "count", "fraction"}, ...]}`` with the
        classes in ascending label order and fractions of the labelled items.
    """
    counter = Counter(_label_of(item, i) for i, item in enumerate(items))
    unlabelled = counter.pop(UNLABELLED, 0)
    labelled = sum(counter.values())
    classes = []
    for label in sorted(counter):
        if class_names is not None and not 0 <= label < len(class_names):
            raise ValueError(f"label {label} has no entry in class_names ({len(class_names)} names).")
        classes.append(
            {
                "label": label,
                "name": class_names[label] if class_names is not None else str(label),
                "count": counter[label],
                "fraction": counter[label] / labelled,
            }
        )
    return {
        "total": len(items),
        "unlabelled": unlabelled,
        "imbalance_ratio": max(counter.values()) / min(counter.values()) if counter else None,
        "classes": classes,
    }


def format_class_summary(summary: Mapping[str, Any]) -> str:
    """Render a :func:`class_count_summary` as a plain-text table."""
    width = max([len("class")] + [len(c["name"]) for c in summary["classes"]])
    lines = [f"{'label':>5}  {'class':<{width}}  {'count':>7}  {'share':>6}"]
    lines += [
        f"{c['label']:>5}  {c['name']:<{width}}  {c['count']:>7}  {c['fraction']:>6.1%}"
        for c in summary["classes"]
    ]
    ratio = summary["imbalance_ratio"]
    lines.append(
        f"total {summary['total']}, unlabelled {summary['unlabelled']}, imbalance ratio "
        + ("n/a" if ratio is None else f"{ratio:.2f}")
    )
    return "\n".join(lines)


def write_class_summary(summary: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Write a :func:`class_count_summary` as JSON, atomically, and log it as a table.

    Written with :func:`~monai_debclust.utils.write_json` (:func:`~monai_debclust.utils.atomic_write`):
    a reader never sees a half-written file.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = write_json(summary, path)
    logger.info("class counts written to %s\n%s", path, format_class_summary(summary))
    return path
