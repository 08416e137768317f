"""The demo training's per-epoch losses for seed 0, recorded when the bundles moved to batched views.

A refactoring that moves code must leave them exactly as they were: the values below came from
``python -m monai.bundle run training --config_file bundles/refuge/train.json`` with :data:`SETTINGS`
on the CPU, read back from the run's TensorBoard events. They were first recorded at commit
5317c2f (issue 14) and recorded again, deliberately, when the trainer began making both views of
each batch on its device (``views=BatchTwoViews``, ``view_seed``): the views are drawn from
another generator, so the losses moved.
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
    "epoch_loss": [2.5629873275756836, 2.649183750152588, 2.4973011016845703],
    "epoch_contrastive": [2.5629873275756836, 2.6476519107818604, 2.494494676589966],
    "epoch_clustering": [0.0, 0.0004379008605610579, 0.0005612777313217521],
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
