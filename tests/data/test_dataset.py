"""Loading, channel matching, guarded datasets, skip-collation and the skipped-file record."""

from __future__ import annotations

import csv
import errno
import logging

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.transforms import Compose, Lambdad
from PIL import Image
from torch.utils.data import DataLoader

from monai_debclust.data.dataset import (
    GuardedDataset,
    LoadArchiveImaged,
    ToFloatd,
    load_cohort,
    load_image,
    skip_collate,
    write_skipped_csv,
)
from monai_debclust.data import dataset as dataset_module
from monai_debclust.data.skips import VANISHED, ImageReadError

RGB = np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)


@pytest.fixture
def archive(tmp_path):
    """Items of three RGB PNGs, one greyscale PNG and one empty (bad) file."""
    items = []
    for k in range(3):
        Image.fromarray(np.roll(RGB, k, axis=0)).save(tmp_path / f"rgb{k}.png")
        items.append({"id": f"rgb{k}.png", "path": str(tmp_path / f"rgb{k}.png"), "label": k})
    Image.fromarray(RGB[..., 1]).save(tmp_path / "grey.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    items.insert(1, {"id": "empty.jpg", "path": str(tmp_path / "empty.jpg"), "label": 0})
    items.append({"id": "grey.png", "path": str(tmp_path / "grey.png"), "label": 1})
    return items


def test_load_image_repeats_greyscale_and_reduces_rgb_by_luminance(archive):
    grey = load_image(archive[-1]["path"], channels=3)
    assert grey.shape == (3, 12, 16) and torch.equal(grey[0], grey[2])
    luma = load_image(archive[0]["path"], channels=1)
    expected = (0.299 * RGB[5, 7, 0] + 0.587 * RGB[5, 7, 1] + 0.114 * RGB[5, 7, 2]) / 255.0
    assert luma.shape == (1, 12, 16) and luma[0, 5, 7].item() == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError, match="cannot convert a 3-channel image to 2 channels"):
        load_image(archive[0]["path"], channels=2)


def test_load_image_resizes_the_whole_image_and_quantises(archive):
    image = load_image(archive[0]["path"], image_size=8)
    stored = load_image(archive[0]["path"], image_size=8, dtype=torch.uint8)
    assert image.shape == (3, 8, 8) and image.dtype == torch.float32
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert stored.dtype == torch.uint8 and torch.equal(stored, image.mul(255).round().to(torch.uint8))
    flat = load_image(archive[0]["path"], image_size=64)  # upsampled: mean intensity is kept
    assert flat.mean().item() == pytest.approx(RGB.mean() / 255.0, abs=0.01)


def test_load_image_resizes_volumes_on_every_axis(tmp_path):
    data = np.random.default_rng(1).random((6, 7, 5)).astype(np.float32)
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "v.nii")
    volume = load_image(tmp_path / "v.nii", image_size=4, channels=1, nifti_mode="volume")
    assert volume.shape == (1, 4, 4, 4)


def test_load_archive_imaged_reads_path_into_image(archive):
    sample = LoadArchiveImaged(image_size=8)(archive[0])
    assert sample["id"] == "rgb0.png" and sample["label"] == 0 and sample["path"] == archive[0]["path"]
    assert sample["image"].shape == (3, 8, 8) and sample["image"].dtype == torch.float32
    with pytest.raises(ImageReadError, match="empty file"):
        LoadArchiveImaged()(archive[1])


def test_to_floatd_scales_uint8_only():
    sample = ToFloatd(keys=["image", "mask"])(
        {"image": torch.tensor([0, 51, 255], dtype=torch.uint8), "mask": torch.tensor([0.5], dtype=torch.float64)}
    )
    assert torch.allclose(sample["image"], torch.tensor([0.0, 0.2, 1.0]))
    assert sample["mask"].dtype == torch.float32 and sample["mask"].item() == 0.5


def test_guarded_dataset_finds_the_read_error_inside_monai_wrapping(archive):
    pipeline = Compose([LoadArchiveImaged(image_size=8), ToFloatd(keys="image")])
    dataset = GuardedDataset(archive, pipeline)
    assert dataset[1] == {"id": "empty.jpg", "error": "empty file"}
    assert dataset[0]["image"].shape == (3, 8, 8)


def test_guarded_dataset_skips_io_errors_of_other_readers_but_not_bugs(tmp_path):
    items = [{"id": "gone.png", "path": str(tmp_path / "gone.png")}]
    opened = GuardedDataset(items, Lambdad(keys="path", func=lambda path: open(path, "rb").read()))
    assert opened[0] == {"id": "gone.png", "error": VANISHED}
    buggy = GuardedDataset(items, Lambdad(keys="path", func=lambda path: int(path)))
    with pytest.raises(RuntimeError) as info:
        buggy[0]
    assert isinstance(info.value.__cause__, ValueError)


@pytest.mark.parametrize("bug", [TypeError("bad argument"), MemoryError(), AttributeError("no such attribute"),
                                 KeyError("id"), OSError(errno.EMFILE, "Too many open files")])
