"""Constants and command lines shared by the archive-clustering tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "bundles" / "refuge"
IMAGE_SIZE = 32
NETWORK_ARGS = {
    "encoder": "convmixer",
    "num_clusters": 2,
    "projection_hidden": 16,
    "projection_dim": 8,
    "encoder_kwargs": {"dim": 8, "depth": 1, "kernel_size": 3, "patch_size": 4, "dropout": 0.0},
}
#: Files of the messy archive that have an image ending but cannot be decoded.
UNREADABLE = ("glaucoma/truncated.jpg", "normal/corrupt.png", "normal/empty.png", "scan.dcm")
#: Files that are not images at all: not part of the archive, neither clustered nor skipped.
NOT_IMAGES = ("notes.txt", "normal/README.md")
#: Options shared by every run on the messy archive: batches of 4 and chunks of 8 files, so the
#: 28 files make 4 chunks (the resume test kills a run after the second).
RUN_OPTIONS = {"layout": "folder", "device": "cpu", "batch_size": 4, "chunk_size": 8, "num_workers": 0}


def _flags(options: dict) -> list[str]:
    return [part for key, value in options.items() for part in (f"--{key}", str(value))]


def bundle_command(archive: Path, output_dir: Path, ckpt_path: Path, **options) -> list[str]:
    """``python -m monai.bundle run inference ...`` on the REFUGE bundle with the test's options."""
    return [sys.executable, "-m", "monai.bundle", "run", "inference",
            "--config_file", str(BUNDLE / "configs" / "inference.json"),
            "--dataset_dir", str(archive), "--output_dir", str(output_dir), "--ckpt_path", str(ckpt_path),
            *_flags({**RUN_OPTIONS, **options})]


def console_arguments(archive: Path, output_dir: Path, ckpt_path: Path, **options) -> list[str]:
    """Arguments of ``monai-debclust cluster ...`` equivalent to :func:`bundle_command`."""
    settings = {**RUN_OPTIONS, **options}
    chunk_size = settings.pop("chunk_size")
    return ["cluster", str(archive), "--bundle", str(BUNDLE), "--output", str(output_dir),
            "--ckpt_path", str(ckpt_path), *_flags(settings), "--set", f"chunk_size={chunk_size}"]


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a command from the repository root, capturing its output as text."""
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, **kwargs)
