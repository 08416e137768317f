"""The data side of a bundle run, in Python so that the bundle configs stay short.

:func:`prepare_training_data` turns the bundle's ``dataset_dir`` setting into decoded samples:
the user's archive, or (when ``dataset_dir`` is empty) a synthetic demo cohort that the product
generates itself (:func:`~monai_debclust.data.synthetic.demo_cohort`), so that a fresh machine
runs a bundle with nothing downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch.distributed as dist

from monai_debclust.data import (
    DEFAULT_MAX_SKIPPED_FRACTION,
    ImageArchive,
    check_skipped,
    class_count_summary,
    demo_cohort,
    load_cohort,
    write_class_summary,
    write_skipped_csv,
)
from monai_debclust.errors import EmptyArchiveError
from monai_debclust.utils.dist import is_distributed, is_main_process

__all__ = ["prepare_training_data"]


def prepare_training_data(
    dataset_dir: str | os.PathLike | None,
    output_dir: str | os.PathLike,
    demo: str,
    image_size: int,
    layout: str | None = "auto",
    labels_csv: str | os.PathLike | None = None,
    demo_size: int | None = None,
    seed: int = 0,
    channels: int = 3,
    num_workers: int = 0,
    report_dir: str | os.PathLike | None = None,
    max_skipped_fraction: float = DEFAULT_MAX_SKIPPED_FRACTION,
) -> tuple[list[dict], list[str] | None]:
    """Decode the training images of a bundle run, once, into memory.

    With an empty ``dataset_dir`` the demo cohort ``demo``
    (:data:`~monai_debclust.data.synthetic.DEMO_COHORTS`) is generated into ``output_dir/demo_cohort`` (and reused by later runs with the same size).
    Otherwise the archive at ``dataset_dir`` is listed by
    :class:`~monai_debclust.data.ImageArchive` with ``layout`` and decoded by
    :func:`~monai_debclust.data.load_cohort`; unreadable files are skipped and listed.

    Writes ``skipped.csv`` (``id,reason``) and ``class_summary.json`` into ``report_dir``
    (default ``output_dir``) and logs the class table. Under ``torch.distributed`` rank 0 goes
    first (it generates the demo cohort and writes the reports) and the other ranks wait for it.

    Args:
        dataset_dir: the archive folder, or empty/None for the demo cohort.
        output_dir: the run's output folder.
        demo: name of the demo cohort in :data:`~monai_debclust.data.synthetic.DEMO_COHORTS`.
        image_size: side the images are resized to.
        layout: how labels are read from the archive: ``"auto"`` (class sub-folders when there
            are some, else none), ``"folder"`` (one sub-folder per class), ``"none"``/``None`` (no
            labels), ``"csv"``, ...; see :class:`~monai_debclust.data.ImageArchive`.
        labels_csv: label table for the layouts that read one.
        demo_size: total images of the demo cohort (default: the cohort's own size).
        seed: seed of the demo cohort.
        channels: 1 or 3 channels per image.
        num_workers: decoding processes.
        report_dir: where ``skipped.csv`` and ``class_summary.json`` go.
        max_skipped_fraction: the largest share of unreadable files a run accepts; more stops it
            before training (:func:`~monai_debclust.data.check_skipped`), after ``skipped.csv``
            was written, since such an archive usually needs a decoder or a fix, not a model.

    Returns:
        ``(samples, class_names)``: ``samples[i]`` is ``dict(image=uint8 (channels, S, S), id,
        label, index=i, path)`` (``path``: the file, for the evaluation's duplicate groups); ``class_names`` is None when the archive has no labels.

    Raises:
        FileNotFoundError: when ``dataset_dir`` is given but is not a folder.
        EmptyArchiveError: when it holds no image (:class:`~monai_debclust.data.ImageArchive`) or none
            is readable.
        TooManySkippedError: when more than ``max_skipped_fraction`` of the files are unreadable.
    """
    if is_distributed() and not is_main_process():
        dist.barrier()  # rank 0 first: it generates the demo cohort, which the others then reuse
    output_dir = Path(output_dir)
    if not dataset_dir:
        root, layout, labels_csv = demo_cohort(output_dir, demo, demo_size, image_size, seed), "folder", None
    else:
        root = Path(dataset_dir).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(
                f"dataset_dir {str(dataset_dir)!r} is not a folder: pass --dataset_dir /path/to/your/archive, "
                "or --dataset_dir '' to train on the generated demo cohort."
            )
    archive = ImageArchive(root, layout=layout, labels_csv=labels_csv)
    samples, skipped = load_cohort(
        archive.items, image_size, channels=channels, progress=is_main_process(), num_workers=num_workers
    )
    report_dir = output_dir if report_dir is None else Path(report_dir)
    if is_main_process():
        write_skipped_csv(skipped, report_dir / "skipped.csv")
        write_class_summary(class_count_summary(samples, archive.class_names), report_dir / "class_summary.json")
    if is_distributed() and is_main_process():
        dist.barrier()
    if not samples:
        raise EmptyArchiveError(
            f"none of the {len(archive.items)} files under {str(root)!r} could be read; "
            f"see {report_dir / 'skipped.csv'}."
        )
    check_skipped(skipped, len(archive.items), max_skipped_fraction, report_dir / "skipped.csv")
    paths = {item["id"]: str(item["path"]) for item in archive.items}
    for index, sample in enumerate(samples):
        sample["index"], sample["path"] = index, paths[sample["id"]]
    return samples, archive.class_names
