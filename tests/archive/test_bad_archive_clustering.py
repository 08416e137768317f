"""Archive clustering of the "everything wrong" archive: the run completes, skips exactly the bad files, retries
transient failures on resume, stops a run that skipped too many, and never hides a bug."""

from __future__ import annotations

import csv
import errno
import json
from pathlib import Path

import pytest
from bad_archive import BadArchive, make_bad_archive

from monai_debclust.cli import main
from monai_debclust.data import ImageArchive, LoadArchiveImaged, TooManySkippedError
from monai_debclust.data import dataset as dataset_module
from monai_debclust.data.skips import skipped_by_reason
from monai_debclust.archive.chunks import ChunkStore
from monai_debclust.archive import PARTS_DIR, ArchiveClusterer
from monai_debclust.bundle import load_trained_network

from .helpers import IMAGE_SIZE, console_arguments

pytestmark = pytest.mark.slow

OUTPUTS = ("assignments.csv", "embeddings.npy", "embeddings_index.csv", "skipped.csv", "summary.json", "report.html")


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _archive(bad: BadArchive, monkeypatch) -> ImageArchive:
    with bad.vanish_after_listing(monkeypatch):
        return ImageArchive(bad.root, layout="folder" if bad.layout == "folder" else None)


def _clusterer(archive, trained_model, output_dir: Path, **options) -> ArchiveClusterer:
    return ArchiveClusterer(archive, load_trained_network(trained_model), LoadArchiveImaged(image_size=IMAGE_SIZE),
                            output_dir, batch_size=4, chunk_size=8, progress=False, **options)


@pytest.mark.parametrize("layout", ["folder", "flat"])
def test_everything_wrong_archive_is_clustered_with_every_bad_file_skipped(tmp_path, monkeypatch, trained_model,
                                                                           capsys, layout):
    bad = make_bad_archive(tmp_path / "archive", layout=layout, good_per_class=6, image_size=IMAGE_SIZE)
    archive = _archive(bad, monkeypatch)
    summary = _clusterer(archive, trained_model, tmp_path / "out", max_skipped_fraction=0.5).run()

    skipped = {row["id"]: row["reason"] for row in _rows(tmp_path / "out" / "skipped.csv")}
    assert sorted(skipped) == bad.skipped_ids
    assert all(bad.expected[image_id] in reason for image_id, reason in skipped.items()), skipped
    assert [row["id"] for row in _rows(tmp_path / "out" / "assignments.csv")] == bad.readable_ids
    assert summary["images"]["skipped"] == len(bad.skipped_ids) and summary["images"]["retry_next_run"] == 0
    assert summary["images"]["skipped_by_reason"] == skipped_by_reason(skipped.items())
    assert summary["images"]["skipped_by_reason"]["symbolic link loop"] == 2
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["images"] == summary["images"]
    printed = capsys.readouterr().out
    assert "2 symbolic link loop" in printed and "1 decompression bomb" in printed
    assert "<td>decompression bomb</td><td class='num'>1</td>" in (tmp_path / "out" / "report.html").read_text()


def test_too_many_skipped_files_fail_the_run_after_every_output_is_written(tmp_path, monkeypatch, trained_model):
    bad = make_bad_archive(tmp_path / "archive", good_per_class=6, image_size=IMAGE_SIZE)
    archive = _archive(bad, monkeypatch)
    with pytest.raises(TooManySkippedError) as info:
        _clusterer(archive, trained_model, tmp_path / "out").run()
    total, skipped = len(archive.items), len(bad.skipped_ids)
    message = str(info.value)
    assert f"{skipped} of {total} files" in message and "max_skipped_fraction = 0.25" in message
    assert str(tmp_path / "out" / "skipped.csv") in message
    assert [name for name in OUTPUTS if not (tmp_path / "out" / name).is_file()] == []


def test_cluster_command_exits_non_zero_and_says_why_when_too_many_files_are_skipped(tmp_path, trained_model, capsys):
    bad = make_bad_archive(tmp_path / "archive", good_per_class=6, image_size=IMAGE_SIZE)
    status = main(console_arguments(bad.root, tmp_path / "out", trained_model))
    captured = capsys.readouterr()
    assert status != 0
    assert "could not be read, more than max_skipped_fraction = 0.25" in captured.err
    assert "symbolic link loop" in captured.out  # the summary, printed before the failure
    assert (tmp_path / "out" / "clustering" / "report.html").is_file()


def test_transient_storage_error_is_reported_and_retried_on_resume(tmp_path, monkeypatch, trained_model):
    bad = make_bad_archive(tmp_path / "archive", good_per_class=6, image_size=IMAGE_SIZE)
    archive = _archive(bad, monkeypatch)
    flaky = "glaucoma/glaucoma_00002.png"
    read_image = dataset_module.read_image

    def storage_timing_out(path, **kwargs):
        if path.endswith(flaky):
            raise OSError(errno.EIO, "Input/output error", path)
        return read_image(path, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(dataset_module, "read_image", storage_timing_out)
        first = _clusterer(archive, trained_model, tmp_path / "out", max_skipped_fraction=1.0).run()
    skipped = {row["id"]: row["reason"] for row in _rows(tmp_path / "out" / "skipped.csv")}
    assert skipped[flaky] == "temporary I/O error: Input/output error"
    assert first["images"]["retry_next_run"] == 1 and first["images"]["skipped_by_reason"]["temporary I/O error"] == 1
    assert flaky not in ChunkStore(tmp_path / "out" / PARTS_DIR, {}).done_ids()  # not recorded as done

    second = _clusterer(archive, trained_model, tmp_path / "out", max_skipped_fraction=1.0).run()
    # a file without a status to compare (a broken or looping link, a vanished file) is tried again too
    unstatable = [i for i, reason in skipped.items()
                  if reason.startswith(("symbolic link loop", "broken symbolic link", "file vanished"))]
    assert len(unstatable) == 4
    assert second["images"]["from_earlier_run"] == len(archive.items) - 1 - len(unstatable)
    assert flaky in {row["id"] for row in _rows(tmp_path / "out" / "assignments.csv")}
    assert sorted(row["id"] for row in _rows(tmp_path / "out" / "skipped.csv")) == bad.skipped_ids


@pytest.mark.parametrize("bug", [TypeError("a bug"), MemoryError()])
def test_a_bug_while_reading_fails_the_run_instead_of_skipping_every_file(tmp_path, monkeypatch, trained_model,
                                                                          messy_archive, bug):
    def buggy(*args, **kwargs):
        raise bug

    monkeypatch.setattr(dataset_module, "read_image", buggy)
    archive = ImageArchive(messy_archive, layout="folder")
    with pytest.raises(RuntimeError) as info:  # MONAI's wrapping of the failed transform, decoded in this process
        _clusterer(archive, trained_model, tmp_path / "out", num_workers=0).run()
    assert info.value.__cause__ is bug
    assert ChunkStore(tmp_path / "out" / PARTS_DIR, {}).done_ids() == set()
    assert not (tmp_path / "out" / "skipped.csv").exists()


def test_max_skipped_fraction_outside_zero_one_is_refused(tmp_path, messy_archive, trained_model):
    with pytest.raises(ValueError, match="max_skipped_fraction must be in"):
        _clusterer(ImageArchive(messy_archive, layout="folder"), trained_model, tmp_path, max_skipped_fraction=2.0)
