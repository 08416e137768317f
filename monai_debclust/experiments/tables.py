"""Paper-style tables of an experiment grid: mean ± sample std over seeds, paired differences to SimCLR, a plot.

For every protocol row of :func:`~monai_debclust.evaluation.evaluate_protocols` (``linear``,
``semi_supervised``, ``knn``, ``kmeans``, ``head``) a Markdown and a CSV table: one line per
method, for every data set and imbalance ratio the top-1 accuracy, the F1 (binary F1 of the
minority class with two classes, macro F1 otherwise) and the minority-class F1, each as mean ±
sample standard deviation (``ddof = 1``) over the seeds that finished; a cell of one seed shows
the value alone and says ``n = 1``. A second table per row (``<row>_vs_<baseline>``) gives each
method's paired difference to the baseline (SimCLR): over the seeds both finished,
``d_s = m_s - b_s``, its mean and the 95 % Student-t interval
``mean ± t_{0.975, n-1} · sd(d) / sqrt(n)``. Every table says how many duplicate groups were
merged and how many images were left out (the evaluation's ``leakage`` record), and which code and
budget produced it (``run.json``'s ``commit`` and ``budget``). The plot shows
the minority-class F1 of each protocol against the imbalance ratio, one line per method and data set.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from monai_debclust.experiments.grid import ExperimentGrid
from monai_debclust.utils import atomic_write

__all__ = ["collect_results", "mean_std_cell", "paired_difference", "plot_minority_f1", "write_tables"]

ROWS = ("linear", "semi_supervised", "knn", "kmeans", "head")
#: Rows of runs with more clusters than classes (many-to-one matching), tabled apart and only when present.
OVERCLUSTERED_ROWS = ("kmeans_overclustered", "head_overclustered")
#: The method every other is compared with, seed by seed.
BASELINE = "simclr"
METRICS = ("accuracy", "f1", "minority_f1")
TITLES = {"linear": "Linear probe (cross-entropy, frozen encoder)", "semi_supervised": "Semi-supervised probe (10 % labels)",
          "knn": "kNN-20 (cosine)", "kmeans": "Clustering: k-means on the features", "head": "Clustering: the model's own head",
          "kmeans_overclustered": "Over-clustering: k-means on the features, K > classes, many-to-one matching",
          "head_overclustered": "Over-clustering: the model's own head, K > classes, many-to-one matching"}


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


def mean_std_cell(values: list[float]) -> str:
    """``mean ± sd`` with the sample standard deviation (``ddof = 1``); one value as ``v (n = 1)``; none ``—``."""
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.3f} (n = 1)"
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}"


def paired_difference(values: dict[int, float], baseline: dict[int, float], confidence: float = 0.95) -> dict | None:
    """Mean of ``values[s] - baseline[s]`` over the seeds ``s`` in both, with its Student-t interval.

    Returns:
        ``dict(mean, sd, low, high, n)`` (``sd``, ``low`` and ``high`` None when ``n = 1``), or None
        when no seed is shared.
    """
    seeds = sorted(set(values) & set(baseline))
    if not seeds:
        return None
    differences = np.array([values[s] - baseline[s] for s in seeds], dtype=np.float64)
    mean, n = float(differences.mean()), len(seeds)
    if n == 1:
        return {"mean": mean, "sd": None, "low": None, "high": None, "n": 1}
    sd = float(differences.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / np.sqrt(n)
    return {"mean": mean, "sd": sd, "low": mean - half, "high": mean + half, "n": n}


def _difference_cell(difference: dict | None) -> str:
    if difference is None:
        return "—"
    if difference["n"] == 1:
        return f"{difference['mean']:+.3f} (n = 1)"
    return f"{difference['mean']:+.3f} [{difference['low']:+.3f}, {difference['high']:+.3f}] (n = {difference['n']})"


def _leakage_line(records: list[dict[str, Any]], row: str) -> str:
    """What the splits of ``row`` merged and left out, per data set and ratio (the same for every method and seed)."""
    seen: dict[str, set] = defaultdict(set)
    for record in records:
        leakage = record["protocols"].get(row, {}).get("leakage")
        if leakage:
            seen[f"{record['dataset']} r={record['ratio']}"].add(
                (leakage["groups"], leakage["merged_images"], leakage["conflict_images_excluded"],
                 leakage.get("train_images_removed", 0)))
    if not seen:
        return "Duplicate groups: not recorded by these runs (evaluated without groups)."
    parts = [f"{cell}: {g} groups merging {m} images, {c} images of conflicting groups left out"
             + (f", {t} training images sharing a group with a test image removed" if t else "")
             for cell, found in seen.items() for g, m, c, t in sorted(found)]
    return "Duplicate groups (folds split by group): " + "; ".join(parts) + "."


def _provenance_line(records: list[dict[str, Any]]) -> str:
    """The commits the cells ran (``dirty``: with changes to tracked files) and their budgets, each once."""
    commits = sorted({record.get("commit", "not recorded") for record in records})
    budgets = {json.dumps({k: v for k, v in record["budget"].items() if k != "training_minutes"}, sort_keys=True)
               for record in records if "budget" in record}
    parts = ["Code: commit " + ", ".join(commits) if commits else "Code: no finished run"]
    for budget in sorted(budgets):
        b = json.loads(budget)
        parts.append(f"budget: {b['epochs']} epochs, {b['image_size']} px, {b['encoder']}, batch {b['batch_size']}")
    if not budgets:
        parts.append("budget: not recorded")
    return "; ".join(parts) + "."


def _write_text(path: Path, text: str) -> None:
    with atomic_write(path, encoding="utf-8") as handle:
        handle.write(text)


def _write_csv(path: Path, rows: list[list]) -> None:
    with atomic_write(path, newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def write_tables(grid: ExperimentGrid, out_dir: Path | None = None) -> list[Path]:
    """Write ``<row>.md``/``.csv`` and ``<row>_vs_simclr.md``/``.csv`` for every protocol row into ``out_dir``
    (default ``<output_dir>/tables``), each file atomically."""
    out_dir = grid.output_dir / "tables" if out_dir is None else Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = collect_results(grid)
    cells = [(d.name, r) for d in grid.datasets for r in d.imbalance_ratios]
    values: dict[tuple, dict[int, float]] = defaultdict(dict)
    seconds: dict[tuple, list[float]] = defaultdict(list)
    rows = ROWS + tuple(row for row in OVERCLUSTERED_ROWS if any(row in record["protocols"] for record in records))
    for record in records:
        cell = (record["dataset"], record["ratio"])
        seconds[(*cell, record["method"])].append(record["training_seconds"])
        for row in rows:
            for metric in METRICS:
                if row in record["protocols"]:
                    values[(row, *cell, record["method"], metric)][record["seed"]] = record["protocols"][row][metric]
    written = []
    for row in rows:
        header = ["method"] + [f"{d} r={r} {m}" for d, r in cells for m in METRICS]
        leakage = _leakage_line(records, row) + "\n\n" + _provenance_line(records)
        lines = [f"## {TITLES[row]}", "", "Mean ± sample standard deviation (ddof = 1) over seeds; "
                 "a cell of one seed shows its value and n = 1.", "",
                 "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        csv_rows = [["protocol", "dataset", "ratio", "method", "metric", "mean", "std", "seeds"]]
        for method in grid.methods:
            entries = []
            for d, r in cells:
                for metric in METRICS:
                    found = list(values[(row, d, r, method, metric)].values())
                    entries.append(mean_std_cell(found))
                    if found:
                        sd = f"{np.std(found, ddof=1):.4f}" if len(found) > 1 else ""
                        csv_rows.append([row, d, r, method, metric, f"{np.mean(found):.4f}", sd, len(found)])
            lines.append(f"| {method} | " + " | ".join(entries) + " |")
        lines += ["", leakage, "", "Training minutes per run (mean over seeds): " + "; ".join(
            f"{method} {d} r={r}: {np.mean(seconds[(d, r, method)]) / 60:.1f}"
            for d, r in cells for method in grid.methods if seconds[(d, r, method)]), ""]
        _write_text(out_dir / f"{row}.md", "\n".join(lines))
        _write_csv(out_dir / f"{row}.csv", csv_rows)
        written += [out_dir / f"{row}.md", out_dir / f"{row}.csv", *_write_differences(grid, values, cells, row,
                                                                                            leakage, out_dir)]
    written.append(plot_minority_f1(grid, records, out_dir / "minority_f1.png"))
    return written


def _write_differences(grid: ExperimentGrid, values: dict[tuple, dict[int, float]], cells: list[tuple], row: str,
                       leakage: str, out_dir: Path) -> list[Path]:
    """``<row>_vs_simclr.md``/``.csv``: each method's paired difference to the baseline with its 95 % t-interval."""
    header = ["method"] + [f"{d} r={r} {m}" for d, r in cells for m in METRICS]
    lines = [f"## {TITLES[row]}: difference to {BASELINE}", "",
             f"Paired by seed (same seeds, same data): mean of method − {BASELINE} and its 95 % Student-t interval "
             "[low, high] over the n shared seeds; n = 1 has no interval.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    csv_rows = [["protocol", "dataset", "ratio", "method", "metric", "difference", "sd", "ci95_low", "ci95_high",
                 "seeds"]]
    for method in [m for m in grid.methods if m != BASELINE]:
        entries = []
        for d, r in cells:
            for metric in METRICS:
                difference = paired_difference(values[(row, d, r, method, metric)],
                                               values[(row, d, r, BASELINE, metric)])
                entries.append(_difference_cell(difference))
                if difference is not None:
                    csv_rows.append([row, d, r, method, metric] + [
                        "" if difference[k] is None else f"{difference[k]:.4f}" for k in ("mean", "sd", "low", "high")
                    ] + [difference["n"]])
        lines.append(f"| {method} | " + " | ".join(entries) + " |")
    lines += ["", leakage, ""]
    md, table = out_dir / f"{row}_vs_{BASELINE}.md", out_dir / f"{row}_vs_{BASELINE}.csv"
    _write_text(md, "\n".join(lines))
    _write_csv(table, csv_rows)
    return [md, table]


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
                    spread = [np.std(points[r], ddof=1) if len(points[r]) > 1 else 0.0 for r in ratios]
                    axis.errorbar(ratios, [np.mean(points[r]) for r in ratios], spread,
                                  color=colours(m), marker=markers[d % len(markers)], capsize=3,
                                  label=f"{method} ({dataset.name})")
        axis.set_xscale("log")
        axis.set_title(TITLES[row], fontsize=8)
        axis.set_xlabel("imbalance ratio (largest : smallest)")
    axes[0].set_ylabel("minority-class F1")
    entries: dict[str, Any] = {}  # every method's line, whichever panel has it (a protocol may have no runs)
    for axis in axes:
        for handle, label in zip(*axis.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if entries:
        axes[-1].legend(list(entries.values()), list(entries), fontsize=6, loc="best")
    figure.tight_layout()
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format=Path(path).suffix.lstrip(".") or "png", dpi=120)
    plt.close(figure)
    return path
