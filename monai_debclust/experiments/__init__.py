"""Experiment grids: every method on every data set, imbalance ratio and seed, and the tables of the papers.

``monai-debclust experiment GRID.yaml`` reads a grid (:func:`load_grid`), runs each unfinished
cell as the bundle's own training and evaluation (:func:`run_grid`) and writes the tables and
the plot (:func:`write_tables`).
"""

from monai_debclust.experiments.grid import DatasetSpec, ExperimentGrid, Recipe, Run, load_grid, prepare_dataset
from monai_debclust.experiments.runner import bundle_command, is_finished, run_cell, run_grid
from monai_debclust.experiments.tables import collect_results, plot_minority_f1, write_tables

__all__ = [
    "DatasetSpec",
    "ExperimentGrid",
    "Recipe",
    "Run",
    "bundle_command",
    "collect_results",
    "is_finished",
    "load_grid",
    "plot_minority_f1",
    "prepare_dataset",
    "run_cell",
    "run_grid",
    "write_tables",
]
