"""One atomic_write for every result: a killed writer leaves the old file, concurrent writers one whole file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from monai_debclust.archive.assembly import assemble_embeddings
from monai_debclust.archive.chunks import Chunk, ChunkStore
from monai_debclust.data.longtail import class_count_summary, write_class_summary
from monai_debclust.data.synthetic.cohort import preview_sheet, write_synthetic_cohort
from monai_debclust.utils import atomic_path, atomic_write, files, write_json
from monai_debclust.zoo.archive import zip_folder

ROOT = Path(__file__).resolve().parents[2]
#: A child that writes half a new file through atomic_write, says so, and waits to be killed.
HALF_WRITER = """
import sys, time
from monai_debclust.utils import atomic_write
with atomic_write(sys.argv[1]) as handle:
    handle.write("new " * 100_000)
    handle.flush()
    print("half", flush=True)
    time.sleep(60)
    handle.write("end")
"""


def _leftovers(folder: Path) -> list[Path]:
    return sorted(folder.glob(f".*{files.TEMPORARY_SUFFIX}"))


def test_a_writer_killed_half_way_leaves_the_previous_file_intact(tmp_path):
    target = tmp_path / "metrics.json"
    write_json({"accuracy": 0.9}, target)
    child = subprocess.Popen([sys.executable, "-c", HALF_WRITER, str(target)], stdout=subprocess.PIPE, text=True,
                             cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    try:
        assert child.stdout.readline().strip() == "half"
        assert len(_leftovers(tmp_path)) == 1 and _leftovers(tmp_path)[0].stat().st_size >= 400_000
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert json.loads(target.read_text()) == {"accuracy": 0.9}


def test_an_exception_half_way_leaves_the_previous_file_and_no_temporary(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError, match="half-way"):
        with atomic_write(target) as handle:
            handle.write("new\n")
            raise RuntimeError("half-way")
    assert target.read_text() == "old\n" and _leftovers(tmp_path) == []


@pytest.mark.parametrize("use_processes", [False, True])
def test_concurrent_writers_leave_one_complete_file(tmp_path, use_processes):
    target = tmp_path / "embeddings.npy"
    contents = {writer: np.full(200_000, writer, dtype=np.int32) for writer in range(2 if use_processes else 4)}
    seen: list[int] = []
    stop = threading.Event()

    def read_while_writing() -> None:
        while not stop.is_set():
            if target.exists():
                values = np.load(target)
                assert values.shape == (200_000,) and (values == values[0]).all(), "a mixed or partial file"
                seen.append(int(values[0]))
            stop.wait(0.001)

    def write(writer: int) -> None:
        for _ in range(5):
            with atomic_write(target, "wb") as handle:
                np.save(handle, contents[writer])

    reader = threading.Thread(target=read_while_writing)
    reader.start()
    try:
        if use_processes:
            code = ("import sys, numpy as np; from monai_debclust.utils import atomic_write\n"
                    "for _ in range(20):\n"
                    "    with atomic_write(sys.argv[1], 'wb') as h: np.save(h, np.full(200_000, int(sys.argv[2]), np.int32))")
            children = [subprocess.Popen([sys.executable, "-c", code, str(target), str(writer)], cwd=ROOT,
                                         env={"PYTHONPATH": str(ROOT), "PATH": ""}) for writer in contents]
            assert [child.wait(timeout=300) for child in children] == [0] * len(children)
        else:
            writers = [threading.Thread(target=write, args=(writer,)) for writer in contents]
            for thread in writers:
                thread.start()
            for thread in writers:
                thread.join()
    finally:
        stop.set()
        reader.join()
    final = np.load(target)
    assert int(final[0]) in contents and np.array_equal(final, contents[int(final[0])])
    assert set(seen) <= set(contents)
    assert _leftovers(tmp_path) == []


def test_temporary_names_are_unique_and_beside_the_target(tmp_path):
    target = tmp_path / "report.html"
    with atomic_path(target) as first, atomic_path(target) as second:
        assert first != second and first.parent == second.parent == tmp_path
        assert first.name.startswith(".report.html.") and first.name.endswith(files.TEMPORARY_SUFFIX)
        first.write_text("one")
        second.write_text("two")
    assert target.read_text() == "one" and _leftovers(tmp_path) == []


def test_the_file_and_its_folder_are_flushed_before_and_after_the_rename(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(files, "_fsync_file", lambda path: calls.append(("file", path.exists(), target.exists())))
    monkeypatch.setattr(files, "_fsync_folder", lambda folder: calls.append(("folder", folder, target.exists())))
    target = tmp_path / "class_summary.json"
    write_json({}, target)
    assert calls == [("file", True, False), ("folder", tmp_path, True)]


def _cohort(folder: Path) -> Path:
    if not folder.exists():
        write_synthetic_cohort(folder, {"a": 2, "b": 1}, lambda name, size, rng: np.zeros((size, size, 3), np.uint8),
                               classes=("a", "b"), image_size=32)
    return folder


def _embeddings(folder: Path) -> None:
    store = ChunkStore(folder / "chunks", {})
    store.open()
    store.write(Chunk(["x.png"], np.ones((1, 2), np.float32), []))
    assemble_embeddings([{"id": "x.png"}], [folder / "chunks"], 2, folder)


WRITERS = {
    "class_summary.json": lambda folder: write_class_summary(
        class_count_summary([{"label": 0}, {"label": 1}], ["a", "b"]), folder / "class_summary.json"),
    "embeddings.npy": _embeddings,
    "bundle.zip": lambda folder: zip_folder(_cohort(folder / "cohort"), folder / "bundle.zip"),
    "preview.png": lambda folder: preview_sheet(_cohort(folder / "cohort"), folder / "preview.png"),
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_result_writers_go_through_atomic_write(tmp_path, monkeypatch, name):
    WRITERS[name](tmp_path)
    before = (tmp_path / name).read_bytes()
    if name == "bundle.zip":
        assert zipfile.ZipFile(tmp_path / name).namelist()

    def killed(path):
        raise KeyboardInterrupt("killed before the rename")

    monkeypatch.setattr(files, "_fsync_file", killed)
    with pytest.raises(KeyboardInterrupt):
        WRITERS[name](tmp_path)
    assert (tmp_path / name).read_bytes() == before
    assert _leftovers(tmp_path) == []
