"""The clustering report's summary: its figures, the HTML sections of the run's numbers, and the printed summary.

The sections carry everything in themselves: figures as base64 PNG ``data:`` URIs and no
external address; the interactive page (:mod:`monai_debclust.review.page`) places them below its
map and galleries, with the style sheet inline. Their content follows ``summary.json`` of a
clustering run (see :mod:`monai_debclust.archive.clusterer`), the optional
:func:`~monai_debclust.evaluation.metrics.cluster_report` and a sample of the skipped files.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from monai_debclust.evaluation import plots
from monai_debclust.evaluation.metrics import format_report

__all__ = ["ReportFigure", "report_figures", "render_report_sections", "summary_text"]

@dataclass(frozen=True)
class ReportFigure:
    """A figure of the report: section id, title, caption and the PNG bytes."""

    key: str
    title: str
    caption: str
    png: bytes


def report_figures(
    embeddings: np.ndarray,
    clusters: np.ndarray,
    confidence: np.ndarray,
    summary: Mapping,
    metrics: Mapping | None,
    labels: np.ndarray,
    class_names: Sequence[str] | None,
    load_images: Callable[[np.ndarray], list[np.ndarray]],
    map_points: int = 20_000,
    montage_size: int = 6,
) -> list[ReportFigure]:
    """The figures of a clustering run: sizes, 2-D map, montage and (with labels) confusion matrix.

    Args:
        embeddings: ``(N, D)`` embeddings, e.g. a memory map; only ``map_points`` rows are read.
        clusters: ``(N,)`` cluster of each embedding.
        confidence: ``(N,)`` its largest soft assignment.
        summary: the run's summary (``clusters.counts``, ``clusters.outliers``, ``clusters.num_clusters``).
        metrics: the :func:`~monai_debclust.evaluation.metrics.cluster_report`, or ``None``.
        labels: ``(N,)`` class ids, ``-1`` where unknown.
        class_names: names of the classes, ``None`` for an unlabelled archive.
        load_images: given row indices, returns those images (2-D channel-first, ``[0, 1]``),
            leaving out any that can no longer be read.
        map_points: the map shows (and its PCA is fitted on) at most this many rows, a uniform sample.
        montage_size: most and least typical images shown per cluster.
    """
    num_clusters = summary["clusters"]["num_clusters"]
    figures = [ReportFigure(
        "sizes", "Cluster sizes", "Images per cluster; the dark part of each bar are its outliers.",
        plots.figure_png(plots.cluster_size_chart(summary["clusters"]["counts"], summary["clusters"]["outliers"])),
    )]
    rows = np.arange(len(embeddings))
    if len(rows) > map_points:
        rows = np.sort(np.random.default_rng(0).choice(len(rows), map_points, replace=False))
    labelled = class_names is not None and bool((labels >= 0).any())
    figures.append(ReportFigure(
        "map", "Map of the embeddings",
        f"First two principal components of the embeddings of {len(rows)} of the {len(embeddings)} images "
        "(a uniform sample when there are more), coloured by cluster" + (" and by known label." if labelled else "."),
        plots.figure_png(plots.embedding_map(plots.pca_2d(embeddings[rows]), clusters[rows], num_clusters,
                                             labels[rows] if labelled else None, class_names)),
    ))
    examples = {}
    for k in range(num_clusters):
        members = np.flatnonzero(clusters == k)
        ranked = members[np.argsort(-confidence[members], kind="stable")]
        if len(ranked):
            examples[k] = (load_images(ranked[:montage_size]), load_images(ranked[montage_size:][::-1][:montage_size]))
    figures.append(ReportFigure(
        "montage", "What each cluster looks like",
        f"Per cluster, left: the {montage_size} most typical images (highest confidence, most typical first); "
        "right: the least typical ones (lowest confidence, least typical first).",
        plots.figure_png(plots.montage(examples, montage_size)),
    ))
    if metrics is not None:
        figures.append(ReportFigure(
            "confusion", "Confusion matrix",
            "Labelled images per true class (rows) and cluster (columns); each column names the class its "
            "cluster was matched to.",
            plots.figure_png(plots.confusion_matrix_plot(
                metrics["confusion"], metrics["class_names"], metrics["clusters"], metrics["mapping"])),
        ))
    return figures


def summary_text(summary: Mapping, metrics: Mapping | None) -> str:
    """The few lines printed at the end of a run, with the per-class table when labels are known."""
    images, clusters = summary["images"], summary["clusters"]
    lines = [
        f"clustered {images['clustered']} of {images['found']} images into {clusters['num_clusters']} clusters "
        f"({images['skipped']} skipped, {images['outliers']} outliers)",
        "cluster sizes: " + ", ".join(f"{k}: {n}" for k, n in enumerate(clusters["counts"])),
    ]
    if images.get("skipped_by_reason"):
        lines.append("skipped: " + ", ".join(f"{n} {reason}" for reason, n in images["skipped_by_reason"].items()))
    if images.get("retry_next_run"):
        lines.append(f"{images['retry_next_run']} of the skipped files failed for now (storage errors) and are read "
                     "again by the next run")
    if metrics is not None:
        lines += ["", format_report(metrics)]
    lines += ["", f"results in {summary['output_dir']}: assignments.csv, report.html, summary.json"]
    return "\n".join(lines)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(value: object, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _cell(value: object) -> str:
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    return f"<td class='num'>{_e(_number(value))}</td>" if numeric else f"<td>{_e(_number(value))}</td>"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(value) for value in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(figure: ReportFigure) -> str:
    data = base64.b64encode(figure.png).decode("ascii")
    return (f'<figure id="{_e(figure.key)}"><img alt="{_e(figure.title)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(figure.caption)}</figcaption></figure>")


def _cards(summary: Mapping) -> str:
    images, clusters = summary["images"], summary["clusters"]
    ratio = clusters.get("imbalance_ratio")
    cards = [
        ("images found", images["found"]),
        ("clustered", images["clustered"]),
        ("skipped (unreadable)", images["skipped"]),
        ("outliers", images["outliers"]),
        ("clusters", clusters["num_clusters"]),
        ("largest : smallest", "–" if ratio is None else f"{ratio:.1f} : 1"),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="card"><b>{_e(value)}</b>{_e(name)}</div>' for name, value in cards
    ) + "</div>"


def _facts(summary: Mapping) -> str:
    """What this run embedded, the quality flag counts and the patients, each only where ``summary.json`` has it."""
    images, curation = summary["images"], summary.get("curation") or {}
    facts = []
    if "new" in images:
        kept = images.get("from_earlier_run")
        read = f" of {images['read']} files read" if "read" in images else ""
        facts.append(f"{images['new']} new or changed images embedded in this run{read}"
                     + ("" if kept is None else f", {kept} files kept from the last run"))
    if curation.get("quality"):
        counts = ", ".join(f"{count} {flag.replace('_', ' ')}" for flag, count in curation["quality"].items())
        facts.append(f"quality flags: {counts} (an image may carry several)")
    if "patients" in curation:
        facts.append(f"{curation['patients']} patients (DICOM PatientID, as keyed hashes)")
    return "<ul class='facts'>" + "".join(f"<li>{_e(fact)}</li>" for fact in facts) + "</ul>" if facts else ""


def _cluster_table(summary: Mapping, metrics: Mapping | None) -> str:
    clusters = summary["clusters"]
    total = max(sum(clusters["counts"]), 1)
    header = ["cluster", "images", "share", "mean confidence", "outliers"]
    patients = (summary.get("curation") or {}).get("patients_per_cluster")
    if patients is not None:
        header.append("patients")
    matched = {}
    if metrics is not None:
        names = dict(zip(metrics["classes"], metrics["class_names"]))
        matched = {int(cluster): names[cls] for cluster, cls in metrics["mapping"].items()}
        header.append("matched class")
    rows = []
    for k, (count, confidence, outliers) in enumerate(
        zip(clusters["counts"], clusters["mean_confidence"], clusters["outliers"])
    ):
        row = [k, count, f"{100.0 * count / total:.1f} %", confidence, outliers]
        if patients is not None:
            row.append(patients[k] if k < len(patients) else 0)  # the list ends at the last non-empty cluster
        if metrics is not None:
            row.append(matched.get(k, "–"))
        rows.append(row)
    return _table(header, rows)


def _metrics_section(metrics: Mapping, figures: Mapping[str, ReportFigure]) -> str:
    headline = [
        ("accuracy (matched)", metrics["accuracy"]),
        ("macro F1", metrics["macro_f1"]),
        (f"binary F1 (positive: {metrics['positive_class']})", metrics["binary_f1"]),
        (f"minority F1 ({metrics['minority_class']})", metrics["minority_f1"]),
        ("NMI", metrics["nmi"]),
        ("ARI", metrics["ari"]),
        ("labelled / unlabelled images", f"{metrics['num_labelled']} / {metrics['num_unlabelled']}"),
    ]
    per_class = [[name, row["precision"], row["recall"], row["f1"], row["support"]]
                 for name, row in metrics["per_class"].items()]
    parts = [
        "<h2 id='metrics'>Agreement with the known labels</h2>",
        "<p class='note'>Each cluster is matched to a class by the Hungarian assignment on the "
        "class × cluster counts (extra clusters join the class they overlap most); precision, recall "
        "and F1 are those of the matched prediction. NMI and ARI compare clusters and labels directly. "
        "Images without a label are left out.</p>",
        _table(["score", "value"], [row for row in headline if row[1] is not None]),
        _table(["class", "precision", "recall", "F1", "support"], per_class),
    ]
    if "confusion" in figures:
        parts.append(_figure(figures["confusion"]))
    return "\n".join(parts)


def _skipped_section(skipped: Sequence[tuple[str, str]], total: int, by_reason: Mapping[str, int]) -> str:
    if total == 0:
        return "<h2 id='skipped'>Skipped files</h2><p>Every image file was read.</p>"
    note = f"<p>{total} files could not be read; all are listed in <code>skipped.csv</code>"
    note += f", the first {len(skipped)} here.</p>" if len(skipped) < total else ".</p>"
    reasons = _table(["reason", "files"], list(by_reason.items())) if by_reason else ""
    return "<h2 id='skipped'>Skipped files</h2>" + note + reasons + _table(["file", "reason"], skipped)


def render_report_sections(
    summary: Mapping,
    figures: Sequence[ReportFigure],
    metrics: Mapping | None = None,
    skipped: Sequence[tuple[str, str]] = (),
) -> str:
    """The summary sections of the report page as one HTML string (the page wraps them).

    Args:
        summary: the run's ``summary.json`` content (keys ``archive``, ``bundle``, ``created``,
            ``images``, ``clusters``, ``outlier_rule``, ``settings``, ``timings``; ``images.new`` and
            ``curation`` (quality flag counts, patients) are shown where present).
        figures: the figures of :func:`report_figures`, placed in their sections by key
            (``sizes``, ``map``, ``montage``; ``confusion`` with the metrics).
        metrics: a :func:`~monai_debclust.evaluation.metrics.cluster_report` when labels were known.
        skipped: ``(file id, reason)`` rows to list, e.g. the first fifty.
    """
    by_key = {figure.key: figure for figure in figures}
    bundle = summary.get("bundle") or {}
    rule = summary["outlier_rule"]
    source = summary["clusters"]["source"]
    parts = [
        "<h2 id='summary'>Summary</h2>",
        f"<p class='sub'>Bundle {_e(bundle.get('name') or '–')} version {_e(bundle.get('version') or '–')} · "
        f"{_e(summary['created'])}</p>",
        _cards(summary),
        _facts(summary),
        "<h2 id='clusters'>Clusters</h2>",
        f"<p class='note'>Clusters from {'the trained clustering head' if source == 'head' else 'k-means on the embeddings'}"
        f"; confidence is the largest soft assignment q. An image is an outlier when its distance to the nearest "
        f"centre is above {_number(rule['max_distance'])} (the {_number(rule['percentile'], 1)}th percentile of this "
        f"run) or its confidence is below {_number(rule['min_confidence'])}"
        + ("" if rule["fixed_min_confidence"] else f" (the {_number(100.0 - rule['percentile'], 1)}th percentile)")
        + ".</p>",
        _cluster_table(summary, metrics),
    ]
    parts += [_figure(by_key[key]) for key in ("sizes", "map", "montage") if key in by_key]
    if metrics is not None:
        parts.append(_metrics_section(metrics, by_key))
    images = summary["images"]
    parts.append(_skipped_section(skipped, images["skipped"], images.get("skipped_by_reason") or {}))
    parts += [
        "<h2 id='run'>Run</h2>",
        _table(["setting", "value"], sorted(summary["settings"].items())),
        _table(["timing", "value"], list(summary["timings"].items())),
        "<p class='note'>Files beside this page: <code>assignments.csv</code>, <code>embeddings.npy</code> with "
        "<code>embeddings_index.csv</code>, <code>skipped.csv</code>, <code>summary.json</code>"
        + (", <code>metrics.json</code>" if metrics is not None else "")
        + ", <code>thumbnails/</code>.</p>",
    ]
    return "\n".join(parts)
