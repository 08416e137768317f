"""``benchmarks/gpu_study.sh --smoke``: the GPU study's whole path at toy scale on the CPU, on generated cohorts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARMS = ("simclr", "debiased", "joint_paper", "best")


@pytest.mark.slow
def test_smoke_writes_the_tables_and_the_measured_images_per_second(tmp_path):
    env = {**os.environ, "PY": sys.executable}
    result = subprocess.run(["bash", "benchmarks/gpu_study.sh", "--smoke", "--part", "fundus", "--output", str(tmp_path)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    for arm in ARMS:
        assert f"images/s fundus {arm}:" in result.stdout
    assert "images/s cluster fundus archive:" in result.stdout
    assert "projected: the paper's recipe (500 epochs of 1,000 images)" in result.stdout
    tables = tmp_path / "fundus" / "tables"
    for row in ("linear", "knn", "kmeans", "head"):
        text = (tables / f"{row}.md").read_text()
        assert all(f"| {arm} |" in text for arm in ARMS)
        assert (tables / f"{row}_vs_simclr.csv").is_file()
    figures = json.loads((tmp_path / "fundus" / "throughput.json").read_text())
    assert set(figures["images_per_second"]) == set(ARMS) and all(v > 0 for v in figures["images_per_second"].values())
    assert figures["cluster"]["images"] == figures["images"] and figures["projected_paper_recipe_seconds"] > 0
    records = [json.loads(p.read_text()) for p in (tmp_path / "fundus" / "runs").rglob("run.json")]
    assert sorted(r["method"] for r in records) == sorted(ARMS) and all(r["images_per_second"] > 0 for r in records)