def test_guarded_dataset_lets_bugs_and_exhausted_resources_propagate(archive, monkeypatch, bug):
    def broken(*args, **kwargs):
        raise bug

    monkeypatch.setattr(dataset_module, "read_image", broken)
    dataset = GuardedDataset(archive, Compose([LoadArchiveImaged(image_size=8), ToFloatd(keys="image")]))
    with pytest.raises(RuntimeError) as info:  # MONAI's wrapping, with the bug as its root cause
        dataset[0]
    cause = info.value
    while cause.__cause__ is not None:
        cause = cause.__cause__
    assert cause is bug


def test_guarded_dataset_marks_a_transient_storage_error(archive, monkeypatch):
    read_image = dataset_module.read_image

    def timing_out(path, **kwargs):
        if path.endswith("rgb0.png"):
            raise OSError(errno.ETIMEDOUT, "Connection timed out", path)
        return read_image(path, **kwargs)

    monkeypatch.setattr(dataset_module, "read_image", timing_out)
    dataset = GuardedDataset(archive, LoadArchiveImaged(image_size=8))
    assert dataset[0] == {"id": "rgb0.png", "error": "temporary I/O error: Connection timed out", "transient": True}
    batch = skip_collate([dataset[0], dataset[1]])
    timed_out = ("rgb0.png", "temporary I/O error: Connection timed out")
    assert batch == {"skipped": [timed_out, ("empty.jpg", "empty file")], "transient": ["rgb0.png"]}


def test_skip_collate_of_an_all_bad_batch_is_only_the_skipped_list():
    batch = skip_collate([{"id": "a.png", "error": "empty file"}, {"id": "b.dcm", "error": "DICOM has no pixel data"}])
    assert batch == {"skipped": [("a.png", "empty file"), ("b.dcm", "DICOM has no pixel data")]}


def test_skip_collate_carries_errors_out_of_worker_processes(archive):
    dataset = GuardedDataset(archive, LoadArchiveImaged(image_size=8))
    loader = DataLoader(dataset, batch_size=5, num_workers=1, collate_fn=skip_collate)
    [batch] = list(loader)
    assert batch["image"].shape == (4, 3, 8, 8)
    assert batch["id"] == ["rgb0.png", "rgb1.png", "rgb2.png", "grey.png"]
    assert torch.equal(batch["label"], torch.tensor([0, 1, 2, 1]))
    assert batch["skipped"] == [("empty.jpg", "empty file")]


def test_load_cohort_stores_uint8_and_logs_each_skip(archive, caplog):
    with caplog.at_level(logging.WARNING, logger="monai_debclust.data.dataset"):
        samples, skipped = load_cohort(archive, image_size=8, progress=False)
    assert [s["id"] for s in samples] == ["rgb0.png", "rgb1.png", "rgb2.png", "grey.png"]
    assert [s["label"] for s in samples] == [0, 1, 2, 1]
    assert all(s["image"].dtype == torch.uint8 and s["image"].shape == (3, 8, 8) for s in samples)
    assert set(samples[0]) == {"image", "id", "label"}
    assert skipped == [("empty.jpg", "empty file")]
    assert "skipped empty.jpg: empty file" in caplog.text


def test_load_cohort_with_workers_matches_in_process(archive):
    here, skipped_here = load_cohort(archive, image_size=8, channels=1, progress=False)
    there, skipped_there = load_cohort(archive, image_size=8, channels=1, progress=False, num_workers=2)
    assert skipped_here == skipped_there
    assert all(torch.equal(a["image"], b["image"]) and a["id"] == b["id"] for a, b in zip(here, there, strict=True))
    assert here[0]["image"].shape == (1, 8, 8)


def test_load_cohort_defaults_missing_labels_to_minus_one(archive):
    samples, _ = load_cohort([{"id": "x", "path": archive[0]["path"]}], image_size=4, progress=False)
    assert samples[0]["label"] == -1


def test_write_skipped_csv_writes_id_reason_atomically(tmp_path):
    target = tmp_path / "run" / "skipped.csv"
    write_skipped_csv([("a.png", "empty file"), ("b c/d.dcm", "DICOM has no pixel data, again")], target)
    with open(target, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["id", "reason"], ["a.png", "empty file"], ["b c/d.dcm", "DICOM has no pixel data, again"]]
    assert sorted(p.name for p in target.parent.iterdir()) == ["skipped.csv"]


def test_write_skipped_csv_leaves_nothing_behind_when_rows_fail(tmp_path):
    def rows():
        yield ("a.png", "empty file")
        raise KeyError("boom")

    (tmp_path / "skipped.csv").write_text("id,reason\nold.png,old reason\n")
    with pytest.raises(KeyError):
        write_skipped_csv(rows(), tmp_path / "skipped.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["skipped.csv"]
    assert "old.png" in (tmp_path / "skipped.csv").read_text()  # the previous record is intact
