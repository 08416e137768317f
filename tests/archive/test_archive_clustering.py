"""Clustering an archive end to end: the bundle command, the console command, bad files, resume."""

from __future__ import annotations

import csv
import json
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from monai_debclust.cli import main
from monai_debclust.data import IMAGE_EXTENSIONS
from monai_debclust.archive.chunks import ChunkStore
from monai_debclust.archive import PARTS_DIR
from monai_debclust.bundle import CheckpointError, load_trained_network, save_trained_network
from monai_debclust.networks import DebClustNet

from .helpers import (
    BUNDLE,
    NETWORK_ARGS,
    NOT_IMAGES,
    REPO,
    UNREADABLE,
    console_arguments,
    run,
)

pytestmark = pytest.mark.slow

READABLE = 24


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_bundle_command_writes_every_output(bundle_run):
    expected = ["assignments.csv", "embeddings.npy", "embeddings_index.csv", "skipped.csv", "summary.json",
                "metrics.json", "report.html", "plots/sizes.png", "plots/map.png", "plots/montage.png",
                "plots/confusion.png"]
    assert [name for name in expected if not (bundle_run / name).is_file()] == []
    rows = _rows(bundle_run / "assignments.csv")
    assert len(rows) == READABLE
    assert list(rows[0]) == ["id", "cluster", "confidence", "q_0", "q_1", "distance", "outlier", "label", "dark",
                             "light", "blurry", "low_information", "patient", "study", "series", "modality",
                             "laterality", "study_year"]
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)  # archive order
    for row in rows:
        q = [float(row["q_0"]), float(row["q_1"])]
        assert sum(q) == pytest.approx(1.0, abs=1e-5)
        assert int(row["cluster"]) == int(np.argmax(q)) and float(row["confidence"]) == max(q)
        assert row["label"] == row["id"].split("/")[0]


def test_embeddings_file_matches_its_index_and_assignments(bundle_run):
    embeddings = np.load(bundle_run / "embeddings.npy")
    index = _rows(bundle_run / "embeddings_index.csv")
    assert embeddings.shape == (READABLE, NETWORK_ARGS["encoder_kwargs"]["dim"])
    assert [r["id"] for r in index] == [r["id"] for r in _rows(bundle_run / "assignments.csv")]
    assert [int(r["row"]) for r in index] == list(range(READABLE))


def test_summary_records_counts_version_and_outlier_rule(bundle_run):
    summary = json.loads((bundle_run / "summary.json").read_text())
    assert summary["images"] == {"found": READABLE + len(UNREADABLE), "clustered": READABLE,
                                 "skipped": len(UNREADABLE), "outliers": summary["images"]["outliers"],
                                 "from_earlier_run": 0, "new": READABLE, "read": READABLE + len(UNREADABLE),
                                 "retry_next_run": 0,
                                 "skipped_by_reason": {"empty file": 1, "not a DICOM file": 1,
                                                       "truncated or corrupt JPEG": 1,
                                                       "not a PNG image Pillow can read": 1}}
    assert sum(summary["clusters"]["counts"]) == READABLE and summary["clusters"]["source"] == "head"
    assert summary["bundle"]["version"] == json.loads((BUNDLE / "configs" / "metadata.json").read_text())["version"]
    flagged = [r for r in _rows(bundle_run / "assignments.csv") if r["outlier"] == "1"]
    assert len(flagged) == summary["images"]["outliers"]
    rule = summary["outlier_rule"]
    for row in flagged:
        assert float(row["distance"]) > rule["max_distance"] or float(row["confidence"]) < rule["min_confidence"]


def test_unreadable_files_are_skipped_and_non_images_ignored(bundle_run):
    skipped = {row["id"]: row["reason"] for row in _rows(bundle_run / "skipped.csv")}
    assert sorted(skipped) == sorted(UNREADABLE)
    assert all(skipped.values())
    assert "empty" in skipped["normal/empty.png"]
    clustered = {row["id"] for row in _rows(bundle_run / "assignments.csv")}
    assert not clustered & set(NOT_IMAGES) and not set(skipped) & set(NOT_IMAGES)
    assert not any(name.endswith(IMAGE_EXTENSIONS) for name in NOT_IMAGES)


