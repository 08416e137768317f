"""One atomic_folder for every folder result: an error leaves the old folder, concurrent publishers one whole folder."""

from __future__ import annotations

import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from monai_debclust.archive.assembly import THUMBNAILS_DIR, assemble_embeddings
from monai_debclust.archive.chunks import Chunk, ChunkStore
from monai_debclust.data.synthetic.cohort import read_labels_csv, write_synthetic_cohort
from monai_debclust.utils import files
from monai_debclust.utils.files import atomic_folder
from monai_debclust.zoo.archive import safe_extract

ROOT = Path(__file__).resolve().parents[2]
FILES_PER_FOLDER = 20
#: A child that loads utils/files.py alone (no torch to import), waits for the file ``argv[3]``, then
#: publishes ``argv[1]`` ten times, each a folder of 20 files holding ``argv[2]``.
PUBLISHER = f"""
import importlib.util, sys, time
from pathlib import Path
spec = importlib.util.spec_from_file_location("files", {str(ROOT / "monai_debclust" / "utils" / "files.py")!r})
files = importlib.util.module_from_spec(spec)
spec.loader.exec_module(files)
while not Path(sys.argv[3]).exists():
    time.sleep(0.001)
for _ in range(10):
    with files.atomic_folder(sys.argv[1]) as staging:
        for i in range({FILES_PER_FOLDER}):
            (Path(staging) / f"{{i}}.txt").write_text(sys.argv[2] * 1000)
"""


def _leftovers(folder: Path) -> list[Path]:
    return sorted(folder.glob(f".*{files.TEMPORARY_SUFFIX}"))


def _contents(folder: Path) -> dict[str, str]:
    return {path.relative_to(folder).as_posix(): path.read_text() for path in sorted(folder.rglob("*"))
            if path.is_file()}


def _publish(target: Path, text: str) -> None:
    with atomic_folder(target) as staging:
        (staging / "sub").mkdir()
        for i in range(FILES_PER_FOLDER):
            (staging / "sub" / f"{i}.txt").write_text(text * 1000)


def test_a_published_folder_replaces_the_previous_one_whole(tmp_path):
    target = tmp_path / "results"
    _publish(target, "a")
    _publish(target, "b")
    assert _contents(target) == {f"sub/{i}.txt": "b" * 1000 for i in range(FILES_PER_FOLDER)}
    assert _leftovers(tmp_path) == []


def test_an_error_half_way_leaves_the_previous_folder_and_no_staging_folder(tmp_path):
    target = tmp_path / "results"
    _publish(target, "old")
    before = _contents(target)
    with pytest.raises(RuntimeError, match="half-way"):
        with atomic_folder(target) as staging:
            assert staging.parent == tmp_path and staging.name.startswith(".results.")
            (staging / "0.txt").write_text("new")
            raise RuntimeError("half-way")
    assert _contents(target) == before and _leftovers(tmp_path) == []


def test_an_interruption_while_flushing_leaves_the_previous_folder(tmp_path, monkeypatch):
    target = tmp_path / "results"
    _publish(target, "old")

    def killed(path):
        raise KeyboardInterrupt("killed before the swap")

    monkeypatch.setattr(files, "_fsync_file", killed)
    with pytest.raises(KeyboardInterrupt):
        _publish(target, "new")
    assert set(_contents(target).values()) == {"old" * 1000} and _leftovers(tmp_path) == []


def test_every_file_and_folder_is_flushed_before_the_swap_and_the_parent_after(tmp_path, monkeypatch):
    target = tmp_path / "results"
    calls = []
    monkeypatch.setattr(files, "_fsync_file", lambda path: calls.append(("file", path.name, target.exists())))
    monkeypatch.setattr(files, "_fsync_folder", lambda folder: calls.append(("folder", folder.name, target.exists())))
    with atomic_folder(target) as staging:
        (staging / "sub").mkdir()
        (staging / "top.txt").write_text("1")
        (staging / "sub" / "inner.txt").write_text("2")
    flushed_before = {(kind, name) for kind, name, published in calls if not published}
    assert {("file", "top.txt"), ("file", "inner.txt"), ("folder", "sub"), ("folder", staging.name)} <= flushed_before
    assert calls[-1] == ("folder", tmp_path.name, True)


def test_a_failed_swap_puts_the_previous_folder_back(tmp_path, monkeypatch):
    target = tmp_path / "results"
    _publish(target, "old")
    rename, moved_aside = files.os.rename, []

    def refuse_staging(source, destination):
        if Path(source) == target:
            moved_aside.append(Path(destination))
        elif Path(destination) == target and Path(source) not in moved_aside:
            raise PermissionError("the staging folder may not be renamed")
        rename(source, destination)

    monkeypatch.setattr(files.os, "rename", refuse_staging)
    with pytest.raises(PermissionError):
        _publish(target, "new")
    assert set(_contents(target).values()) == {"old" * 1000} and _leftovers(tmp_path) == []


