"""Data of monai-debclust: archive readers, label layouts, cohort loading, long-tail sampling, demo cohorts."""

from monai_debclust.data.archive import AUTO_LAYOUT, ImageArchive, choose_layout, scan_archive
from monai_debclust.data.dataset import (
    GuardedDataset,
    LoadArchiveImaged,
    ToFloatd,
    load_cohort,
    load_image,
    skip_collate,
    write_skipped_csv,
)
from monai_debclust.data.loading import (
    PREFETCH_BATCHES,
    archive_loader,
    available_cores,
    default_num_workers,
    model_threads,
)
from monai_debclust.data.layouts import LAYOUTS, apply_layout, get_layout, read_table, register_layout
from monai_debclust.data.longtail import (
    class_count_summary,
    format_class_summary,
    longtail_class_counts,
    longtail_counts,
    sample_longtail,
    write_class_summary,
)
from monai_debclust.data.readers import (
    IMAGE_EXTENSIONS,
    MAX_IMAGE_PIXELS,
    MAX_VOLUME_VOXELS,
    NIFTI_MODES,
    image_format,
    read_image,
)
from monai_debclust.data.skips import (
    DEFAULT_MAX_SKIPPED_FRACTION,
    ImageReadError,
    TooManySkippedError,
    check_skipped,
    reason_category,
    skipped_by_reason,
)
from monai_debclust.data.synthetic import preview_sheet, read_labels_csv, write_synthetic_cohort
from monai_debclust.data.synthetic_dermoscopy import (
    DERMOSCOPY_CLASSES,
    DERMOSCOPY_COUNTS,
    dermoscopy_counts,
    make_dermoscopy_cohort,
    render_dermoscopy,
)
from monai_debclust.data.synthetic_fundus import (
    FUNDUS_CLASSES,
    FUNDUS_COUNTS,
    fundus_counts,
    make_fundus_cohort,
    render_fundus,
)

__all__ = [
    "AUTO_LAYOUT",
    "DEFAULT_MAX_SKIPPED_FRACTION",
    "DERMOSCOPY_CLASSES",
    "DERMOSCOPY_COUNTS",
    "FUNDUS_CLASSES",
    "FUNDUS_COUNTS",
    "IMAGE_EXTENSIONS",
    "LAYOUTS",
    "MAX_IMAGE_PIXELS",
    "MAX_VOLUME_VOXELS",
    "NIFTI_MODES",
    "PREFETCH_BATCHES",
    "GuardedDataset",
    "ImageArchive",
    "ImageReadError",
    "LoadArchiveImaged",
    "ToFloatd",
    "TooManySkippedError",
    "apply_layout",
    "archive_loader",
    "available_cores",
    "check_skipped",
    "choose_layout",
    "class_count_summary",
    "default_num_workers",
    "dermoscopy_counts",
    "format_class_summary",
    "fundus_counts",
    "get_layout",
    "image_format",
    "load_cohort",
    "load_image",
    "longtail_class_counts",
    "longtail_counts",
    "make_dermoscopy_cohort",
    "make_fundus_cohort",
    "model_threads",
    "preview_sheet",
    "read_image",
    "read_labels_csv",
    "reason_category",
    "read_table",
    "register_layout",
    "render_dermoscopy",
    "render_fundus",
    "sample_longtail",
    "scan_archive",
    "skip_collate",
    "skipped_by_reason",
    "write_class_summary",
    "write_skipped_csv",
    "write_synthetic_cohort",
]
