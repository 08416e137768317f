"""An experiment grid: methods x datasets x imbalance ratios x seeds, read from a YAML file.

Example (paths relative to the working directory)::

    output_dir: runs/experiments/demo
    methods: [joint, simclr, simsiam]      # or {name: joint_beta0, method: joint, settings: {beta: 0}, clusters_per_class: 1}
    seeds: [0, 1, 2]
    settings: {epochs: 6, image_size: 32, dim: 32, depth: 2}  # bundle overrides of every run: the budget
    evaluate: {probe_epochs: 100}                              # overrides of evaluate.json
    datasets:
      fundus:
        bundle: refuge                 # bundles/<bundle>/train.json
        path: ../shared/data/fundus4   # one sub-folder per class
        classes: [normal, glaucoma]    # the classes used, from the largest to the smallest
        largest: 900                   # images of the first class
        imbalance_ratios: [9, 3]       # largest : smallest; "native" takes the folder as it is
        file_pattern: '^\d+_(left|right)\.jpg$'   # optional: only file names this regular expression matches
      isic9:
        bundle: isic2018
        path: ../shared/data/isic9/Train
        test_path: ../shared/data/isic9/Test   # its own test split: the supervised protocols score it
        settings: {epochs: 25}                 # this data set's own overrides of the settings

A ratio other than ``native`` builds a seeded long-tailed subset (Cao et al., 2019 profile,
:func:`~monai_debclust.data.longtail_counts`) as links under ``<output_dir>/data``; every
method and seed of that cell trains on the same images. Every cell's evaluation splits its folds
by the pixel duplicate groups of its images, cached once for the whole grid under
``<output_dir>/duplicates`` (a grid setting ``duplicate_cache_dir`` names another folder).
A ``file_pattern`` draws the subset from the matching file names only (``re.search``), e.g. the
photographs of one source when a folder mixes several.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from monai_debclust.data import IMAGE_EXTENSIONS, longtail_counts
from monai_debclust.bundle.methods import METHODS

__all__ = ["DatasetSpec", "ExperimentGrid", "Recipe", "Run", "load_grid", "prepare_dataset"]

NATIVE = "native"


@dataclass(frozen=True)
class DatasetSpec:
    """One data set of a grid: its bundle, its folder, the classes used and the imbalance ratios.

    ``settings`` overrides the grid's settings for this data set's runs (e.g. its epochs); a
    recipe's settings override both. ``file_pattern`` (a regular expression) keeps only the file
    names it matches when a numeric ratio draws the subset.
    """

    name: str
    bundle: str
    path: Path
    imbalance_ratios: tuple[Any, ...] = (NATIVE,)
    classes: tuple[str, ...] | None = None
    largest: int | None = None
    test_path: Path | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    file_pattern: str | None = None


@dataclass(frozen=True)
class Recipe:
    """A row of the tables: a training ``method`` of the bundles with its own setting overrides.

    ``clusters_per_class`` > 1 over-clusters: the run's ``num_clusters`` is that many times the data
    set's classes (its clustering rows are then scored many-to-one, apart from the others).
    """

    name: str
    method: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    clusters_per_class: int = 1


@dataclass(frozen=True)
class Run:
    """One cell of the grid: a recipe trained on one data set at one ratio with one seed."""

    dataset: DatasetSpec
    ratio: Any
    recipe: Recipe
    seed: int
    run_dir: Path
    data_dir: Path

    @property
    def method(self) -> str:
        """The row name (the recipe's name; the method's for a plain method)."""
        return self.recipe.name

    @property
    def name(self) -> str:
        return f"{self.dataset.name} r={self.ratio} {self.method} seed {self.seed}"


@dataclass(frozen=True)
class ExperimentGrid:
    """A grid read by :func:`load_grid`; :meth:`runs` lists its cells in the order they run."""

    output_dir: Path
    recipes: tuple[Recipe, ...]
    seeds: tuple[int, ...]
    datasets: tuple[DatasetSpec, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)
    evaluate: Mapping[str, Any] = field(default_factory=dict)
    bundles_dir: Path = Path("bundles")

    @property
    def methods(self) -> tuple[str, ...]:
        """The row names, in the grid's order."""
        return tuple(recipe.name for recipe in self.recipes)

    @property
    def duplicate_cache_dir(self) -> Path:
        """The one folder of cached duplicate groups that every cell's evaluation shares."""
        return Path(self.settings.get("duplicate_cache_dir") or self.output_dir / "duplicates")

    def data_dir(self, dataset: DatasetSpec, ratio: Any) -> Path:
        return dataset.path if ratio == NATIVE else self.output_dir / "data" / f"{dataset.name}_r{ratio}"

    def runs(self) -> list[Run]:
        """Every cell, seed by seed (so that an interrupted grid has whole seeds), then data set, ratio and method."""
        return [
            Run(dataset, ratio, recipe, seed,
                self.output_dir / "runs" / dataset.name / f"r{ratio}" / recipe.name / f"seed{seed}",
                self.data_dir(dataset, ratio))
            for seed in self.seeds
            for dataset in self.datasets
            for ratio in dataset.imbalance_ratios
            for recipe in self.recipes
        ]