def _in_threads(function, arguments: list[tuple]) -> None:
    """Call ``function(*a)`` for every ``a`` of ``arguments`` at once, one thread each; re-raise the first error."""
    start, errors = threading.Barrier(len(arguments)), []

    def call(*args) -> None:
        start.wait()
        try:
            function(*args)
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=call, args=args) for args in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


@pytest.mark.parametrize("use_processes", [False, True])
def test_concurrent_publishers_of_one_folder_leave_one_complete_folder(tmp_path, use_processes):
    target = tmp_path / "results"
    writers = "ab" if use_processes else "abcd"
    if use_processes:
        go = tmp_path / "go"
        children = [subprocess.Popen([sys.executable, "-c", PUBLISHER, str(target), writer, str(go)], cwd=ROOT,
                                     env={"PATH": ""}) for writer in writers]
        go.touch()
        assert [child.wait(timeout=300) for child in children] == [0] * len(children)
    else:
        _in_threads(lambda text: [_publish(target, text) for _ in range(10)], [(writer,) for writer in writers])
    contents = _contents(target)
    assert len(contents) == FILES_PER_FOLDER
    assert len(set(contents.values())) == 1 and next(iter(contents.values()))[0] in writers
    assert _leftovers(tmp_path) == []


def test_concurrent_assemblies_into_one_output_folder_leave_whole_thumbnails(tmp_path):
    store = ChunkStore(tmp_path / "chunks", {})
    store.open()
    store.write(Chunk(["x.png", "y.png"], np.ones((2, 2), np.float32), [], {"thumbnail": [b"x", b"y"]}))
    items = [{"id": "x.png"}, {"id": "y.png"}]
    _in_threads(lambda: [assemble_embeddings(items, [tmp_path / "chunks"], 2, tmp_path) for _ in range(5)], [()] * 3)
    thumbnails = tmp_path / THUMBNAILS_DIR
    assert {path.name: path.read_bytes() for path in thumbnails.iterdir()} == {"0.jpg": b"x", "1.jpg": b"y"}
    assert _leftovers(tmp_path) == []


def _render(name: str, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.zeros((size, size, 3), np.uint8)


def test_a_cohort_failing_half_way_leaves_the_earlier_cohort(tmp_path):
    cohort = write_synthetic_cohort(tmp_path / "cohort", {"a": 2, "b": 1}, _render, classes=("a", "b"), image_size=32)
    before = read_labels_csv(cohort)

    def failing(name: str, size: int, rng: np.random.Generator) -> np.ndarray:
        if name == "b":
            raise RuntimeError("half-way")
        return _render(name, size, rng)

    with pytest.raises(RuntimeError, match="half-way"):
        write_synthetic_cohort(cohort, {"a": 3, "b": 1}, failing, classes=("a", "b"), image_size=32, overwrite=True)
    assert read_labels_csv(cohort) == before and len(list(cohort.rglob("*.png"))) == 3
    assert _leftovers(tmp_path) == [] and _leftovers(cohort) == []


def test_an_extraction_failing_half_way_leaves_no_bundle_folder(tmp_path, monkeypatch):
    zip_path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("demo/configs/metadata.json", "{}")
        archive.writestr("demo/LICENSE", "text")

    def killed(path):
        raise KeyboardInterrupt("killed before the swap")

    with monkeypatch.context() as patch:
        patch.setattr(files, "_fsync_file", killed)
        with pytest.raises(KeyboardInterrupt):
            safe_extract(zip_path, tmp_path / "bundles")
    assert list((tmp_path / "bundles").iterdir()) == []
    folder = safe_extract(zip_path, tmp_path / "bundles")
    assert _contents(folder) == {"LICENSE": "text", "configs/metadata.json": "{}"}
    assert list((tmp_path / "bundles").iterdir()) == [folder]


def test_a_large_folder_is_flushed_by_one_sync_of_the_file_systems(tmp_path, monkeypatch):
    target, flushed = tmp_path / "thumbnails", []
    monkeypatch.setattr(files, "_fsync_file", lambda path: flushed.append(path))
    monkeypatch.setattr(files.os, "sync", lambda: flushed.append("sync"))
    with atomic_folder(target) as staging:
        for k in range(files.SYNC_ALL_ABOVE + 1):
            (staging / f"{k}.jpg").write_bytes(b"x")
    assert flushed == ["sync"] and len(list(target.iterdir())) == files.SYNC_ALL_ABOVE + 1
