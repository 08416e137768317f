"""Run an experiment grid: each cell is the bundle's own training, then its evaluation with the four protocols.

Every cell runs in its own folder (``<output_dir>/runs/<dataset>/r<ratio>/<method>/seed<seed>``)
as ``python -m monai.bundle run training`` and then ``run evaluating`` (``evaluate.json``) with
the cell's method, seed and data and the grid's settings, so a cell is exactly what a user gets
from the bundle by hand. ``run.json`` records the commands and the seconds each took, the code
that ran (:func:`code_version`: the commit of the checkout the runner's package comes from, and
whether its tracked files had changes) and the budget (:func:`run_budget`: epochs, image size,
encoder). A cell
whose ``evaluation/metrics.json`` exists is finished and skipped; an interrupted one is run
again, and the bundle resumes from its last checkpoint (the experts' stages from theirs).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from monai_debclust.data import ImageArchive
from monai_debclust.bundle.outputs import write_json
from monai_debclust.experiments.grid import ExperimentGrid, Run, prepare_dataset

__all__ = ["bundle_command", "run_settings", "code_version", "experiment_main", "is_finished", "run_budget", "run_cell", "run_grid"]

#: The checkout the runner's own package was imported from: the code every cell runs.
CHECKOUT = Path(__file__).resolve().parents[2]
#: What "the code" of a checkout is, for :func:`code_version`.
CODE_PATHS = ("monai_debclust", "pyproject.toml")


def _overrides(settings: dict[str, Any]) -> list[str]:
    return [f"--{key}={json.dumps(value) if isinstance(value, (list, dict, bool)) or value is None else value}"
            for key, value in settings.items()]


def run_settings(grid: ExperimentGrid, run: Run) -> dict[str, Any]:
    """The bundle overrides of one cell: the grid's settings, then its data set's, then its recipe's."""
    return {**grid.settings, **run.dataset.settings, **run.recipe.settings}


def bundle_command(grid: ExperimentGrid, run: Run, run_id: str, num_clusters: int) -> list[str]:
    """The ``monai.bundle`` command of ``run_id`` (``training`` or ``evaluating``) for one cell.

    ``num_clusters`` is the data set's number of classes; an over-clustering recipe multiplies it.
    """
    bundle = grid.bundles_dir / run.dataset.bundle
    configs = [str(bundle / "train.json")]
    clusters = num_clusters * run.recipe.clusters_per_class
    settings = {"dataset_dir": str(run.data_dir), "output_dir": str(run.run_dir), "layout": "folder",
                "method": run.recipe.method, "seed": run.seed, "num_clusters": clusters,
                "duplicate_cache_dir": str(grid.duplicate_cache_dir), **run_settings(grid, run)}
    if run_id == "evaluating":
        configs.append(str(bundle / "configs" / "evaluate.json"))
        if run.dataset.test_path is not None:
            settings["test_dir"] = str(run.dataset.test_path)
        settings.update(grid.evaluate)
    config_file = configs[0] if len(configs) == 1 else str(configs)
    return [sys.executable, "-m", "monai.bundle", "run", run_id, "--config_file", config_file, *_overrides(settings)]


