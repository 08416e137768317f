"""The three bundles, run as a user runs them: ``python -m monai.bundle run ...`` from the repository root.

Tiny settings throughout (40 demo images of 16 pixels, a ConvMixer of width 16 and depth 1, two
epochs), so that each run takes seconds on a CPU.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from monai_debclust.data import make_fundus_cohort
from monai_debclust.bundle import latest_checkpoint, load_trained_network

REPO = Path(__file__).resolve().parents[2]
BUNDLES = {"refuge": 2, "glaucoma1": 2, "isic2018": 7}  # bundle: number of clusters
TINY = {"image_size": 16, "dim": 16, "depth": 1, "batch_size": 16, "demo_size": 40, "val_interval": 1}


def run_bundle(run_id: str, configs: list[str], output_dir: Path, processes: int = 1, tiny: bool = True,
               **overrides) -> str:
    """Run ``monai.bundle run <run_id>`` on ``configs`` (paths relative to the repository) with the
    :data:`TINY` training settings (unless ``tiny`` is False) and ``overrides``; return stdout."""
    config_file = configs[0] if len(configs) == 1 else str(configs)
    settings = [f"--{key}={value}" for key, value in {**(TINY if tiny else {}), **overrides}.items()]
    command = ["-m", "monai.bundle", "run", run_id, "--config_file", config_file, "--output_dir", str(output_dir),
               *settings]
    if processes == 1:
        launcher = [sys.executable]
    else:
        torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
        launcher = [torchrun, "--standalone", "--nnodes=1", f"--nproc_per_node={processes}"]
    result = subprocess.run([*launcher, *command], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result.stdout


def train_config(bundle: str) -> str:
    return f"bundles/{bundle}/train.json"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """Each bundle trained for two epochs: ``{bundle: (output_dir, stdout)}``."""
    runs = {}
    for bundle in BUNDLES:
        output_dir = tmp_path_factory.mktemp(bundle)
        runs[bundle] = output_dir, run_bundle("training", [train_config(bundle)], output_dir, epochs=2)
    return runs


def tensorboard_tags(folder: Path) -> set[str]:
    events = EventAccumulator(str(folder))
    events.Reload()
    return set(events.Tags()["scalars"])


@pytest.mark.slow
@pytest.mark.parametrize("bundle", BUNDLES)
def test_training_writes_checkpoint_model_tensorboard_metrics_and_the_f1_table(trained, bundle):
    output_dir, stdout = trained[bundle]
    checkpoint = torch.load(output_dir / "checkpoints" / "checkpoint_epoch=2.pt", weights_only=True)
    assert set(checkpoint) == {"model", "optimizer", "trainer"}  # the LR schedule is stateless
    assert checkpoint["trainer"]["iteration"] == 2 * checkpoint["trainer"]["epoch_length"]  # two epochs
    network = load_trained_network(output_dir / "models" / "model.pt")
    assert network.clustering.num_clusters == BUNDLES[bundle] and network.encoder.out_channels == 16
    assert torch.load(output_dir / "models" / "best_model.pt", weights_only=True).keys() == network.state_dict().keys()
    assert {"loss", "contrastive", "clustering", "epoch_loss", "smallest_cluster_share", "cluster_size_0",
            "accuracy", "macro_f1", "knn20_macro_f1"} <= tensorboard_tags(output_dir / "tensorboard")
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["epoch"] == 2 and [entry["epoch"] for entry in metrics["history"]] == [1, 2]
    assert 0.0 <= metrics["metrics"]["macro_f1"] <= 1.0
    assert len(metrics["scores"]["cluster"]["per_class"]) == BUNDLES[bundle]
    assert metrics["scores"]["cluster"]["num_labelled"] == 40
    assert re.search(r"^\s+1\s+[\d.]+\s+[\d.]+\s+0\.0000", stdout, re.M), "epoch 1 is warm-up: no clustering loss"
    assert "precision   recall       F1  support" in stdout
    assert stdout.rstrip().splitlines()[-1].startswith(f"Training finished after epoch 2. Outputs in {output_dir}")


@pytest.mark.slow
@pytest.mark.parametrize("bundle", BUNDLES)
def test_evaluate_scores_the_trained_model_on_the_labelled_set(trained, bundle):
    output_dir, _ = trained[bundle]
    configs = [train_config(bundle), f"bundles/{bundle}/configs/evaluate.json"]
    stdout = run_bundle("evaluating", configs, output_dir)
    evaluation = json.loads((output_dir / "evaluation" / "metrics.json").read_text())
    trained_metrics = json.loads((output_dir / "metrics.json").read_text())["metrics"]
    shared = {key: evaluation["metrics"][key] for key in trained_metrics}
    assert shared == pytest.approx(trained_metrics)  # the same final model, the same images
    assert {"kmeans_macro_f1", "head_macro_f1"} <= set(evaluation["metrics"])  # and the protocols on top
    assert "kNN-20 probe (5-fold)" in stdout
    assert stdout.rstrip().endswith(str(output_dir / "evaluation" / "metrics.json"))


@pytest.mark.slow
def test_a_rerun_resumes_from_the_last_checkpoint_and_continues_the_epoch_count(tmp_path):
    run_bundle("training", [train_config("refuge")], tmp_path, epochs=1)
    stdout = run_bundle("training", [train_config("refuge")], tmp_path, epochs=2)
    assert f"Restored all variables from {tmp_path}/checkpoints/checkpoint_epoch=1.pt" in stdout
    table = stdout[stdout.index("Per-epoch training losses:"):].splitlines()
    assert table[2].split()[0] == "2" and table[3] == ""  # epoch 2 only: epoch 1 was not trained again
    assert latest_checkpoint(tmp_path / "checkpoints") == str(tmp_path / "checkpoints" / "checkpoint_epoch=2.pt")
    history = json.loads((tmp_path / "metrics.json").read_text())["history"]
    assert [entry["epoch"] for entry in history] == [1, 2]


@pytest.mark.slow
def test_multi_gpu_config_trains_with_two_processes_and_saves_on_rank_0_only(tmp_path):
    configs = [train_config("refuge"), "bundles/refuge/configs/multi_gpu_train.json"]
    stdout = run_bundle("training", configs, tmp_path, processes=2, epochs=1, batch_size=8)
    assert stdout.count("Training finished after epoch 1.") == 1
    assert (tmp_path / "models" / "model.pt").is_file()
    assert (tmp_path / "checkpoints" / "checkpoint_epoch=1.pt").is_file()
    writers = {re.search(r"\.(\d+)\.\d+$", path.name).group(1) for path in (tmp_path / "tensorboard").iterdir()}
    assert len(writers) == 1  # event files are named ...tfevents.<time>.<host>.<pid>.<n>
    assert json.loads((tmp_path / "metrics.json").read_text())["epoch"] == 1


@pytest.fixture(scope="module")
def flat_archive(tmp_path_factory) -> Path:
    """A clinical researcher's folder: 24 images side by side, no class sub-folders, no labels."""
    source = make_fundus_cohort(tmp_path_factory.mktemp("cohort"), counts={"glaucoma": 4, "normal": 20},
                                image_size=32, seed=1)
    flat = tmp_path_factory.mktemp("flat")
    for path in source.rglob("*.png"):
        shutil.copy(path, flat / f"{path.parent.name}_{path.name}")
    return flat