def test_console_command_gives_the_same_assignments(tmp_path, bundle_run, messy_archive, trained_model,
                                                    console_script):
    result = run([console_script, *console_arguments(messy_archive, tmp_path, trained_model)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "clustering" / "assignments.csv").read_bytes() == (bundle_run / "assignments.csv").read_bytes()
    assert "macro F1" in result.stdout and "glaucoma" in result.stdout  # the per-class table is printed


def test_killed_run_resumes_to_the_same_assignments(tmp_path, bundle_run, messy_archive, trained_model):
    # A child process that SIGKILLs itself right after writing its second chunk: no cleanup runs.
    child = tmp_path / "killed_run.py"
    child.write_text(
        "import os, signal, sys\n"
        "from monai_debclust.archive.chunks import ChunkStore\n"
        "write = ChunkStore.write\n"
        "def write_then_die(self, chunk):\n"
        "    path = write(self, chunk)\n"
        "    if len(self.paths()) == 2:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return path\n"
        "ChunkStore.write = write_then_die\n"
        "from monai_debclust.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    killed = run([sys.executable, str(child), *console_arguments(messy_archive, tmp_path, trained_model)])
    assert killed.returncode == -signal.SIGKILL
    results = tmp_path / "clustering"
    assert len(ChunkStore(results / PARTS_DIR, {}).paths()) == 2
    assert not (results / "assignments.csv").exists()

    # resumed in a fresh process like the uninterrupted run, so both use the same torch threads
    resumed = run([sys.executable, "-m", "monai_debclust.cli", *console_arguments(messy_archive, tmp_path,
                                                                                  trained_model)])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads((results / "summary.json").read_text())
    assert summary["images"]["from_earlier_run"] == 16  # two chunks of 8 files
    assert (results / "assignments.csv").read_bytes() == (bundle_run / "assignments.csv").read_bytes()
    assert np.array_equal(np.load(results / "embeddings.npy"), np.load(bundle_run / "embeddings.npy"))
    assert (results / "skipped.csv").read_text() == (bundle_run / "skipped.csv").read_text()


def test_recluster_reuses_the_embeddings_of_an_earlier_run(tmp_path, messy_archive, trained_model):
    arguments = console_arguments(messy_archive, tmp_path, trained_model)
    assert main(arguments) == 0
    assert main([*arguments, "--recluster", "3"]) == 0
    results = tmp_path / "clustering"
    summary = json.loads((results / "summary.json").read_text())
    assert summary["images"]["from_earlier_run"] == summary["images"]["found"]
    assert summary["clusters"]["source"] == "kmeans" and summary["clusters"]["num_clusters"] == 3
    rows = _rows(results / "assignments.csv")
    assert {"q_0", "q_1", "q_2"} <= set(rows[0]) and {r["cluster"] for r in rows} == {"0", "1", "2"}


def test_missing_checkpoint_names_the_path_and_the_training_command(tmp_path, messy_archive, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    missing = tmp_path / "models" / "model.pt"
    status = main(["cluster", str(messy_archive), "--bundle", "bundles/refuge", "--output", str(tmp_path)])
    message = capsys.readouterr().err
    assert status == 2
    assert str(missing) in message
    assert f"python -m monai.bundle run training --config_file bundles/refuge/train.json --output_dir {tmp_path}" \
        in message


def test_mismatched_checkpoint_lists_the_differing_parameters(tmp_path):
    # weights of a 3-cluster network beside the description of a 2-cluster one
    save_trained_network(DebClustNet(**{**NETWORK_ARGS, "num_clusters": 3}), tmp_path, NETWORK_ARGS)
    with pytest.raises(CheckpointError, match=r"clustering\.centres \(3, 8\) vs \(2, 8\)"):
        load_trained_network(tmp_path / "model.pt")


def test_loaded_network_has_the_trained_weights(trained_model):
    network = load_trained_network(trained_model)
    saved = torch.load(trained_model, weights_only=True)
    assert all(torch.equal(value, saved[key]) for key, value in network.state_dict().items())
