"""The report's figures: the PCA map's projection and the figures' input checks."""

from __future__ import annotations

import numpy as np
import pytest

from monai_debclust.evaluation import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_pca_puts_points_on_a_line_along_the_first_axis():
    t = np.linspace(-2.0, 3.0, 11)
    direction = np.array([3.0, 4.0, 0.0]) / 5.0
    points = plots.pca_2d(t[:, None] * direction + np.array([1.0, 1.0, 1.0]))
    assert np.abs(points[:, 0]) == pytest.approx(np.abs(t - t.mean()))
    assert points[:, 1] == pytest.approx(np.zeros(len(t)), abs=1e-9)


def test_pca_of_one_dimensional_features_fills_the_second_axis_with_zeros():
    points = plots.pca_2d(np.array([[0.0], [1.0], [2.0]]))
    assert points.shape == (3, 2) and np.all(points[:, 1] == 0.0)


def test_every_figure_renders_to_png():
    rng = np.random.default_rng(0)
    figures = [
        plots.embedding_map(rng.normal(size=(30, 2)), rng.integers(0, 3, 30), 3, rng.integers(-1, 2, 30), ["a", "b"]),
        plots.cluster_size_chart([20, 0, 10], [1, 0, 2]),
        plots.confusion_matrix_plot([[5, 1], [2, 7]], ["a", "b"], [0, 1], {0: 0, 1: 1}),
        plots.montage({0: ([rng.random((3, 8, 8))], [rng.random((1, 8, 8))]), 2: ([], [])}, per_side=2),
    ]
    assert all(plots.figure_png(figure).startswith(PNG_SIGNATURE) for figure in figures)


def test_confusion_plot_rejects_a_table_of_another_shape():
    with pytest.raises(ValueError, match=r"expected \(2, 3\)"):
        plots.confusion_matrix_plot([[1, 2], [3, 4]], ["a", "b"], [0, 1, 2])


def test_map_by_label_needs_class_names():
    with pytest.raises(ValueError, match="class_names"):
        plots.embedding_map(np.zeros((2, 2)), np.zeros(2, int), 1, labels=np.zeros(2, int))
