"""Archive curation in the one decoding pass: the working-size decode (:class:`CurateArchiveImaged`),
cleanvision-style quality flags and keyed-hash DICOM columns.

Above :mod:`~monai_debclust.data` (it reads through its readers) and
:mod:`~monai_debclust.similarity`; :mod:`~monai_debclust.archive` writes what it computes.
"""

from monai_debclust.curation.decode import CURATION_VERSION, DEFAULT_WORKING_SIZE, THUMBNAIL_SIZE, CurateArchiveImaged
from monai_debclust.curation.dicom_columns import DICOM_COLUMNS, default_secret_path, dicom_columns, load_secret
from monai_debclust.curation.quality import QUALITY_FLAGS, QualityThresholds, quality_flags, quality_scores

__all__ = [
    "CURATION_VERSION",
    "DEFAULT_WORKING_SIZE",
    "DICOM_COLUMNS",
    "QUALITY_FLAGS",
    "THUMBNAIL_SIZE",
    "CurateArchiveImaged",
    "QualityThresholds",
    "default_secret_path",
    "dicom_columns",
    "load_secret",
    "quality_flags",
    "quality_scores",
]