def code_version(checkout: str | Path = CHECKOUT) -> str:
    """``git rev-parse HEAD`` of ``checkout``, plus ``" dirty"`` when its code (the package, with the bundle
    templates, and ``pyproject.toml``) differs from that commit; other files, such as the tables a
    study rewrites as it goes, do not count. ``"unknown"`` outside a git checkout."""
    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True)

    head = git("rev-parse", "HEAD")
    if head.returncode != 0:
        return "unknown"
    changes = git("status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS)
    return head.stdout.strip() + (" dirty" if changes.returncode != 0 or changes.stdout.strip() else "")


def run_budget(run_dir: Path, settings: dict[str, Any], seconds: float) -> dict[str, Any]:
    """What one cell's training spent: its epochs, image size and encoder as the trained model records them
    (``models/input.json``, ``models/network.json``), the batch size asked for and the training minutes."""
    models = run_dir / "models"
    network = json.loads((models / "network.json").read_text(encoding="utf-8"))["arguments"]
    inputs = json.loads((models / "input.json").read_text(encoding="utf-8"))
    kwargs = network.get("encoder_kwargs", {})
    encoder = network.get("encoder", "?") + "".join(
        f" {key} {kwargs[key]}" for key in ("dim", "depth", "kernel_size", "patch_size") if key in kwargs)
    return {"epochs": settings.get("epochs", "bundle default"), "image_size": inputs["image_size"],
            "encoder": encoder, "batch_size": settings.get("batch_size", "bundle default"),
            "training_minutes": round(seconds / 60, 2)}


def _num_classes(data_dir: Path) -> int:
    return len(ImageArchive(data_dir, layout="folder").class_names)


def run_cell(grid: ExperimentGrid, run: Run) -> dict[str, Any]:
    """Train and evaluate one cell (resuming whatever it left); return its ``run.json`` record."""
    run.run_dir.mkdir(parents=True, exist_ok=True)
    settings = run_settings(grid, run)
    record: dict[str, Any] = {"dataset": run.dataset.name, "ratio": run.ratio, "method": run.method,
                              "seed": run.seed, "data_dir": str(run.data_dir), "settings": settings,
                              "commit": code_version()}
    num_clusters = _num_classes(run.data_dir)
    for run_id in ("training", "evaluating"):
        command = bundle_command(grid, run, run_id, num_clusters)
        start = time.perf_counter()
        with (run.run_dir / f"{run_id}.log").open("a", encoding="utf-8") as log:
            result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT)
        record[f"{run_id}_seconds"] = round(time.perf_counter() - start, 1)
        record[f"{run_id}_command"] = command
        if result.returncode != 0:
            raise RuntimeError(f"{run.name}: {run_id} failed (exit {result.returncode}); see "
                               f"{run.run_dir / f'{run_id}.log'}")
    record["budget"] = run_budget(run.run_dir, settings, record["training_seconds"])
    write_json(record, run.run_dir / "run.json")
    return record


def is_finished(run: Run) -> bool:
    """Whether the cell's evaluation exists (its training and evaluation both completed)."""
    return (run.run_dir / "evaluation" / "metrics.json").is_file() and (run.run_dir / "run.json").is_file()


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def run_grid(
    grid: ExperimentGrid,
    runs: Sequence[Run] | None = None,
    print_line: Callable[[str], None] = print,
    after_cell: Callable[[], None] | None = None,
) -> list[Run]:
    """Run every unfinished cell of ``grid`` (or of ``runs``), printing one progress line per cell.

    ``after_cell`` is called after each cell (the experiment command rewrites the tables there, so
    a long grid's tables fill as it goes). Returns the cells that failed (their error is printed;
    the grid goes on with the others).
    """
    runs = grid.runs() if runs is None else list(runs)
    todo = [run for run in runs if not is_finished(run)]
    print_line(f"{len(runs)} runs in the grid, {len(runs) - len(todo)} finished already, {len(todo)} to run")
    failed, spent = [], 0.0
    for done, run in enumerate(todo, start=1):
        prepare_dataset(grid, run.dataset, run.ratio)
        start = time.perf_counter()
        try:
            run_cell(grid, run)
            status = "done"
        except RuntimeError as error:
            failed.append(run)
            status = f"FAILED: {error}"
        spent += time.perf_counter() - start
        eta = spent / done * (len(todo) - done)
        print_line(f"[{done}/{len(todo)}] {run.name}: {status} in {_duration(time.perf_counter() - start)}; "
                   f"grid ETA {_duration(eta)}")
        if after_cell is not None:
            after_cell()
    return failed


def experiment_main(grid_file: str, tables_only: bool = False, tables_dir: str | None = None) -> int:
    """``monai-debclust experiment GRID.yaml``: run the unfinished cells, then write the tables; the exit status.

    The tables go to ``tables_dir`` (default ``<output_dir>/tables``), rewritten after every cell.
    """
    from monai_debclust.experiments.grid import load_grid
    from monai_debclust.experiments.tables import write_tables

    grid = load_grid(grid_file)
    failed = [] if tables_only else run_grid(grid, print_line=lambda line: print(line, flush=True),
                                             after_cell=lambda: write_tables(grid, tables_dir))
    for path in write_tables(grid, tables_dir):
        print(f"wrote {path}", flush=True)
    return 1 if failed else 0
