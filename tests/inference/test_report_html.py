"""The HTML report is one self-contained page that a headless browser renders without errors."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow

FIGURES = ("sizes", "map", "montage", "confusion")


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")
    return path


def _headless(*arguments: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", *arguments],
            capture_output=True, text=True, timeout=120,
        )


def test_report_is_self_contained(bundle_run):
    page = (bundle_run / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched from anywhere
    assert "url(" not in page
    for key in FIGURES:
        assert re.search(rf'<figure id="{key}"><img alt="[^"]*" src="data:image/png;base64,[A-Za-z0-9+/=]+">', page)


def test_report_renders_in_headless_chromium_without_console_errors(bundle_run, tmp_path):
    url = (bundle_run / "report.html").as_uri()
    screenshot = tmp_path / "report.png"
    shot = _headless("--enable-logging=stderr", "--v=0", f"--screenshot={screenshot}", "--window-size=1200,3000", url)
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert not [line for line in shot.stderr.splitlines() if "Uncaught" in line or "ERROR:CONSOLE" in line]
    pixels = np.asarray(Image.open(screenshot).convert("RGB"))
    assert pixels.shape[:2] == (3000, 1200)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 500  # plots and photographs, not a blank page

    dom = _headless("--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count('src="data:image/png;base64,') == len(FIGURES)
    assert "Agreement with the known labels" in dom.stdout and "normal/empty.png" in dom.stdout
