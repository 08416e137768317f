"""A bad setting ends a run with one message naming it, a non-zero exit and no traceback (unless asked for)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
TINY = ["--image_size", "16", "--dim", "8", "--depth", "1", "--batch_size", "8", "--demo_size", "24", "--epochs", "1"]


def _train(output_dir: Path, *options: str, traceback: bool = False) -> subprocess.CompletedProcess:
    environment = {**os.environ, "MONAI_DEBCLUST_TRACEBACK": "1" if traceback else ""}
    command = [sys.executable, "-m", "monai.bundle", "run", "training", "--config_file", "bundles/refuge/train.json",
               "--output_dir", str(output_dir), *TINY, *options]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, env=environment)


def _refused(result: subprocess.CompletedProcess, *fragments: str) -> str:
    assert result.returncode != 0
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    for fragment in fragments:
        assert fragment in error_lines[0] or fragment in result.stderr
    return error_lines[0]


def test_an_unknown_key_is_named_with_the_closest_known_one(tmp_path):
    _refused(_train(tmp_path, "--epoch", "3"), "unknown setting --epoch (did you mean --epochs?)")
    assert not (tmp_path / "checkpoints").exists()  # refused before any work


def test_resuming_with_another_num_clusters_names_the_parameters_that_differ(tmp_path):
    assert _train(tmp_path).returncode == 0
    _refused(_train(tmp_path, "--num_clusters", "3", "--epochs", "2"), "cannot resume from",
             "clustering.centres (2, 8) vs (3, 8)", "new --output_dir")


@pytest.mark.parametrize("archive", ["empty", "all_broken"])
def test_an_archive_with_nothing_readable_is_named(tmp_path, archive):
    folder = tmp_path / archive
    folder.mkdir()
    if archive == "all_broken":
        for name in ("a.png", "b.jpg", "c.dcm"):
            (folder / name).write_bytes(b"not an image")
    message = "no images under" if archive == "empty" else "none of the 3 files"
    _refused(_train(tmp_path / "run", "--dataset_dir", str(folder)), message, str(folder))


def test_an_output_folder_that_cannot_be_written_is_named(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    _refused(_train(blocker / "run"), f"output_dir '{blocker / 'run'}' is not a writable folder")


def test_the_traceback_is_shown_when_asked_for(tmp_path):
    result = _train(tmp_path, "--epoch", "3", traceback=True)
    assert result.returncode != 0 and "Traceback" in result.stderr and "SettingError" in result.stderr


def test_the_command_line_tool_refuses_unknown_keys_and_empty_archives(tmp_path, capsys):
    from monai_debclust.cli import main

    assert main(["cluster", str(tmp_path), "--bundle", "bundles/refuge", "--set", "min_confidance=0.5"]) == 2
    assert "unknown setting(s) min_confidance" in capsys.readouterr().err
    assert main(["train", "--bundle", "bundles/refuge", "--dataset_dir", str(tmp_path), "--output", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "no images under" in error and "Traceback" not in error
