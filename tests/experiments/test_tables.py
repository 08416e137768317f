"""Tables: sample standard deviation, one-seed cells, paired differences to SimCLR with a t-interval."""

from __future__ import annotations

import csv
import json

import pytest
import yaml

from monai_debclust.experiments import load_grid, write_tables
from monai_debclust.experiments.tables import mean_std_cell, paired_difference

# Hand-computed: d = (0.1, 0.2, 0.0): mean 0.1, sd (ddof 1) 0.1, t(0.975, 2) = 4.302653,
# half width 4.302653 * 0.1 / sqrt(3) = 0.248414.
METHOD = {0: 0.5, 1: 0.7, 2: 0.6}
SIMCLR = {0: 0.4, 1: 0.5, 2: 0.6}


def test_mean_std_uses_the_sample_standard_deviation_and_says_n_1():
    assert mean_std_cell([0.5, 0.7, 0.6]) == "0.600 ± 0.100"  # ddof 0 would print 0.082
    assert mean_std_cell([0.25]) == "0.250 (n = 1)"
    assert mean_std_cell([]) == "—"


def test_paired_difference_matches_the_hand_computed_t_interval():
    difference = paired_difference(METHOD, {**SIMCLR, 3: 0.9})  # seed 3 has no pair: left out
    assert difference["n"] == 3 and difference["mean"] == pytest.approx(0.1) and difference["sd"] == pytest.approx(0.1)
    assert difference["low"] == pytest.approx(0.1 - 0.248414, abs=1e-6)
    assert difference["high"] == pytest.approx(0.1 + 0.248414, abs=1e-6)
    assert paired_difference({0: 0.5}, {0: 0.25}) == {"mean": 0.25, "sd": None, "low": None, "high": None, "n": 1}
    assert paired_difference({1: 0.5}, {0: 0.25}) is None


def test_written_tables_show_mean_sd_n1_the_difference_to_simclr_and_the_leakage(tmp_path):
    grid_file = tmp_path / "grid.yaml"
    grid_file.write_text(yaml.safe_dump({
        "output_dir": str(tmp_path / "out"), "methods": ["simclr", "joint", "debiased"], "seeds": [0, 1, 2],
        "datasets": {"fundus": {"bundle": "refuge", "path": str(tmp_path), "classes": ["normal", "glaucoma"],
                                "largest": 90, "imbalance_ratios": [9]}}}))
    grid = load_grid(grid_file)
    leakage = {"split": "group_kfold", "groups": 40, "merged_images": 83, "conflict_groups": 3,
               "conflict_images_excluded": 7}
    for run in grid.runs():
        seeds = {"simclr": SIMCLR, "joint": METHOD, "debiased": {0: 0.25}}[run.recipe.name]
        if run.seed not in seeds or (run.recipe.name == "joint" and run.seed == 2):
            continue  # joint finished two seeds, debiased one
        (run.run_dir / "evaluation").mkdir(parents=True)
        (run.run_dir / "run.json").write_text(json.dumps({"dataset": "fundus", "ratio": 9, "method": run.recipe.name,
                                                          "seed": run.seed, "training_seconds": 60}))
        score = {"accuracy": 0.9, "f1": seeds[run.seed], "minority_f1": seeds[run.seed], "leakage": leakage}
        (run.run_dir / "evaluation" / "metrics.json").write_text(json.dumps({"scores": {"protocols": {"knn": score}}}))
    write_tables(grid)
    tables = tmp_path / "out" / "tables"
    knn = (tables / "knn.md").read_text()
    assert "| simclr | 0.900 ± 0.000 | 0.500 ± 0.100 |" in knn and "ddof = 1" in knn
    assert "| joint | 0.900 ± 0.000 | 0.600 ± 0.141 |" in knn
    assert "| debiased | 0.900 (n = 1) | 0.250 (n = 1) |" in knn
    assert "40 groups merging 83 images, 7 images of conflicting groups left out" in knn
    difference = (tables / "knn_vs_simclr.md").read_text()
    assert "| joint | +0.000 [+0.000, +0.000] (n = 2) | +0.150 [-0.485, +0.785] (n = 2) |" in difference
    assert "| debiased | +0.000 (n = 1) | -0.150 (n = 1) |" in difference
    rows = list(csv.DictReader((tables / "knn_vs_simclr.csv").open()))
    f1 = next(r for r in rows if r["metric"] == "minority_f1")
    assert (f1["method"], f1["difference"], f1["seeds"]) == ("joint", "0.1500", "2")