def _require(mapping: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in mapping:
        raise ValueError(f"{where}: missing key {key!r}.")
    return mapping[key]


def _recipe(entry: Any, where: str) -> Recipe:
    if isinstance(entry, str):
        return Recipe(entry, entry)
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: a method is a name or a mapping {{name, method, settings}}, got {entry!r}.")
    clusters_per_class = entry.get("clusters_per_class", 1)
    if not isinstance(clusters_per_class, int) or clusters_per_class < 1:
        raise ValueError(f"{where}: clusters_per_class is a whole number >= 1, got {clusters_per_class!r}.")
    return Recipe(str(_require(entry, "name", where)), str(_require(entry, "method", where)),
                  dict(entry.get("settings") or {}), clusters_per_class)


def _dataset(name: str, spec: Mapping[str, Any], base: Path) -> DatasetSpec:
    ratios = tuple(spec.get("imbalance_ratios", [NATIVE]))
    for ratio in ratios:
        if ratio != NATIVE and not (isinstance(ratio, (int, float)) and ratio >= 1):
            raise ValueError(f"dataset {name}: an imbalance ratio is a number >= 1 or {NATIVE!r}, got {ratio!r}.")
    classes = spec.get("classes")
    if any(r != NATIVE for r in ratios) and (not classes or not spec.get("largest")):
        raise ValueError(f"dataset {name}: a numeric imbalance ratio needs 'classes' (largest first) and 'largest'.")
    test_path = spec.get("test_path")
    file_pattern = spec.get("file_pattern")
    if file_pattern is not None:
        if NATIVE in ratios:
            raise ValueError(f"dataset {name}: file_pattern applies to a drawn subset, not to the {NATIVE!r} ratio.")
        try:
            re.compile(file_pattern)
        except (re.error, TypeError) as error:
            raise ValueError(f"dataset {name}: file_pattern {file_pattern!r} is not a regular expression ({error}).")
    return DatasetSpec(name, str(_require(spec, "bundle", f"dataset {name}")),
                       base / Path(_require(spec, "path", f"dataset {name}")).expanduser(), ratios,
                       None if classes is None else tuple(classes), spec.get("largest"),
                       None if test_path is None else base / Path(test_path).expanduser(),
                       dict(spec.get("settings") or {}), file_pattern)


def load_grid(path: str | os.PathLike) -> ExperimentGrid:
    """Read and check an experiment grid (see the module docstring); relative paths are the working directory's."""
    content = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(content, Mapping):
        raise ValueError(f"{path}: an experiment grid is a YAML mapping.")
    recipes = tuple(_recipe(entry, str(path)) for entry in _require(content, "methods", str(path)))
    unknown = [recipe.method for recipe in recipes if recipe.method not in METHODS]
    if unknown:
        raise ValueError(f"{path}: unknown method(s) {unknown}; known: {', '.join(METHODS)}.")
    if len({recipe.name for recipe in recipes}) != len(recipes):
        raise ValueError(f"{path}: two methods or recipes share a name.")
    base = Path.cwd()
    datasets = tuple(_dataset(name, spec, base) for name, spec in _require(content, "datasets", str(path)).items())
    return ExperimentGrid(
        output_dir=base / Path(_require(content, "output_dir", str(path))),
        recipes=recipes,
        seeds=tuple(int(s) for s in content.get("seeds", [0])),
        datasets=datasets,
        settings=dict(content.get("settings") or {}),
        evaluate=dict(content.get("evaluate") or {}),
        bundles_dir=base / Path(content.get("bundles_dir", "bundles")),
    )


def _class_files(folder: Path, file_pattern: str | None = None) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.lower().endswith(IMAGE_EXTENSIONS)
                  and (file_pattern is None or re.search(file_pattern, p.name)))


def prepare_dataset(grid: ExperimentGrid, dataset: DatasetSpec, ratio: Any, seed: int = 0) -> Path:
    """The folder a cell trains on: the data set itself (``native``) or its seeded long-tailed subset, as links."""
    target = grid.data_dir(dataset, ratio)
    if ratio == NATIVE or target.is_dir():
        return target
    counts = longtail_counts(dataset.largest, len(dataset.classes), float(ratio))
    rng = np.random.default_rng(seed)
    staging = target.with_name(target.name + ".partial")
    for name, count in zip(dataset.classes, counts):
        files = _class_files(dataset.path / name, dataset.file_pattern)
        if len(files) < count:
            matching = "" if dataset.file_pattern is None else f" matching {dataset.file_pattern!r}"
            raise ValueError(f"dataset {dataset.name}: class {name!r} has {len(files)} images{matching}, "
                             f"{count} needed.")
        (staging / name).mkdir(parents=True, exist_ok=True)
        for index in np.sort(rng.choice(len(files), count, replace=False)):
            link = staging / name / files[index].name
            if not link.exists():
                link.symlink_to(files[index].resolve())
    staging.rename(target)
    return target
