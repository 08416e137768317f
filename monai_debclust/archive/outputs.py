"""Step 4 of archive clustering: ``assignments.csv``, ``summary.json``, the plots and ``report.html``.

Every file is written atomically (:func:`~monai_debclust.utils.atomic_write`), in archive order.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from monai_debclust.archive.assignment import BLOCK_ROWS
from monai_debclust.evaluation.report import ReportFigure, render_report_sections, summary_text
from monai_debclust.review.page import render_review_page, review_page_data
from monai_debclust.utils import atomic_write, write_json

__all__ = ["REPORT_SKIPPED_ROWS", "cluster_statistics", "write_assignments", "write_plots", "write_report"]

#: Skipped files listed in the HTML report (all of them are in skipped.csv).
REPORT_SKIPPED_ROWS = 50


def write_assignments(
    path: str | os.PathLike, ids: Sequence[str], q: np.ndarray, distance: np.ndarray, outlier: np.ndarray,
    labels: np.ndarray, class_names: Sequence[str] | None, extra: Mapping[str, np.ndarray] | None = None,
) -> None:
    """``assignments.csv``: id, cluster, confidence, ``q_k``, distance, outlier (and label when known), then
    the ``extra`` columns (quality flags, DICOM columns), one value per row."""
    extra = dict(extra or {})
    header = ["id", "cluster", "confidence", *(f"q_{k}" for k in range(q.shape[1])), "distance", "outlier"]
    with atomic_write(path, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header + (["label"] if class_names is not None else []) + list(extra))
        for start in range(0, len(ids), BLOCK_ROWS):
            stop = start + BLOCK_ROWS
            for offset, (i, row_q, d, flag, label) in enumerate(zip(ids[start:stop], q[start:stop],
                                                                    distance[start:stop], outlier[start:stop],
                                                                    labels[start:stop])):
                row = [i, int(row_q.argmax()), f"{row_q.max():.6f}", *(f"{v:.6f}" for v in row_q), f"{d:.6g}",
                       int(flag)]
                if class_names is not None:
                    row.append(class_names[label] if label >= 0 else "")
                row.extend(values[start + offset] for values in extra.values())
                writer.writerow(row)


def cluster_statistics(
    clusters: np.ndarray, confidence: np.ndarray, outlier: np.ndarray, num_clusters: int, source: str
) -> dict[str, Any]:
    """The ``clusters`` block of ``summary.json``: sizes, mean confidence, outliers and empty clusters."""
    counts = np.bincount(clusters, minlength=num_clusters)
    return {
        "source": source,
        "num_clusters": num_clusters,
        "counts": counts.tolist(),
        "mean_confidence": [float(confidence[clusters == k].mean()) if counts[k] else None
                            for k in range(num_clusters)],
        "outliers": np.bincount(clusters[outlier], minlength=num_clusters).tolist(),
        "empty": np.flatnonzero(counts == 0).tolist(),
        "imbalance_ratio": float(counts.max() / counts.min()) if counts.min() > 0 else None,
    }


def write_plots(output_dir: str | os.PathLike, figures: Sequence[ReportFigure]) -> None:
    """Write each figure as ``plots/<key>.png``."""
    plots = Path(output_dir) / "plots"
    plots.mkdir(exist_ok=True)
    for figure in figures:
        with atomic_write(plots / f"{figure.key}.png", "wb") as handle:
            handle.write(figure.png)


def write_report(
    output_dir: str | os.PathLike, summary: Mapping[str, Any], figures: Sequence[ReportFigure],
    metrics: Mapping[str, Any] | None, skipped: Sequence[tuple[str, str]],
) -> None:
    """Write ``summary.json`` and the interactive ``report.html`` (+ ``thumbnails/``), and print the summary."""
    output_dir = Path(output_dir)
    write_json(summary, output_dir / "summary.json")
    sections = render_report_sections(summary, figures, metrics, skipped[:REPORT_SKIPPED_ROWS])
    page = render_review_page(review_page_data(output_dir, summary["archive"]), summary["clusters"]["num_clusters"],
                              summary["archive"], sections)
    with atomic_write(output_dir / "report.html", encoding="utf-8") as handle:
        handle.write(page)
    print(summary_text(summary, metrics), flush=True)
