"""Figures of a clustered archive: 2-D map, cluster sizes, confusion matrix and image montages.

Every function returns a :class:`matplotlib.figure.Figure` built without ``pyplot`` (no global
state, no display needed; it renders with the Agg canvas); :func:`figure_png` turns one into PNG
bytes for a file or an HTML page. The inputs are small arrays the caller has already reduced
(a subsample of the embeddings, per-cluster counts, a handful of images), so the figures cost
the same for ten images or ten million.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

__all__ = [
    "figure_png",
    "pca_2d",
    "embedding_map",
    "cluster_size_chart",
    "confusion_matrix_plot",
    "montage",
]

#: Colour of points whose label is unknown on the map coloured by label.
UNKNOWN_COLOUR = "#b0b0b0"


def _new_figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _palette(n: int) -> ListedColormap:
    """``n`` distinct colours: tab10 up to 10, tab20 up to 20, then evenly spaced hues."""
    from matplotlib import colormaps

    if n <= 10:
        return ListedColormap(colormaps["tab10"].colors[: max(n, 1)])
    if n <= 20:
        return ListedColormap(colormaps["tab20"].colors[:n])
    return ListedColormap(colormaps["hsv"](np.linspace(0.0, 1.0, n, endpoint=False)))


def figure_png(figure: Figure, dpi: int = 100) -> bytes:
    """The figure rendered as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def pca_2d(features: np.ndarray) -> np.ndarray:
    """Project ``(N, D)`` features onto their first two principal components, ``(N, 2)``.

    Uses the thin SVD of the centred features, so the caller bounds its cost by passing a
    subsample. Fewer than two features or points give zeros in the missing column(s).
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be (points, dim), got shape {x.shape}.")
    x = x - x.mean(axis=0, keepdims=True)
    points = np.zeros((len(x), 2))
    if len(x) < 2:
        return points
    _, _, components = np.linalg.svd(x, full_matrices=False)
    projected = x @ components[:2].T
    points[:, : projected.shape[1]] = projected
    return points


def _scatter_by(axes, points: np.ndarray, groups: np.ndarray, names: Sequence[str], title: str) -> None:
    colours = _palette(len(names))
    size = float(np.clip(4000.0 / max(len(points), 1), 4.0, 30.0))  # large dots for few points
    for index, name in enumerate(names):
        members = groups == index
        if members.any():
            axes.scatter(*points[members].T, s=size, alpha=0.6, color=colours(index), label=f"{name} ({members.sum()})",
                         linewidths=0, rasterized=True)
    unknown = groups < 0
    if unknown.any():
        axes.scatter(*points[unknown].T, s=size, alpha=0.4, color=UNKNOWN_COLOUR, label=f"unknown ({unknown.sum()})",
                     linewidths=0, rasterized=True)
    axes.set_title(title)
    axes.set_xlabel("PC 1")
    axes.set_ylabel("PC 2")
    axes.legend(loc="best", fontsize="small", markerscale=2.5, frameon=True)


def embedding_map(
    points: np.ndarray,
    clusters: np.ndarray,
    num_clusters: int,
    labels: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
) -> Figure:
    """Scatter of 2-D points (e.g. :func:`pca_2d` of the embeddings) coloured by cluster.

    With ``labels`` (``-1`` for unknown, drawn grey) a second panel colours the same points by
    class, so a reader sees at a glance whether the clusters follow the classes.

    Args:
        points: ``(N, 2)`` map coordinates.
        clusters: ``(N,)`` cluster id per point, in ``0 .. num_clusters - 1``.
        num_clusters: K, so that empty clusters keep their colour.
        labels: optional ``(N,)`` class id per point.
        class_names: names of the classes ``0 .. C - 1``; required with ``labels``.
    """
    points, clusters = np.asarray(points), np.asarray(clusters)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) != len(clusters):
        raise ValueError(f"points must be (N, 2) with one cluster each, got {points.shape} and {clusters.shape}.")
    panels = 1 if labels is None else 2
    figure = _new_figure(6.0 * panels, 5.2)
    axes = figure.subplots(1, panels, squeeze=False)[0]
    _scatter_by(axes[0], points, clusters, [f"cluster {k}" for k in range(num_clusters)],
                f"Embeddings by cluster (PCA, {len(points)} points)")
    if labels is not None:
        if class_names is None:
            raise ValueError("class_names are needed to colour the map by label.")
        _scatter_by(axes[1], points, np.asarray(labels), list(class_names), "Embeddings by known label")
    return figure


def cluster_size_chart(counts: Sequence[int], outliers: Sequence[int] | None = None) -> Figure:
    """Bar chart of the number of images per cluster, with each cluster's outliers stacked on top.

    Args:
        counts: images per cluster ``0 .. K - 1`` (outliers included).
        outliers: optional outliers per cluster, drawn as the darker part of each bar.
    """
    counts = np.asarray(counts, dtype=np.int64)
    figure = _new_figure(max(4.0, 0.6 * len(counts) + 2.0), 3.6)
    axes = figure.subplots()
    positions = np.arange(len(counts))
    colours = [_palette(len(counts))(k) for k in range(len(counts))]
    if outliers is None:
        bars = axes.bar(positions, counts, color=colours)
    else:
        outliers = np.asarray(outliers, dtype=np.int64)
        bars = axes.bar(positions, counts - outliers, color=colours)
        axes.bar(positions, outliers, bottom=counts - outliers, color="#444444", label="outliers")
        axes.legend(loc="best", fontsize="small")
    axes.bar_label(bars, labels=[str(c) for c in counts], padding=2, fontsize="small")
    axes.set_xticks(positions, [str(k) for k in positions])
    axes.set_xlabel("cluster")
    axes.set_ylabel("images")
    axes.set_title("Cluster sizes")
    axes.margins(y=0.15)
    return figure


def confusion_matrix_plot(
    confusion: Sequence[Sequence[int]],
    class_names: Sequence[str],
    clusters: Sequence[int],
    mapping: Mapping[int, int] | None = None,
) -> Figure:
    """Heat map of a ``(classes x clusters)`` contingency table with the counts written in.

    Args:
        confusion: counts, one row per class and one column per cluster
            (``cluster_report(...)["confusion"]``).
        class_names: row names.
        clusters: column cluster ids.
        mapping: optional ``{cluster: class id}`` of the Hungarian matching; each column is then
            titled with the class it was matched to.
    """
    table = np.asarray(confusion, dtype=np.int64)
    if table.shape != (len(class_names), len(clusters)):
        raise ValueError(f"confusion has shape {table.shape}, expected ({len(class_names)}, {len(clusters)}).")
    figure = _new_figure(max(4.0, 1.1 * len(clusters) + 2.5), max(3.0, 0.6 * len(class_names) + 1.8))
    axes = figure.subplots()
    image = axes.imshow(table, cmap="Blues", aspect="auto")
    threshold = table.max() / 2.0 if table.size else 0.0
    for (row, column), count in np.ndenumerate(table):
        axes.text(column, row, str(count), ha="center", va="center",
                  color="white" if count > threshold else "black", fontsize="small")
    columns = [
        f"{c}\n→ {class_names[mapping[c]]}" if mapping is not None and c in mapping and mapping[c] < len(class_names)
        else str(c)
        for c in clusters
    ]
    axes.set_xticks(np.arange(len(clusters)), columns)
    axes.set_yticks(np.arange(len(class_names)), list(class_names))
    axes.set_xlabel("cluster (→ matched class)")
    axes.set_ylabel("true class")
    axes.set_title("Confusion: classes × clusters")
    figure.colorbar(image, ax=axes, shrink=0.8)
    return figure


def _as_display(image: np.ndarray) -> np.ndarray:
    """A channel-first ``(C, H, W)`` image in ``[0, 1]`` as ``(H, W, 3)`` or ``(H, W)`` for imshow."""
    image = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    if image.ndim != 3:
        raise ValueError(f"images must be channel-first (C, H, W), got shape {image.shape}.")
    if image.shape[0] == 1:
        return image[0]
    return np.moveaxis(image[:3], 0, -1)


def montage(rows: Mapping[int, tuple[Sequence[np.ndarray], Sequence[np.ndarray]]], per_side: int) -> Figure:
    """Grid of example images: one row per cluster, its most typical images left, least typical right.

    Each side is read left to right: the most typical image first on the left, the least
    typical image first on the right.

    Args:
        rows: ``{cluster: (typical, atypical)}``, each a list of up to ``per_side`` channel-first
            2-D images in ``[0, 1]`` (a volume's caller passes a slice), most/least typical first.
        per_side: number of image columns on each side.
    """
    if not rows:
        raise ValueError("montage needs at least one cluster.")
    columns = 2 * per_side + 1
    figure = _new_figure(1.3 * columns, 1.4 * len(rows) + 0.6)
    grid = figure.subplots(len(rows), columns, squeeze=False)
    for axes in grid.flat:
        axes.set_axis_off()
    for row, (cluster, (typical, atypical)) in enumerate(sorted(rows.items())):
        for column, image in enumerate(list(typical)[:per_side]):
            grid[row, column].imshow(_as_display(image), cmap="gray", vmin=0.0, vmax=1.0)
        for column, image in enumerate(list(atypical)[:per_side]):
            grid[row, per_side + 1 + column].imshow(_as_display(image), cmap="gray", vmin=0.0, vmax=1.0)
        grid[row, per_side].text(0.5, 0.5, f"cluster {cluster}", ha="center", va="center", fontsize="medium",
                                 fontweight="bold", transform=grid[row, per_side].transAxes)
    grid[0, 0].set_title("most typical", loc="left", fontsize="small")
    grid[0, per_side + 1].set_title("least typical", loc="left", fontsize="small")
    return figure
