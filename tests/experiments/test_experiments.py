"""The experiment runner: a grid read from YAML, long-tailed subsets, skipped finished cells, tables and plot."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

from monai_debclust.cli import main
from monai_debclust.data import make_fundus_cohort
from monai_debclust.experiments import bundle_command, load_grid, prepare_dataset

REPO = Path(__file__).resolve().parents[2]
TINY = {"image_size": 16, "dim": 8, "depth": 1, "kernel_size": 3, "batch_size": 8, "epochs": 2, "val_interval": 5}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    return make_fundus_cohort(tmp_path_factory.mktemp("cohort"), counts={"glaucoma": 12, "normal": 30},
                              image_size=32, seed=0)


def write_grid(folder: Path, cohort: Path, methods: list[str], seeds: list[int], ratios: list) -> Path:
    import yaml

    grid = {"output_dir": str(folder / "out"), "bundles_dir": str(REPO / "bundles"), "methods": methods,
            "seeds": seeds, "settings": TINY, "evaluate": {"probe_epochs": 5},
            "datasets": {"fundus": {"bundle": "refuge", "path": str(cohort), "classes": ["normal", "glaucoma"],
                                    "largest": 30, "imbalance_ratios": ratios}}}
    path = folder / "grid.yaml"
    path.write_text(yaml.safe_dump(grid))
    return path


def test_grid_cells_their_folders_and_their_bundle_commands(tmp_path, cohort):
    grid = load_grid(write_grid(tmp_path, cohort, ["joint", "simclr"], [0, 1], [3, "native"]))
    runs = grid.runs()
    assert len(runs) == 2 * 2 * 2
    assert runs[0].run_dir == tmp_path / "out" / "runs" / "fundus" / "r3" / "joint" / "seed0"
    command = bundle_command(grid, runs[1], "evaluating", num_clusters=2)
    assert command[:5] == [sys.executable, "-m", "monai.bundle", "run", "evaluating"]
    assert "--method=simclr" in command and "--seed=0" in command and "--probe_epochs=5" in command
    assert "evaluate.json" in command[6] and "--dim=8" in command


def test_a_recipe_is_a_method_with_its_own_settings_and_its_own_row(tmp_path, cohort):
    recipe = {"name": "joint_beta0", "method": "joint", "settings": {"beta": 0, "epochs": 3}}
    grid = load_grid(write_grid(tmp_path, cohort, ["simclr", recipe], [0], ["native"]))
    assert grid.methods == ("simclr", "joint_beta0")
    run = grid.runs()[1]
    command = bundle_command(grid, run, "training", num_clusters=2)
    assert run.run_dir.parent.name == "joint_beta0" and "--method=joint" in command
    assert "--beta=0" in command and "--epochs=3" in command and "--epochs=2" not in command


def test_an_overclustering_recipe_asks_for_that_many_clusters_per_class(tmp_path, cohort):
    recipe = {"name": "joint_over3", "method": "joint", "clusters_per_class": 3}
    grid = load_grid(write_grid(tmp_path, cohort, ["simclr", recipe], [0], ["native"]))
    simclr, over = grid.runs()
    assert "--num_clusters=2" in bundle_command(grid, simclr, "training", num_clusters=2)
    assert "--num_clusters=6" in bundle_command(grid, over, "training", num_clusters=2)


def test_a_data_set_overrides_the_grid_settings_and_a_recipe_overrides_both(tmp_path, cohort):
    import yaml

    path = write_grid(tmp_path, cohort, ["simclr", {"name": "short", "method": "simclr", "settings": {"epochs": 1}}],
                      [0], ["native"])
    content = yaml.safe_load(path.read_text())
    content["datasets"]["fundus"]["settings"] = {"epochs": 7}
    path.write_text(yaml.safe_dump(content))
    grid = load_grid(path)
    plain, short = grid.runs()
    assert "--epochs=7" in bundle_command(grid, plain, "training", num_clusters=2)
    assert "--epochs=1" in bundle_command(grid, short, "training", num_clusters=2)


def test_a_ratio_builds_a_seeded_longtailed_subset_of_links(tmp_path, cohort):
    grid = load_grid(write_grid(tmp_path, cohort, ["simclr"], [0], [3]))
    folder = prepare_dataset(grid, grid.datasets[0], 3)
    assert {p.name: len(list(p.iterdir())) for p in folder.iterdir()} == {"normal": 30, "glaucoma": 10}
    assert all(p.is_symlink() for p in (folder / "glaucoma").iterdir())
    assert prepare_dataset(grid, grid.datasets[0], "native") == cohort


def test_a_file_pattern_draws_the_subset_from_matching_names_only(tmp_path):
    import yaml

    for name, files in {"normal": [f"{i}_left.jpg" for i in range(9)],
                        "glaucoma": ["1_right.jpg", "2_right.jpg", "3_left.jpg", "_7_x.jpg", "Glaucoma_1.png"]}.items():
        (tmp_path / "src" / name).mkdir(parents=True)
        for file in files:
            (tmp_path / "src" / name / file).write_bytes(b"")
    spec = {"bundle": "refuge", "path": str(tmp_path / "src"), "classes": ["normal", "glaucoma"], "largest": 9,
            "imbalance_ratios": [3], "file_pattern": r"^\d+_(left|right)\.jpg$"}
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump({"output_dir": str(tmp_path / "out"), "methods": ["simclr"],
                                                        "datasets": {"one_source": spec}}))
    grid = load_grid(tmp_path / "grid.yaml")
    folder = prepare_dataset(grid, grid.datasets[0], 3)
    assert sorted(p.name for p in (folder / "glaucoma").iterdir()) == ["1_right.jpg", "2_right.jpg", "3_left.jpg"]
    spec["largest"], spec["imbalance_ratios"] = 9, [2]
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump({"output_dir": str(tmp_path / "out2"), "methods": ["simclr"],
                                                        "datasets": {"one_source": spec}}))
    grid = load_grid(tmp_path / "grid.yaml")
    with pytest.raises(ValueError, match=r"'glaucoma' has 3 images matching .*, 5 needed"):
        prepare_dataset(grid, grid.datasets[0], 2)


@pytest.mark.parametrize("content, message", [
    ({"methods": ["byol"]}, "unknown method"),
    ({"datasets": {"d": {"bundle": "refuge", "path": ".", "file_pattern": "("}}}, "not to the 'native' ratio"),
    ({"datasets": {"d": {"bundle": "refuge", "path": ".", "classes": ["a", "b"], "largest": 2,
                         "imbalance_ratios": [2], "file_pattern": "("}}}, "not a regular expression"),
    ({"datasets": {"d": {"bundle": "refuge", "path": ".", "imbalance_ratios": [9]}}}, "needs 'classes'"),
    ({"datasets": {"d": {"bundle": "refuge", "path": ".", "imbalance_ratios": [0.5]}}}, "a number >= 1"),
])
def test_a_bad_grid_is_refused_naming_the_fault(tmp_path, content, message):
    import yaml

    grid = {"output_dir": "out", "methods": ["simclr"], "datasets": {"d": {"bundle": "refuge", "path": "."}}, **content}
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump(grid))
    with pytest.raises(ValueError, match=message):
        load_grid(tmp_path / "grid.yaml")


@pytest.mark.slow
def test_the_experiment_command_runs_the_grid_skips_finished_cells_and_writes_tables(tmp_path, cohort, capsys):
    grid_file = write_grid(tmp_path, cohort, ["simclr"], [0, 1], [3])
    assert main(["experiment", str(grid_file)]) == 0
    first = capsys.readouterr().out
    assert "2 runs in the grid, 0 finished already, 2 to run" in first and "[2/2] fundus r=3 simclr seed 1: done" in first
    assert "grid ETA" in first
    assert main(["experiment", str(grid_file)]) == 0
    assert "2 finished already, 0 to run" in capsys.readouterr().out
    tables = tmp_path / "out" / "tables"
    assert {p.name for p in tables.iterdir()} >= {"linear.md", "linear.csv", "head.md", "kmeans.csv", "minority_f1.png"}
    rows = list(csv.DictReader((tables / "knn.csv").open()))
    assert {(row["method"], row["metric"], row["seeds"]) for row in rows} >= {("simclr", "minority_f1", "2")}
    markdown = (tables / "linear.md").read_text()
    assert "| simclr | " in markdown and " ± " in markdown and "fundus r=3 minority_f1" in markdown


@pytest.mark.slow
@pytest.mark.timeout(1800)  # five bundle subprocesses
def test_cells_share_one_groups_cache_score_the_test_split_and_record_commit_budget_and_leakage(tmp_path, cohort):
    import json
    import shutil

    import yaml

    test_dir = make_fundus_cohort(tmp_path / "test", counts={"glaucoma": 6, "normal": 6}, image_size=32, seed=1)
    copied = sorted((cohort / "normal").iterdir())[0]
    shutil.copy(copied, test_dir / "normal" / "copy_of_a_training_image.png")
    grid = {"output_dir": str(tmp_path / "out"), "bundles_dir": str(REPO / "bundles"), "methods": ["simclr", "joint"],
            "seeds": [0], "settings": TINY, "evaluate": {"probe_epochs": 5},
            "datasets": {"fundus": {"bundle": "refuge", "path": str(cohort), "test_path": str(test_dir)}}}
    grid_file = tmp_path / "grid.yaml"
    grid_file.write_text(yaml.safe_dump(grid))
    assert main(["experiment", str(grid_file)]) == 0
    cache = tmp_path / "out" / "duplicates"
    cached = {path: path.stat().st_mtime_ns for path in cache.glob("groups-*.npz")}
    assert len(cached) == 2  # the training set's (validation during training) and train + test (evaluation)
    runs = load_grid(grid_file).runs()
    for run in runs:
        content = json.loads((run.run_dir / "evaluation" / "metrics.json").read_text())
        leakage = content["scores"]["leakage"]
        assert leakage["grouped_by"] == "pixels" and leakage["train_images_removed"] == 1
        assert content["metrics"]["images_left_out"] >= 1 and content["metrics"]["duplicate_groups"] >= 1
        assert content["scores"]["protocols"]["knn"]["leakage"]["split"] == "holdout"
        record = json.loads((run.run_dir / "run.json").read_text())
        assert len(record["commit"].split()[0]) == 40 and record["budget"]["image_size"] == 16
        assert record["budget"]["epochs"] == 2 and "dim 8" in record["budget"]["encoder"]
    (runs[1].run_dir / "evaluation" / "metrics.json").unlink()  # the second cell evaluates again
    assert main(["experiment", str(grid_file)]) == 0
    assert {path: path.stat().st_mtime_ns for path in cache.glob("groups-*.npz")} == cached  # reused, not rewritten
    knn = (tmp_path / "out" / "tables" / "knn.md").read_text()
    assert "1 training images sharing a group with a test image removed" in knn
    assert "Code: commit " in knn and "2 epochs, 16 px, convmixer dim 8 depth 1" in knn


def test_code_version_is_dirty_for_code_changes_only(tmp_path):
    import subprocess

    from monai_debclust.experiments.runner import code_version

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       check=True, capture_output=True)

    (tmp_path / "monai_debclust").mkdir()
    (tmp_path / "monai_debclust" / "code.py").write_text("x = 1\n")
    (tmp_path / "tables.md").write_text("| a |\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "first")
    head = code_version(tmp_path)
    assert len(head) == 40
    (tmp_path / "tables.md").write_text("| b |\n")  # a study rewriting its tables as it goes
    assert code_version(tmp_path) == head
    (tmp_path / "monai_debclust" / "code.py").write_text("x = 2\n")
    assert code_version(tmp_path) == head + " dirty"
