"""Cluster-versus-label scores in one JSON-ready report, and its printed table.

Clusters are first matched to classes (:func:`~monai_debclust.evaluation.matching.match_clusters`);
accuracy and the per-class precision / recall / F1 are then those of the matched prediction.
NMI and ARI compare the raw cluster ids with the labels and need no matching. Samples whose
label is ``-1`` (unknown) are left out of every score.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, precision_recall_fscore_support

from monai_debclust.evaluation.matching import LabelsLike, contingency_table, labelled_pairs, match_clusters, relabel

__all__ = ["cluster_report", "format_report"]


def _resolve_class(name_or_id: int | str, classes: np.ndarray, names: list[str]) -> int:
    """Row index of a class given by its id or by its name."""
    if isinstance(name_or_id, str):
        if name_or_id not in names:
            raise ValueError(f"positive_class {name_or_id!r} is not one of the class names {names}.")
        return names.index(name_or_id)
    if name_or_id not in classes:
        raise ValueError(f"positive_class {name_or_id} is not one of the class ids {classes.tolist()}.")
    return int(np.searchsorted(classes, name_or_id))


def cluster_report(
    y_true: LabelsLike,
    y_pred: LabelsLike,
    class_names: Sequence[str] | None = None,
    positive_class: int | str | None = None,
) -> dict:
    """Score a clustering against (partly) known labels.

    Args:
        y_true: class label per sample; ``-1`` means unknown and the sample is ignored.
        y_pred: cluster id per sample (any integers).
        class_names: name of class ``i`` at index ``i``. When given, the classes are
            ``0 .. len(class_names) - 1``, including any absent from ``y_true`` (listed with
            support 0). Otherwise the classes are the distinct known labels, named by their id.
        positive_class: id or name of the positive class for ``binary_f1``. By default the
            *minority* class (smallest non-zero support, the lower id on a tie), which in a
            long-tailed cohort is the class of interest (e.g. glaucoma at 1:9).

    Returns:
        A JSON-serialisable dictionary (plain ``int``, ``float``, ``str``, lists, dicts):

        * ``accuracy``: fraction of labelled samples whose matched cluster is their class;
        * ``per_class``: ``{name: {precision, recall, f1, support}}`` of the matched prediction;
        * ``macro_f1``: mean F1 over the classes present in ``y_true``;
        * ``binary_f1``: F1 of ``positive_class`` when there are exactly 2 classes, else ``None``;
          ``positive_class`` names the class used (``None`` when not binary);
        * ``minority_f1``: F1 of ``minority_class``, the smallest present class;
        * ``nmi``, ``ari``: scikit-learn's normalised mutual information and adjusted Rand index;
        * ``confusion``: ``(classes x clusters)`` counts as a list of lists, rows named by
          ``class_names`` and columns by ``clusters`` (ids of clusters holding labelled samples);
        * ``mapping``: ``{cluster id: class id}``; ``classes``: the class ids;
        * ``num_clusters``, ``num_classes``, ``num_labelled``, ``num_unlabelled``.
    """
    num_classes = None if class_names is None else len(class_names)
    t, p, classes = labelled_pairs(y_true, y_pred, num_classes)
    names = [str(c) for c in classes] if class_names is None else [str(n) for n in class_names]
    _, clusters, table = contingency_table(t, p, num_classes)
    mapping = match_clusters(t, p, num_classes)
    matched = relabel(p, mapping)

    precision, recall, f1, support = precision_recall_fscore_support(
        t, matched, labels=classes, zero_division=0
    )
    present = np.flatnonzero(support > 0)
    minority = int(present[np.argmin(support[present])])
    if len(classes) == 2:
        positive = minority if positive_class is None else _resolve_class(positive_class, classes, names)
        binary_f1, positive_name = float(f1[positive]), names[positive]
    else:
        binary_f1, positive_name = None, None

    return {
        "accuracy": float(np.mean(matched == t)),
        "per_class": {
            name: {"precision": float(pr), "recall": float(rc), "f1": float(f), "support": int(s)}
            for name, pr, rc, f, s in zip(names, precision, recall, f1, support)
        },
        "macro_f1": float(f1[present].mean()),
        "binary_f1": binary_f1,
        "positive_class": positive_name,
        "minority_f1": float(f1[minority]),
        "minority_class": names[minority],
        "nmi": float(normalized_mutual_info_score(t, p)),
        "ari": float(adjusted_rand_score(t, p)),
        "confusion": table.tolist(),
        "class_names": names,
        "classes": classes.tolist(),
        "clusters": clusters.tolist(),
        "mapping": mapping,
        "num_clusters": len(clusters),
        "num_classes": len(classes),
        "num_labelled": len(t),
        "num_unlabelled": len(y_true) - len(t),
    }


def format_report(report: dict) -> str:
    """A fixed-width table of a :func:`cluster_report`, for printing at the end of a run.

    One row per class (precision, recall, F1, support), then the summary scores and the
    cluster-to-class mapping.
    """
    width = max(len("class"), *(len(name) for name in report["per_class"]))
    lines = [f"{'class':<{width}}  {'precision':>9}  {'recall':>7}  {'F1':>7}  {'support':>7}"]
    lines.append("-" * len(lines[0]))
    for name, row in report["per_class"].items():
        lines.append(
            f"{name:<{width}}  {row['precision']:>9.3f}  {row['recall']:>7.3f}  {row['f1']:>7.3f}  {row['support']:>7d}"
        )
    lines.append("-" * len(lines[0]))
    names_by_id = dict(zip(report["classes"], report["class_names"]))
    summary = [
        ("accuracy", f"{report['accuracy']:.3f}  ({report['num_labelled']} labelled, "
         f"{report['num_unlabelled']} unlabelled)"),
        ("macro F1", f"{report['macro_f1']:.3f}"),
    ]
    if report["binary_f1"] is not None:
        summary.append(("binary F1", f"{report['binary_f1']:.3f}  (positive class: {report['positive_class']})"))
    summary += [
        ("minority F1", f"{report['minority_f1']:.3f}  (class: {report['minority_class']})"),
        ("NMI", f"{report['nmi']:.3f}"),
        ("ARI", f"{report['ari']:.3f}"),
        ("clusters", f"{report['num_clusters']} -> {report['num_classes']} classes: "
         + ", ".join(f"{cluster}->{names_by_id[cls]}" for cluster, cls in report["mapping"].items())),
    ]
    lines += [f"{label:<12} {value}" for label, value in summary]
    return "\n".join(lines)
