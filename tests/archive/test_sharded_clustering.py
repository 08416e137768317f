"""Archive clustering sharded across 2 gloo ranks under torchrun: the single-process assignments, and resume."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from monai_debclust.archive.chunks import ChunkStore
from monai_debclust.archive import PARTS_DIR
from monai_debclust.archive.sharding import shard_folder, shard_items

from .helpers import bundle_command, run

pytestmark = pytest.mark.slow

#: Run in place of ``python -m monai.bundle``: rank 1 SIGKILLs itself right after writing its first chunk.
KILL_RANK_1 = """
import os, runpy, signal, sys
from monai_debclust.archive.chunks import ChunkStore
write = ChunkStore.write
def write_then_die(self, chunk):
    path = write(self, chunk)
    if os.environ["RANK"] == "1":
        os.kill(os.getpid(), signal.SIGKILL)
    return path
ChunkStore.write = write_then_die
sys.argv[0] = "monai.bundle"
runpy.run_module("monai.bundle", run_name="__main__")
"""


def _assignments(results: Path) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """``(id, cluster, outlier, label)`` of every row, and the soft assignments and distances as numbers."""
    with open(results / "assignments.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    decided = [(row["id"], row["cluster"], row["outlier"], row["label"]) for row in rows]
    numbers = np.array([[float(value) for key, value in row.items() if key.startswith("q_") or key == "distance"]
                        for row in rows])
    return decided, numbers


def _torchrun(tmp_path: Path, entry: list[str], arguments: list[str]):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    return run([torchrun, "--standalone", "--nnodes=1", "--nproc_per_node=2", "--log-dir", str(tmp_path / "logs"),
                *entry, *arguments])


def test_shards_are_disjoint_cover_every_item_and_stay_as_the_archive_grows():
    items = [{"id": f"img{i}.png"} for i in range(11)]
    shards = [shard_items(items, rank, 3) for rank in range(3)]
    assert sorted(item["id"] for shard in shards for item in shard) == sorted(item["id"] for item in items)
    assert all(shards)
    grown = [{"id": f"img{i}.png"} for i in range(-5, 40)]  # files added before and after the earlier ones
    for rank in range(3):
        assert [item for item in shard_items(grown, rank, 3) if item in items] == shards[rank]
    assert shard_folder("parts", 0, 1) == Path("parts")
    assert shard_folder("parts", 1, 2) == Path("parts/shard-00001-of-00002")


def test_two_ranks_give_the_single_process_assignments_and_resume_after_one_is_killed(
        tmp_path, bundle_run, messy_archive, trained_model):
    single = bundle_command(messy_archive, tmp_path, trained_model)
    bundle_arguments = single[single.index("run"):]  # after python -m monai.bundle

    killer = tmp_path / "kill_rank_1.py"
    killer.write_text(KILL_RANK_1)
    killed = _torchrun(tmp_path, [str(killer)], bundle_arguments)
    assert killed.returncode != 0
    results = tmp_path / "clustering"
    rank_1 = shard_folder(results / PARTS_DIR, 1, 2)
    assert len(ChunkStore(rank_1, {}).paths()) == 1  # one chunk of 8 of its 14 files survived the kill
    assert not (results / "assignments.csv").exists()

    resumed = _torchrun(tmp_path, ["--no-python", sys.executable, "-m", "monai.bundle"], bundle_arguments)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads((results / "summary.json").read_text())
    assert summary["settings"]["ranks"] == 2
    assert summary["images"]["from_earlier_run"] >= 8
    sharded, single_process = _assignments(results), _assignments(bundle_run)
    assert sharded[0] == single_process[0]  # the same clusters, outliers and labels for the same files
    assert np.allclose(sharded[1], single_process[1], atol=1e-5)  # batches differ: float rounding may
    assert np.allclose(np.load(results / "embeddings.npy"), np.load(bundle_run / "embeddings.npy"), atol=1e-5)
    assert (results / "skipped.csv").read_text() == (bundle_run / "skipped.csv").read_text()
