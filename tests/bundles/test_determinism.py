"""Same seed, same run: equal losses and assignments; a run killed mid-epoch and resumed ends where an
uninterrupted one does (on the CPU, ``num_workers=0``)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CONFIG = "bundles/refuge/train.json"
TINY = {"image_size": 16, "dim": 8, "depth": 1, "batch_size": 8, "demo_size": 48, "epochs": 4, "val_interval": 1,
        "dropout": 0.2}
KILL_EPOCH, KILL_ITERATION = 3, 2  # SIGKILL after the 2nd of the 6 iterations of epoch 3


def _run(run_id: str, configs: list[str], output_dir: Path, **overrides) -> subprocess.CompletedProcess:
    settings = [f"--{key}={value}" for key, value in {**(TINY if run_id == "training" else {}), **overrides}.items()]
    config_file = configs[0] if len(configs) == 1 else str(configs)
    return subprocess.run(
        [sys.executable, "-m", "monai.bundle", "run", run_id, "--config_file", config_file,
         "--output_dir", str(output_dir), *settings],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )


def _losses(output_dir: Path) -> dict[str, list[float]]:
    events = EventAccumulator(str(output_dir / "tensorboard"))
    events.Reload()
    return {tag: [event.value for event in events.Scalars(tag)] for tag in ("epoch_loss", "epoch_contrastive")}


def _killing_config(tmp_path: Path) -> str:
    """A config that SIGKILLs the training process in the middle of epoch KILL_EPOCH, as a power cut would."""
    run = json.loads((REPO / CONFIG).read_text())["run"]
    kill = ("$@train#trainer.add_event_handler(ignite.engine.Events.ITERATION_COMPLETED, lambda engine: "
            f"os.kill(os.getpid(), signal.SIGKILL) if engine.state.epoch == {KILL_EPOCH} and "
            f"(engine.state.iteration - 1) % engine.state.epoch_length + 1 == {KILL_ITERATION} else None)")
    path = tmp_path / "kill.json"
    path.write_text(json.dumps({"imports": ["$import os", "$import signal", "$import ignite", "$import torch",
                                            "$import monai", "$import monai_debclust",
                                            "$import monai_debclust.engines", "$import monai_debclust.errors"],
                                "run": [kill, *run]}))
    return str(path)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    output_dir = tmp_path_factory.mktemp("uninterrupted")
    result = _run("training", [CONFIG], output_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    return output_dir


def test_two_runs_with_the_same_seed_give_the_same_losses_and_assignments(uninterrupted, tmp_path):
    result = _run("training", [CONFIG], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    first, second = _losses(uninterrupted), _losses(tmp_path)
    for tag in first:
        assert second[tag] == pytest.approx(first[tag], abs=1e-6)
    for output_dir in (uninterrupted, tmp_path):
        assert _run("inference", ["bundles/refuge/configs/inference.json"], output_dir).returncode == 0
    assignments = [(d / "clustering" / "assignments.csv").read_text() for d in (uninterrupted, tmp_path)]
    assert assignments[0] == assignments[1]


def test_a_run_killed_mid_epoch_and_resumed_ends_like_an_uninterrupted_one(uninterrupted, tmp_path):
    killed = _run("training", [CONFIG, _killing_config(tmp_path)], tmp_path)
    assert killed.returncode == -signal.SIGKILL
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [f"checkpoint_epoch={KILL_EPOCH - 1}.pt"]

    resumed = _run("training", [CONFIG], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"checkpoint_epoch={KILL_EPOCH - 1}.pt" in resumed.stdout + resumed.stderr

    final = [torch.load(d / "checkpoints" / "checkpoint_epoch=4.pt", weights_only=True) for d in (uninterrupted, tmp_path)]
    for key, value in final[0]["model"].items():
        torch.testing.assert_close(final[1]["model"][key], value, rtol=0, atol=1e-6, msg=key)
    metrics = [json.loads((d / "metrics.json").read_text()) for d in (uninterrupted, tmp_path)]
    assert metrics[1]["metrics"] == pytest.approx(metrics[0]["metrics"], abs=1e-6)
    assert [entry["epoch"] for entry in metrics[1]["history"]] == [1, 2, 3, 4]
