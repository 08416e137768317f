"""The "everything wrong" archive through training: each bad file skipped and listed with its reason,
the unusual ones read, the run completing; too large a share of bad files stops it with one message."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from bad_archive import make_bad_archive
from monai_debclust.data import DEFAULT_MAX_SKIPPED_FRACTION, TooManySkippedError
from monai_debclust.bundle import prepare_training_data

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
GOOD_PER_CLASS = 40  # 80 good images beside the bad ones: under the default 25 % share


def _skipped(path: Path) -> dict[str, str]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["id"]: row["reason"] for row in csv.DictReader(handle)}


@pytest.mark.parametrize("layout", ["folder", "flat"])
def test_training_data_skips_exactly_the_bad_files_with_their_reasons(tmp_path, monkeypatch, layout):
    bad = make_bad_archive(tmp_path / "archive", layout=layout, good_per_class=GOOD_PER_CLASS, image_size=32)
    with bad.vanish_after_listing(monkeypatch):
        samples, class_names = prepare_training_data(bad.root, tmp_path / "run", "fundus-1to9", 16)
    skipped = _skipped(tmp_path / "run" / "skipped.csv")
    assert sorted(skipped) == bad.skipped_ids
    assert all(bad.expected[image_id] in reason for image_id, reason in skipped.items()), skipped
    assert sorted(sample["id"] for sample in samples) == bad.readable_ids
    assert all(tuple(sample["image"].shape) == (3, 16, 16) for sample in samples)  # greyscale, 1x1, 16-bit alike
    assert class_names == (["glaucoma", "normal"] if layout == "folder" else None)


def test_too_many_bad_files_stop_training_before_it_starts(tmp_path):
    bad = make_bad_archive(tmp_path / "archive", good_per_class=2, image_size=32)
    with pytest.raises(TooManySkippedError, match="max_skipped_fraction"):
        prepare_training_data(bad.root, tmp_path / "run", "fundus-1to9", 16,
                              max_skipped_fraction=DEFAULT_MAX_SKIPPED_FRACTION)
    assert len(_skipped(tmp_path / "run" / "skipped.csv")) == len(bad.skipped_ids) - 1  # nothing vanished here


def test_the_bundle_trains_and_clusters_the_everything_wrong_archive(tmp_path):
    bad = make_bad_archive(tmp_path / "archive", good_per_class=GOOD_PER_CLASS, image_size=32)
    expected_skips = [i for i in bad.skipped_ids if i != bad.vanishing]  # it stays: nothing deletes it here
    tiny = ["--image_size=16", "--dim=8", "--depth=1", "--batch_size=16", "--epochs=2"]
    for run_id, config, options in (("training", "bundles/refuge/train.json", tiny),
                                    ("inference", "bundles/refuge/configs/inference.json", [])):
        result = subprocess.run(
            [sys.executable, "-m", "monai.bundle", "run", run_id, "--config_file", config,
             "--dataset_dir", str(bad.root), "--output_dir", str(tmp_path / "run"), *options],
            cwd=REPO, capture_output=True, text=True, timeout=600,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    for skipped_csv in (tmp_path / "run" / "skipped.csv", tmp_path / "run" / "clustering" / "skipped.csv"):
        skipped = _skipped(skipped_csv)
        assert sorted(skipped) == expected_skips
        assert all(bad.expected[image_id] in reason for image_id, reason in skipped.items())
    assert (tmp_path / "run" / "models" / "model.pt").is_file()
    with open(tmp_path / "run" / "clustering" / "assignments.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == len(bad.expected) - len(expected_skips)
