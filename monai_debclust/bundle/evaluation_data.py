"""The images an evaluation scores: the labelled training images, and a data set's own test split when it has one.

``configs/evaluate.json`` calls :func:`evaluation_samples`. Each sample it returns carries the
keys :class:`~monai_debclust.engines.ClusterEvaluator` reads: the image, its ``id``, ``label``,
``path`` (the file, for the duplicate groups) and ``is_test``. With a ``test_dir`` (isic9's
``Test/``, say) the test images are decoded like the training ones and marked, so that the
supervised protocols train on the training images and score the test images, with every training
copy of a test image removed (:mod:`~monai_debclust.evaluation.splits`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from monai_debclust.data import (
    DEFAULT_MAX_SKIPPED_FRACTION,
    ImageArchive,
    check_skipped,
    load_cohort,
    write_skipped_csv,
)
from monai_debclust.errors import SettingError

__all__ = ["evaluation_samples"]

#: The keys every evaluation sample has (a batch collates only keys all its samples share).
EVALUATION_KEYS = ("image", "id", "label", "path")


def evaluation_samples(
    samples: Sequence[dict],
    class_names: Sequence[str] | None,
    test_dir: str | os.PathLike | None = None,
    image_size: int = 32,
    channels: int = 3,
    layout: str | None = "auto",
    labels_csv: str | os.PathLike | None = None,
    num_workers: int = 0,
    report_dir: str | os.PathLike | None = None,
    max_skipped_fraction: float = DEFAULT_MAX_SKIPPED_FRACTION,
) -> list[dict]:
    """The labelled training ``samples`` (``is_test`` False) and, with ``test_dir``, its labelled images (True).

    Args:
        samples: the training samples of :func:`~monai_debclust.bundle.prepare_training_data`.
        class_names: their class names; a test image's class is looked up by name among them.
        test_dir: the data set's own test folder, labelled like the training archive; empty or
            None: no test split (the protocols cross-validate).
        image_size: side the test images are resized to (the training images').
        channels: 1 or 3 channels per image.
        layout: how the test archive's labels are read (see :class:`~monai_debclust.data.ImageArchive`).
        labels_csv: its label table, for the layouts that read one.
        num_workers: decoding processes.
        report_dir: where ``test_skipped.csv`` goes (None: not written).
        max_skipped_fraction: the largest share of unreadable test files accepted.

    Raises:
        FileNotFoundError: ``test_dir`` is not a folder.
        SettingError: the test folder has no labels, or a class the training set does not have.
    """
    chosen = [{**{key: sample[key] for key in EVALUATION_KEYS if key in sample}, "is_test": False}
              for sample in samples if sample["label"] >= 0]
    if not test_dir:
        return chosen
    root = Path(test_dir).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"test_dir {str(test_dir)!r} is not a folder.")
    archive = ImageArchive(root, layout=layout, labels_csv=labels_csv)
    if not archive.class_names or not class_names:
        raise SettingError(f"test_dir {str(root)!r}: a test split needs labels in both the training and test archives.")
    unknown = sorted(set(archive.class_names) - set(class_names))
    if unknown:
        raise SettingError(f"test_dir {str(root)!r}: class(es) {unknown} are not among the training classes "
                           f"{list(class_names)}.")
    index = [list(class_names).index(name) for name in archive.class_names]
    test, skipped = load_cohort(archive.items, image_size, channels=channels, progress=False, num_workers=num_workers)
    if report_dir is not None:
        write_skipped_csv(skipped, Path(report_dir) / "test_skipped.csv")
    check_skipped(skipped, len(archive.items), max_skipped_fraction, Path(report_dir or root) / "test_skipped.csv")
    paths = {item["id"]: str(item["path"]) for item in archive.items}
    return chosen + [{"image": sample["image"], "id": sample["id"], "label": index[sample["label"]],
                      "path": paths[sample["id"]], "is_test": True}
                     for sample in test if sample["label"] >= 0]
