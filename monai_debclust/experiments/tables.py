"""Paper-style tables of an experiment grid: mean ± std over seeds, one table per protocol, and a plot.

For every protocol row of :func:`~monai_debclust.evaluation.evaluate_protocols` (``linear``,
``semi_supervised``, ``knn``, ``kmeans``, ``head``) a Markdown and a CSV table: one line per
method, for every data set and imbalance ratio the top-1 accuracy, the F1 (binary F1 of the
minority class with two classes, macro F1 otherwise) and the minority-class F1, each as mean ±
standard deviation over the seeds that finished. The plot shows the minority-class F1 of each
protocol against the imbalance ratio, one line per method and data set.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from monai_debclust.experiments.grid import ExperimentGrid

__all__ = ["collect_results", "write_tables", "plot_minority_f1"]

ROWS = ("linear", "semi_supervised", "knn", "kmeans", "head")
METRICS = ("accuracy", "f1", "minority_f1")
TITLES = {"linear": "Linear probe (cross-entropy, frozen encoder)", "semi_supervised": "Semi-supervised probe (10 % labels)",
          "knn": "kNN-20 (cosine)", "kmeans": "Clustering: k-means on the features", "head": "Clustering: the model's own head"}


def collect_results(grid: ExperimentGrid) -> list[dict[str, Any]]:
    """One record per finished cell: its keys, seconds, and ``protocols`` from ``evaluation/metrics.json``."""
    records = []
    for run in grid.runs():
        metrics_file, run_file = run.run_dir / "evaluation" / "metrics.json", run.run_dir / "run.json"
        if not (metrics_file.is_file() and run_file.is_file()):
            continue
        scores = json.loads(metrics_file.read_text(encoding="utf-8"))["scores"]
        records.append({**json.loads(run_file.read_text(encoding="utf-8")), "protocols": scores.get("protocols", {})})
    return records


def _summary(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}" if values else "—"


def write_tables(grid: ExperimentGrid, out_dir: Path | None = None) -> list[Path]:
    """Write ``<row>.md`` and ``<row>.csv`` for every protocol row into ``out_dir`` (default ``<output_dir>/tables``)."""
    out_dir = grid.output_dir / "tables" if out_dir is None else Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = collect_results(grid)
    cells = [(d.name, r) for d in grid.datasets for r in d.imbalance_ratios]
    values: dict[tuple, list[float]] = defaultdict(list)
    seconds: dict[tuple, list[float]] = defaultdict(list)
    for record in records:
        cell = (record["dataset"], record["ratio"])
        seconds[(*cell, record["method"])].append(record["training_seconds"])
        for row, scores in record["protocols"].items():
            for metric in METRICS:
                values[(row, *cell, record["method"], metric)].append(scores[metric])
    written = []
    for row in ROWS:
        header = ["method"] + [f"{d} r={r} {m}" for d, r in cells for m in METRICS]
        lines = [f"## {TITLES[row]}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        csv_rows = [["protocol", "dataset", "ratio", "method", "metric", "mean", "std", "seeds"]]
        for method in grid.methods:
            entries = [_summary(values[(row, d, r, method, m)]) for d, r in cells for m in METRICS]
            lines.append(f"| {method} | " + " | ".join(entries) + " |")
            for d, r in cells:
                for m in METRICS:
                    found = values[(row, d, r, method, m)]
                    if found:
                        csv_rows.append([row, d, r, method, m, f"{np.mean(found):.4f}", f"{np.std(found):.4f}",
                                         len(found)])
        lines += ["", "Training minutes per run (mean over seeds): " + "; ".join(
            f"{method} {d} r={r}: {np.mean(seconds[(d, r, method)]) / 60:.1f}"
            for d, r in cells for method in grid.methods if seconds[(d, r, method)]), ""]
        (out_dir / f"{row}.md").write_text("\n".join(lines), encoding="utf-8")
        with (out_dir / f"{row}.csv").open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(csv_rows)
        written += [out_dir / f"{row}.md", out_dir / f"{row}.csv"]
    written.append(plot_minority_f1(grid, records, out_dir / "minority_f1.png"))
    return written


def _ratio_value(record: dict[str, Any]) -> float:
    """A cell's imbalance ratio as a number: the given one, or the measured largest/smallest class of ``native``."""
    if record["ratio"] != "native":
        return float(record["ratio"])
    sizes = [sum(1 for _ in folder.iterdir()) for folder in Path(record["data_dir"]).iterdir() if folder.is_dir()]
    return max(sizes) / max(1, min(sizes))


def plot_minority_f1(grid: ExperimentGrid, records: list[dict[str, Any]], path: Path) -> Path:
    """Minority-class F1 against the imbalance ratio, one panel per protocol, one line per method and data set
    (a colour per method, a marker per data set)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(ROWS), figsize=(4 * len(ROWS), 3.6), sharey=True)
    colours = plt.get_cmap("tab10" if len(grid.methods) <= 10 else "tab20")
    markers = "osD^vP*X"
    for axis, row in zip(axes, ROWS):
        for m, method in enumerate(grid.methods):
            for d, dataset in enumerate(grid.datasets):
                points = defaultdict(list)
                for record in records:
                    if record["method"] == method and record["dataset"] == dataset.name and row in record["protocols"]:
                        points[_ratio_value(record)].append(record["protocols"][row]["minority_f1"])
                if points:
                    ratios = sorted(points)
                    axis.errorbar(ratios, [np.mean(points[r]) for r in ratios], [np.std(points[r]) for r in ratios],
                                  color=colours(m), marker=markers[d % len(markers)], capsize=3,
                                  label=f"{method} ({dataset.name})")
        axis.set_xscale("log")
        axis.set_title(TITLES[row], fontsize=8)
        axis.set_xlabel("imbalance ratio (largest : smallest)")
    axes[0].set_ylabel("minority-class F1")
    axes[-1].legend(fontsize=6, loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
