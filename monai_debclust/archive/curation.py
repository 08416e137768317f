"""Step 3b of archive clustering: the curation outputs (duplicates, similar images, quality flags, DICOM columns).

From what the one decoding pass left in the chunks (:class:`~monai_debclust.curation.CurateArchiveImaged`)
and the embeddings, in the rows of ``assignments.csv``:

* ``duplicates.csv``: ``group, id, kind, similarity, label, conflict``, conflicts first
  (:func:`~monai_debclust.similarity.group_duplicates` on the content hashes and the 16 x 16
  pixel signatures at ``duplicate_threshold``);
* ``neighbours.csv``: ``row, id, rank, neighbour_row, neighbour, similarity``, the ``neighbours_k``
  most cosine-similar embeddings of every image (:func:`~monai_debclust.similarity.top_k_neighbours`);
* the quality flags (:mod:`~monai_debclust.curation.quality`) and the DICOM columns
  (:mod:`~monai_debclust.curation.dicom_columns`) returned for ``assignments.csv``;
* their counts, for ``summary.json``.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from monai_debclust.curation.dicom_columns import DICOM_COLUMNS
from monai_debclust.curation.quality import QUALITY_FLAGS, QualityThresholds, quality_flags
from monai_debclust.similarity import DEFAULT_THRESHOLD, group_duplicates, top_k_neighbours
from monai_debclust.utils import atomic_write

__all__ = ["DEFAULT_NEIGHBOURS", "CurationOutputs", "CurationSettings", "write_curation"]

#: Similar images listed per image.
DEFAULT_NEIGHBOURS = 5


@dataclass(frozen=True)
class CurationSettings:
    """The settings of the curation outputs.

    Args:
        duplicate_threshold: cosine similarity of two pixel signatures at or above which two images
            are near-duplicates (:data:`~monai_debclust.similarity.DEFAULT_THRESHOLD`).
        neighbours_k: similar images per image in ``neighbours.csv``; 0 writes none.
        quality_thresholds: ``{flag: threshold}`` overriding :class:`~monai_debclust.curation.quality.QualityThresholds`.
    """

    duplicate_threshold: float = DEFAULT_THRESHOLD
    neighbours_k: int = DEFAULT_NEIGHBOURS
    quality_thresholds: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 < self.duplicate_threshold <= 1:
            raise ValueError(f"duplicate_threshold must be in (0, 1], got {self.duplicate_threshold}.")
        if self.neighbours_k < 0:
            raise ValueError(f"neighbours_k must be >= 0, got {self.neighbours_k}.")
        QualityThresholds.from_settings(self.quality_thresholds)


@dataclass
class CurationOutputs:
    """The columns curation adds to ``assignments.csv`` (name -> one value per row) and its ``summary.json`` block."""

    columns: dict[str, np.ndarray]
    summary: dict[str, Any]
    duplicate_group: np.ndarray | None = None


def _write_rows(path: Path, header: Sequence[str], rows) -> None:
    with atomic_write(path, newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_neighbours(path: str | os.PathLike, ids: Sequence[str], embeddings: np.ndarray, k: int) -> None:
    """``neighbours.csv``: the ``k`` nearest embeddings (cosine) of every row, best first."""
    similarity, index = top_k_neighbours(embeddings, k) if len(ids) > 1 else (np.zeros((len(ids), 0)),
                                                                              np.zeros((len(ids), 0), np.int64))
    rows = ((row, ids[row], rank + 1, int(j), ids[j], f"{s:.6f}")
            for row in range(len(ids)) for rank, (s, j) in enumerate(zip(similarity[row], index[row])) if j >= 0)
    _write_rows(Path(path), ["row", "id", "rank", "neighbour_row", "neighbour", "similarity"], rows)


def write_curation(output_dir: str | os.PathLike, ids: Sequence[str], labels: np.ndarray,
                   class_names: Sequence[str] | None, embeddings: np.ndarray, chunk_columns: Mapping[str, np.ndarray],
                   clusters: np.ndarray, settings: CurationSettings) -> CurationOutputs:
    """Write ``duplicates.csv`` and ``neighbours.csv``; return the flag and DICOM columns and the summary block."""
    output_dir = Path(output_dir)
    summary: dict[str, Any] = {"duplicate_threshold": settings.duplicate_threshold,
                               "neighbours_k": settings.neighbours_k}
    columns: dict[str, np.ndarray] = {}
    duplicate_group = None
    if "signature" in chunk_columns and "content_hash" in chunk_columns:
        groups = group_duplicates(chunk_columns["signature"], list(chunk_columns["content_hash"]),
                                  settings.duplicate_threshold, labels)
        names = [class_names[y] if class_names is not None and y >= 0 else "" for y in labels]
        records = groups.records(ids, names)
        _write_rows(output_dir / "duplicates.csv", ["group", "id", "kind", "similarity", "label", "conflict"],
                    ([r["group"], r["id"], r["kind"], f"{r['similarity']:.6f}", r["label"], r["conflict"]]
                     for r in records))
        summary["duplicates"] = groups.summary()
        duplicate_group = groups.group
    if settings.neighbours_k > 0:
        write_neighbours(output_dir / "neighbours.csv", ids, embeddings, settings.neighbours_k)
    if "quality" in chunk_columns:
        thresholds = QualityThresholds.from_settings(settings.quality_thresholds)
        flags = quality_flags(chunk_columns["quality"], thresholds)
        columns.update({flag: flags[:, i] for i, flag in enumerate(QUALITY_FLAGS)})
        summary["quality"] = {flag: int(flags[:, i].sum()) for i, flag in enumerate(QUALITY_FLAGS)}
        summary["quality_thresholds"] = {flag: float(v) for flag, v in zip(QUALITY_FLAGS, thresholds.as_array())}
    if all(f"dicom_{name}" in chunk_columns for name in DICOM_COLUMNS):
        columns.update({name: np.asarray(chunk_columns[f"dicom_{name}"], dtype=object) for name in DICOM_COLUMNS})
        patients = columns["patient"]
        if any(patients):
            summary["patients"] = len({p for p in patients if p})
            summary["patients_per_cluster"] = [len({p for p in patients[clusters == k] if p})
                                               for k in range(int(clusters.max(initial=-1)) + 1)]
    return CurationOutputs(columns, summary, duplicate_group)
