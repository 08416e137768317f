"""Fixtures of the Model Zoo tests: one tiny training run of the REFUGE bundle, its export, a loopback HTTP server.

The run is a ConvMixer of width 8 and depth 1 on 24 demo images of 16 pixels for one epoch (about
ten seconds on a CPU); everything else in the suite reuses it.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from monai_debclust.cli import main as cli_main

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "bundles" / "refuge"
TINY = {"image_size": 16, "dim": 8, "depth": 1, "projection_hidden": 16, "projection_dim": 8, "batch_size": 8,
        "demo_size": 24, "epochs": 1}
#: Files of the tiny model above this size go to large_files.yml: model.pt (13 kB) and model.ts, not the configs.
LARGE_FILE_MB = 0.0125


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run ``command`` from the repository root, capturing its output as text."""
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, **kwargs)


def cli(capsys, *arguments: str) -> tuple[int, str, str]:
    """``monai-debclust ARGUMENTS`` in this process: ``(exit status, stdout, stderr)``."""
    capsys.readouterr()
    status = cli_main(list(arguments))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="session")
def training_run(tmp_path_factory) -> Path:
    """The output_dir of ``python -m monai.bundle run training`` of the REFUGE bundle with :data:`TINY` settings."""
    output_dir = tmp_path_factory.mktemp("zoo") / "run"
    flags = [part for key, value in TINY.items() for part in (f"--{key}", str(value))]
    result = run([sys.executable, "-m", "monai.bundle", "run", "training", "--config_file", str(BUNDLE / "train.json"),
                  "--output_dir", str(output_dir), *flags])
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return output_dir


@pytest.fixture(scope="session")
def exported(training_run, tmp_path_factory) -> dict:
    """``monai-debclust export`` of the training run: its folder, zip, printed output."""
    out_dir = tmp_path_factory.mktemp("export")
    result = run([sys.executable, "-m", "monai_debclust.cli", "export", str(training_run), "--bundle", str(BUNDLE),
                  "--out", str(out_dir), "--large-file-mb", str(LARGE_FILE_MB)])
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    zips = list(out_dir.glob("*.zip"))
    assert len(zips) == 1
    return {"folder": out_dir / "refuge", "zip": zips[0], "stdout": result.stdout}


@pytest.fixture()
def bundle_copy(exported, tmp_path) -> Path:
    """A copy of the exported bundle folder that a test may change."""
    return Path(shutil.copytree(exported["folder"], tmp_path / "refuge"))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="session")
def http_root(tmp_path_factory) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on 127.0.0.1 (a free port), and its base URL; stopped at the end."""
    folder = tmp_path_factory.mktemp("served")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
