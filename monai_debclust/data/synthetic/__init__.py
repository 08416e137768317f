"""Synthetic demo cohorts: fundus and dermoscopy generators, writing a cohort, the bundles' demo cohorts."""

from monai_debclust.data.synthetic.cohort import Renderer, preview_sheet, read_labels_csv, write_synthetic_cohort
from monai_debclust.data.synthetic.demo import (
    DEMO_COHORTS,
    DEMO_IMAGE_SIZE,
    DemoCohort,
    cohort_fits,
    demo_cohort,
    demo_counts,
)
from monai_debclust.data.synthetic.dermoscopy import (
    DERMOSCOPY_CLASSES,
    DERMOSCOPY_COUNTS,
    DERMOSCOPY_FREQUENCY_ORDER,
    dermoscopy_counts,
    make_dermoscopy_cohort,
    render_dermoscopy,
)
from monai_debclust.data.synthetic.fundus import (
    CUP_TO_DISC,
    FUNDUS_CLASSES,
    FUNDUS_COUNTS,
    fundus_counts,
    make_fundus_cohort,
    render_fundus,
)

__all__ = [
    "CUP_TO_DISC",
    "DEMO_COHORTS",
    "DEMO_IMAGE_SIZE",
    "DERMOSCOPY_CLASSES",
    "DERMOSCOPY_COUNTS",
    "DERMOSCOPY_FREQUENCY_ORDER",
    "DemoCohort",
    "FUNDUS_CLASSES",
    "FUNDUS_COUNTS",
    "Renderer",
    "cohort_fits",
    "demo_cohort",
    "demo_counts",
    "dermoscopy_counts",
    "fundus_counts",
    "make_dermoscopy_cohort",
    "make_fundus_cohort",
    "preview_sheet",
    "read_labels_csv",
    "render_dermoscopy",
    "render_fundus",
    "write_synthetic_cohort",
]
