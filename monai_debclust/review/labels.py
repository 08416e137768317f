"""Labels out of a reviewed clustering run: ``review.json`` + ``assignments.csv`` -> ``labels.csv``.

The interactive report (:mod:`monai_debclust.review.page`) lets a reader name clusters, merge a
cluster into another, move single images to another cluster and exclude images, and downloads
those decisions as ``review.json``::

    {"format": 1,
     "cluster_names": {"0": "healthy", "1": "glaucoma"},
     "merge": {"2": "1"},
     "moved": {"normal/n0007.png": "1"},
     "excluded": ["normal/n0012.png"]}

:func:`review_labels` turns them into one label per image: a merged cluster's images carry the
name of the cluster they end in (chains ``3 -> 2 -> 1`` are followed, a cycle is refused), a
moved image its new cluster's name, an unnamed cluster ``cluster <k>``, and an excluded image no
label at all. :func:`write_review_labels` writes ``labels.csv`` (``id,label``) and
``excluded.txt`` beside it, the files the ``csv`` layout reads (it leaves the excluded images out
of training and evaluation, see :mod:`monai_debclust.data.layouts`).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from monai_debclust.data.layouts import EXCLUDED_LIST
from monai_debclust.errors import SettingError
from monai_debclust.utils import atomic_write

__all__ = ["REVIEW_FORMAT", "read_review", "run_assignments", "resolve_merges", "review_labels",
           "write_review_labels"]

#: The ``format`` of ``review.json`` this module reads.
REVIEW_FORMAT = 1
_KEYS = {"format", "cluster_names", "merge", "moved", "excluded"}


def read_review(path: str | os.PathLike) -> dict[str, Any]:
    """The decisions of ``review.json``, checked for shape (not yet against a run).

    Raises:
        SettingError: not JSON, another ``format``, unknown keys or values of the wrong type.
    """
    path = Path(path)
    try:
        review = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise SettingError(f"cannot read the review {path}: {error}") from error
    if not isinstance(review, dict) or review.get("format") != REVIEW_FORMAT:
        raise SettingError(f"{path} is not a review of format {REVIEW_FORMAT} "
                           "(the report's 'Download review.json' writes one).")
    unknown = sorted(set(review) - _KEYS)
    if unknown:
        raise SettingError(f"{path}: unknown key(s) {', '.join(unknown)}; a review has {', '.join(sorted(_KEYS))}.")
    for key, kind in (("cluster_names", dict), ("merge", dict), ("moved", dict), ("excluded", list)):
        review.setdefault(key, kind())
        if not isinstance(review[key], kind):
            raise SettingError(f"{path}: {key!r} must be a JSON {'object' if kind is dict else 'array'}.")
    if not all(isinstance(name, str) and name.strip() for name in review["cluster_names"].values()):
        raise SettingError(f"{path}: every cluster name must be a non-empty string.")
    return review


def run_assignments(run: str | os.PathLike) -> tuple[list[str], list[int], int]:
    """``(ids, clusters, num_clusters)`` of a clustering run.

    Args:
        run: the training output folder (its ``clustering/assignments.csv`` is read, as
            ``monai-debclust cluster --output RUN`` writes it) or the clustering folder itself.
    """
    run = Path(run)
    folder = run if (run / "assignments.csv").is_file() else run / "clustering"
    table = folder / "assignments.csv"
    if not table.is_file():
        raise SettingError(f"no clustering results in {run}: {table} does not exist "
                           "(run `monai-debclust cluster ARCHIVE --bundle B --output RUN` first).")
    with open(table, newline="", encoding="utf-8") as handle:
        rows = [(row["id"], int(row["cluster"])) for row in csv.DictReader(handle)]
    num_clusters = max((cluster for _, cluster in rows), default=-1) + 1
    summary = folder / "summary.json"
    if summary.is_file():
        num_clusters = json.loads(summary.read_text(encoding="utf-8"))["clusters"]["num_clusters"]
    return [image_id for image_id, _ in rows], [cluster for _, cluster in rows], num_clusters


def _cluster(value: object, num_clusters: int, where: str) -> int:
    """``value`` (``"2"`` or ``2``) as a cluster of the run, or a :class:`SettingError` naming ``where``."""
    text = str(value).strip()
    if not text.lstrip("-").isdigit() or not 0 <= int(text) < num_clusters:
        raise SettingError(f"the review names cluster {value!r} in {where}, but the run has clusters 0 to "
                           f"{num_clusters - 1}; was it made from another run's report?")
    return int(text)


def resolve_merges(merge: Mapping[int, int], num_clusters: int) -> list[int]:
    """The cluster each cluster ends in after following ``merge`` (``source -> target``) to its end.

    Raises:
        SettingError: the merges form a cycle (``1 -> 2 -> 1``), which names no cluster to end in.
    """
    final = []
    for start in range(num_clusters):
        path, cluster = [start], start
        while cluster in merge:
            cluster = merge[cluster]
            if cluster in path:
                cycle = " -> ".join(map(str, path[path.index(cluster):] + [cluster]))
                raise SettingError(f"the review's merges form a cycle ({cycle}); remove one of them.")
            path.append(cluster)
        final.append(cluster)
    return final


def review_labels(
    review: Mapping[str, Any], ids: Sequence[str], clusters: Sequence[int], num_clusters: int
) -> tuple[dict[str, str], list[str]]:
    """``({id: label}, excluded ids)`` of a run under the review's decisions, in run order.

    Raises:
        SettingError: the review names a cluster or an id the run does not have, or merges in a cycle.
    """
    names = {_cluster(k, num_clusters, "cluster_names"): str(v).strip() for k, v in review["cluster_names"].items()}
    merge = {_cluster(k, num_clusters, "merge"): _cluster(v, num_clusters, "merge") for k, v in review["merge"].items()}
    merge = {source: target for source, target in merge.items() if source != target}
    known = set(ids)
    for where, named in (("moved", review["moved"]), ("excluded", review["excluded"])):
        missing = [image_id for image_id in named if image_id not in known]
        if missing:
            shown = ", ".join(map(repr, missing[:5])) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise SettingError(f"the review's {where!r} names {len(missing)} image(s) the run does not have: {shown}.")
    moved = {image_id: _cluster(k, num_clusters, f"moved[{image_id!r}]") for image_id, k in review["moved"].items()}
    final = resolve_merges(merge, num_clusters)
    excluded = set(review["excluded"])
    labels = {}
    for image_id, cluster in zip(ids, clusters):
        if image_id not in excluded:
            end = final[moved.get(image_id, cluster)]
            labels[image_id] = names.get(end, f"cluster {end}")
    return labels, [image_id for image_id in ids if image_id in excluded]


def write_review_labels(run: str | os.PathLike, review_path: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write ``out`` (``id,label``) and ``excluded.txt`` beside it from a run and its review; returns ``out``."""
    ids, clusters, num_clusters = run_assignments(run)
    labels, excluded = review_labels(read_review(review_path), ids, clusters, num_clusters)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out, newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "label"])
        writer.writerows(labels.items())
    with atomic_write(out.parent / EXCLUDED_LIST, encoding="utf-8") as handle:
        handle.writelines(f"{image_id}\n" for image_id in excluded)
    return out
