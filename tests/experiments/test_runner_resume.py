"""The experiment runner resumes a cell SIGKILLed half-way to the same final metrics as an uninterrupted run."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from monai_debclust.cli import main
from monai_debclust.data import make_fundus_cohort

REPO = Path(__file__).resolve().parents[2]
SETTINGS = {"image_size": 16, "dim": 16, "depth": 1, "kernel_size": 3, "batch_size": 8, "epochs": 6,
            "val_interval": 5, "warmup_epochs": 1, "gamma_rampup_epochs": 1}
CELL = Path("runs") / "fundus" / "rnative" / "joint" / "seed0"


def _grid(folder: Path, cohort: Path) -> Path:
    grid = {"output_dir": str(folder / "out"), "bundles_dir": str(REPO / "bundles"), "methods": ["joint"],
            "seeds": [0], "settings": SETTINGS, "evaluate": {"probe_epochs": 5},
            "datasets": {"fundus": {"bundle": "refuge", "path": str(cohort), "classes": ["normal", "glaucoma"],
                                    "largest": 20, "imbalance_ratios": ["native"]}}}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "grid.yaml").write_text(yaml.safe_dump(grid))
    return folder / "grid.yaml"


def _metrics(folder: Path) -> dict:
    return json.loads((folder / "out" / CELL / "evaluation" / "metrics.json").read_text())


def _kill_mid_training(grid_file: Path, run_dir: Path, timeout: float = 900) -> int:
    """Run the grid in a new process group; SIGKILL the group once a checkpoint before the last epoch is saved.

    MONAI's ``CheckpointSaver`` writes in place, so a visible file may be half-written; the trigger is
    ignite's "Saved checkpoint at epoch: k" line (the bundle's stdout, unbuffered here), logged after the save.
    """
    command = [sys.executable, "-c", "import sys; from monai_debclust.cli import main; sys.exit(main(sys.argv[1:]))",
               "experiment", str(grid_file)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    runner = subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    saved_mid_training = re.compile(rf"Saved checkpoint at epoch: [1-{SETTINGS['epochs'] - 1}]\b")
    log, deadline = run_dir / "training.log", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and runner.poll() is None:
            if log.is_file() and saved_mid_training.search(log.read_text(errors="replace")):
                os.killpg(runner.pid, signal.SIGKILL)  # the runner and the bundle's training process
                break
            time.sleep(0.02)
    finally:
        if runner.poll() is None and time.monotonic() >= deadline:
            os.killpg(runner.pid, signal.SIGKILL)
        runner.wait()
    return runner.returncode


@pytest.mark.slow
def test_a_grid_sigkilled_half_way_resumes_to_the_metrics_of_an_uninterrupted_run(tmp_path):
    cohort = make_fundus_cohort(tmp_path / "cohort", counts={"glaucoma": 8, "normal": 20}, image_size=32, seed=0)
    assert main(["experiment", str(_grid(tmp_path / "whole", cohort))]) == 0

    killed = tmp_path / "killed"
    checkpoints = killed / "out" / CELL / "checkpoints"
    assert _kill_mid_training(_grid(killed, cohort), killed / "out" / CELL) == -signal.SIGKILL
    assert not (killed / "out" / CELL / "evaluation" / "metrics.json").exists()
    left = [path.name for path in checkpoints.iterdir() if path.suffix == ".pt"]
    assert left and all(re.fullmatch(r"checkpoint_epoch=[1-5]\.pt", name) for name in left), left  # before the end

    assert main(["experiment", str(killed / "grid.yaml")]) == 0
    log = (killed / "out" / CELL / "training.log").read_text()
    assert re.search(r"Restored all variables from \S*checkpoint_epoch=[1-5]\.pt", log)  # resumed, not restarted
    assert _metrics(killed) == _metrics(tmp_path / "whole")
    weights = [torch.load(folder / "out" / CELL / "models" / "model.pt", weights_only=True)
               for folder in (killed, tmp_path / "whole")]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])
