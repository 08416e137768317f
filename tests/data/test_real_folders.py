"""The archive reader on the real fundus and dermoscopy folders in ../shared/data (skipped elsewhere)."""

from __future__ import annotations

import pytest
import torch

from monai_debclust.data.archive import ImageArchive
from monai_debclust.data.dataset import load_cohort

pytestmark = pytest.mark.realdata

ISIC_CLASSES = [
    "actinic keratosis",
    "basal cell carcinoma",
    "dermatofibroma",
    "melanoma",
    "nevus",
    "pigmented benign keratosis",
    "seborrheic keratosis",
    "squamous cell carcinoma",
    "vascular lesion",
]


def test_fundus4_folder_layout_has_four_classes_of_1000(fundus_dir):
    archive = ImageArchive(fundus_dir, layout="folder")
    assert archive.class_counts() == {"cataract": 1000, "diabetic_retinopathy": 1000, "glaucoma": 1000, "normal": 1000}
    assert {item["id"].rsplit(".", 1)[1].lower() for item in archive.items} <= {"jpg", "jpeg", "png"}


def test_isic9_train_is_long_tailed_over_nine_named_classes(isic_dir):
    archive = ImageArchive(isic_dir / "Train", layout="folder")
    counts = archive.class_counts()
    assert archive.class_names == ISIC_CLASSES
    assert sum(counts.values()) == 2241
    assert min(counts.values()) == 77 and max(counts.values()) == 462
    assert counts["seborrheic keratosis"] == 77 and counts["pigmented benign keratosis"] == 462


def test_load_cohort_decodes_real_photographs(fundus_dir, isic_dir):
    fundus = ImageArchive(fundus_dir, layout="folder").items[::500]
    dermoscopy = ImageArchive(isic_dir / "Train", layout="folder").items[::300]
    samples, skipped = load_cohort(fundus + dermoscopy, image_size=48, progress=False)
    assert skipped == []
    assert len(samples) == len(fundus) + len(dermoscopy) == 16
    for sample in samples:
        assert sample["image"].dtype == torch.uint8 and sample["image"].shape == (3, 48, 48)
        assert sample["image"].float().std() > 5  # a photograph, not a blank
    assert [s["label"] for s in samples[:8]] == [0, 0, 1, 1, 2, 2, 3, 3]
