"""Skip reasons counted by category, and a run that skipped too many files stopped with a clear message."""

from __future__ import annotations

import logging
import pickle

import pytest

from monai_debclust.data.skips import (
    DEFAULT_MAX_SKIPPED_FRACTION,
    TooManySkippedError,
    check_skipped,
    reason_category,
    skipped_by_reason,
)
from monai_debclust.errors import UserError

SKIPPED = [
    ("a.jpg", "truncated or corrupt JPEG: image file is truncated (25 bytes not processed)"),
    ("b.jpg", "truncated or corrupt JPEG: image file is truncated (3 bytes not processed)"),
    ("c.png", "empty file"),
    ("d.dcm", "no decoder for compressed DICOM: JPEG-LS Lossless Image Compression needs a decoder plugin: pip ..."),
    ("e.png", "decompression bomb: 20000 x 20000 is more than the limit of 89,478,485 pixels per frame"),
    ("f.png", "NIfTI has no voxels (shape (5, 5, 0))"),
]


@pytest.mark.parametrize("reason, category", [
    ("empty file", "empty file"),
    ("truncated or corrupt PNG: broken data stream when reading image file", "truncated or corrupt PNG"),
    ("compressed DICOM (JPEG-LS) needs a plugin: pip install x", "compressed DICOM needs a plugin"),
    ("", "unknown"),
])
def test_reason_category_keeps_the_stable_part(reason, category):
    assert reason_category(reason) == category


def test_skipped_by_reason_counts_categories_most_frequent_first():
    assert skipped_by_reason(SKIPPED) == {
        "truncated or corrupt JPEG": 2,
        "NIfTI has no voxels": 1,
        "decompression bomb": 1,
        "empty file": 1,
        "no decoder for compressed DICOM": 1,
    }
    assert skipped_by_reason([]) == {}


def test_check_skipped_logs_one_line_per_reason(caplog):
    with caplog.at_level(logging.WARNING, logger="monai_debclust.data.skips"):
        check_skipped(SKIPPED, 100, DEFAULT_MAX_SKIPPED_FRACTION, report_path="out/skipped.csv")
    lines = caplog.text.splitlines()
    assert "skipped 6 of 100 files (6.0%) (listed in out/skipped.csv):" in lines[0]
    assert lines[1].endswith("2  truncated or corrupt JPEG") and len(lines) == 6


def test_check_skipped_raises_above_the_share_only():
    check_skipped(SKIPPED, total=24, max_skipped_fraction=0.25)  # exactly a quarter is accepted
    with pytest.raises(TooManySkippedError) as info:
        check_skipped(SKIPPED, total=23, max_skipped_fraction=0.25, report_path="out/skipped.csv")
    message = str(info.value)
    for part in ("6 of 23 files", "26.1%", "max_skipped_fraction = 0.25", "25.0%", "out/skipped.csv"):
        assert part in message
    assert isinstance(info.value, UserError) and isinstance(info.value, RuntimeError)
    copy = pickle.loads(pickle.dumps(info.value))
    assert str(copy) == message


def test_check_skipped_of_nothing_skipped_is_silent(caplog):
    with caplog.at_level(logging.WARNING):
        check_skipped([], total=0, max_skipped_fraction=0.0)
    assert caplog.text == ""


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_check_skipped_rejects_a_share_outside_zero_one(fraction):
    with pytest.raises(ValueError, match="max_skipped_fraction must be in"):
        check_skipped(SKIPPED, total=10, max_skipped_fraction=fraction)