@pytest.mark.slow
@pytest.mark.parametrize("bundle", BUNDLES)
def test_a_flat_unlabelled_archive_trains_and_clusters_with_the_default_layout(tmp_path, flat_archive, bundle):
    stdout = run_bundle("training", [train_config(bundle)], tmp_path, epochs=2, dataset_dir=flat_archive)
    assert "layout 'auto': no class sub-folders" in stdout
    assert (tmp_path / "models" / "model.pt").is_file() and not (tmp_path / "metrics.json").exists()
    assert stdout.rstrip().splitlines()[-1].startswith("Training finished after epoch 2.")
    run_bundle("inference", [f"bundles/{bundle}/configs/inference.json"], tmp_path, tiny=False,
               dataset_dir=flat_archive)
    rows = (tmp_path / "clustering" / "assignments.csv").read_text().splitlines()
    assert len(rows) == 1 + 24 and "label" not in rows[0]
    assert not (tmp_path / "clustering" / "metrics.json").exists()


@pytest.mark.slow
def test_layout_none_trains_a_labelled_archive_as_unlabelled(tmp_path, flat_archive):
    labelled = tmp_path / "archive"
    for path in sorted(flat_archive.iterdir()):
        (labelled / path.name.split("_")[0]).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, labelled / path.name.split("_")[0] / path.name)
    stdout = run_bundle("training", [train_config("refuge")], tmp_path / "run", epochs=1, dataset_dir=labelled,
                        layout="none")
    assert "layout 'auto'" not in stdout and not (tmp_path / "run" / "metrics.json").exists()
    summary = json.loads((tmp_path / "run" / "class_summary.json").read_text())
    assert summary["unlabelled"] == 24


@pytest.mark.slow
def test_a_finished_run_extended_to_more_epochs_continues_the_schedule_and_keeps_the_best(tmp_path):
    first = run_bundle("training", [train_config("refuge")], tmp_path, epochs=2)
    best_before = json.loads((tmp_path / "models" / "best_model.json").read_text())
    second = run_bundle("training", [train_config("refuge")], tmp_path, epochs=4)
    assert "epoch 2 of 2: learning rate 0.0005" in first
    assert "epoch 3 of 4: learning rate 0.0005" in second  # cosine of 4 epochs at epoch 3, not the decayed 0
    assert "k-means on" in first and "k-means on" not in second  # the clustering phase is not restarted
    best_after = json.loads((tmp_path / "models" / "best_model.json").read_text())
    assert best_after["value"] >= best_before["value"]
    assert json.loads((tmp_path / "metrics.json").read_text())["best"] == best_after
