"""prepare_training_data: the demo cohorts, the user's archive, the reports and the errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from monai_debclust.bundle import prepare_training_data
from monai_debclust.data.synthetic import DEMO_COHORTS, demo_counts


@pytest.mark.parametrize("demo", sorted(DEMO_COHORTS))
def test_demo_counts_keep_every_class_and_the_total(demo):
    counts = demo_counts(demo, 40)
    assert sum(counts.values()) == 40 and min(counts.values()) >= 1
    assert set(counts) == set(DEMO_COHORTS[demo].counts)


def test_demo_counts_keep_the_cohort_shape():
    assert demo_counts("fundus-1to9", 40) == {"glaucoma": 4, "normal": 36}
    assert demo_counts("fundus-balanced", 40) == {"glaucoma": 20, "normal": 20}
    assert demo_counts("dermoscopy-longtail")["NV"] == max(demo_counts("dermoscopy-longtail").values())
    with pytest.raises(ValueError, match="demo_size"):
        demo_counts("dermoscopy-longtail", 3)
    with pytest.raises(ValueError, match="unknown demo"):
        demo_counts("mnist")


def test_empty_dataset_dir_generates_the_demo_cohort_once(tmp_path):
    samples, class_names = prepare_training_data("", tmp_path, "fundus-1to9", 16, demo_size=20)
    assert class_names == ["glaucoma", "normal"]
    assert [s["index"] for s in samples] == list(range(20))
    assert sum(s["label"] == 0 for s in samples) == 2
    assert samples[0]["image"].shape == (3, 16, 16) and samples[0]["image"].dtype.is_floating_point is False
    labels_csv = tmp_path / "demo_cohort" / "labels.csv"
    written = labels_csv.stat().st_mtime_ns
    prepare_training_data(None, tmp_path, "fundus-1to9", 16, demo_size=20)
    assert labels_csv.stat().st_mtime_ns == written
    summary = json.loads((tmp_path / "class_summary.json").read_text())
    assert summary["total"] == 20 and summary["imbalance_ratio"] == 9.0
    prepare_training_data(None, tmp_path, "fundus-1to9", 16, demo_size=30)  # another size: a new cohort
    assert labels_csv.stat().st_mtime_ns != written


def test_a_user_archive_is_read_by_layout_and_bad_files_are_listed(tmp_path):
    archive = tmp_path / "archive"
    for name in ("cat", "dog"):
        (archive / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((20, 24, 3), 60 * i, np.uint8)).save(archive / name / f"{i}.png")
    (archive / "dog" / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    samples, class_names = prepare_training_data(str(archive), out, "fundus-1to9", 8)
    assert class_names == ["cat", "dog"] and len(samples) == 6
    with open(out / "skipped.csv", newline="") as handle:
        assert [row["id"] for row in csv.DictReader(handle)] == ["dog/broken.png"]
    assert not (out / "demo_cohort").exists()


def test_a_missing_dataset_dir_is_an_error_naming_the_setting(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset_dir .*--dataset_dir"):
        prepare_training_data(tmp_path / "nowhere", tmp_path, "fundus-1to9", 16)


def test_an_archive_without_images_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images under"):
        prepare_training_data(tmp_path / "empty", tmp_path, "fundus-1to9", 16)
