"""The demo training's per-epoch losses for seed 0, recorded before the engines were split (issue 14).

A refactoring that moves code must leave them exactly as they were: the values below came from
``python -m monai.bundle run training --config_file bundles/refuge/train.json`` with :data:`SETTINGS`
on the CPU at commit 5317c2f, read back from the run's TensorBoard events.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

REPO = Path(__file__).resolve().parents[2]
SETTINGS = {"epochs": 3, "dim": 16, "depth": 1, "image_size": 16, "batch_size": 8, "demo_size": 40,
            "val_interval": 1, "seed": 0}
RECORDED = {
    "epoch_loss": [2.5496764183044434, 2.4264163970947266, 2.5369179248809814],
    "epoch_contrastive": [2.5496764183044434, 2.424562454223633, 2.533515453338623],
    "epoch_clustering": [0.0, 0.0005371698644012213, 0.0006804618751630187],
}


def test_demo_training_losses_for_seed_0_are_the_recorded_ones(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "monai.bundle", "run", "training", "--config_file", "bundles/refuge/train.json",
         "--output_dir", str(tmp_path), *(f"--{key}={value}" for key, value in SETTINGS.items())],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    for tag, expected in RECORDED.items():
        assert [event.value for event in events.Scalars(tag)] == pytest.approx(expected, abs=1e-5), tag
