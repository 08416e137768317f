"""The demo cohorts a bundle trains on when it is given no data, and generating one into a run folder.

With an empty ``dataset_dir`` a bundle run generates the cohort its ``demo`` setting names
(:data:`DEMO_COHORTS`) into ``output_dir/demo_cohort`` (:func:`demo_cohort`), so that a fresh
machine runs a bundle with nothing downloaded; a later run with the same size reuses it.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

from PIL import Image

from monai_debclust.data.synthetic.cohort import read_labels_csv
from monai_debclust.data.synthetic.dermoscopy import DERMOSCOPY_COUNTS, make_dermoscopy_cohort
from monai_debclust.data.synthetic.fundus import FUNDUS_COUNTS, make_fundus_cohort
from monai_debclust.errors import SettingError

__all__ = ["DEMO_COHORTS", "DEMO_IMAGE_SIZE", "DemoCohort", "cohort_fits", "demo_cohort", "demo_counts"]

logger = logging.getLogger(__name__)

#: Side of the generated demo images; loading resizes them to the run's ``image_size``.
DEMO_IMAGE_SIZE = 128


class DemoCohort(NamedTuple):
    """A synthetic cohort a bundle trains on when it is given no data."""

    description: str
    make: Callable[..., Path]
    counts: Mapping[str, int]


#: The demo cohort of each bundle, by name.
DEMO_COHORTS: dict[str, DemoCohort] = {
    "fundus-1to9": DemoCohort(
        "fundus photographs, glaucoma:normal 1:9 (REFUGE-like)", make_fundus_cohort, FUNDUS_COUNTS
    ),
    "fundus-balanced": DemoCohort(
        "fundus photographs, glaucoma:normal 1:1 (Glaucoma-1-like)",
        make_fundus_cohort,
        {"glaucoma": 100, "normal": 100},
    ),
    "dermoscopy-longtail": DemoCohort(
        "dermoscopy, 7 ISIC 2018 classes, HAM10000 proportions (imbalance 40)",
        make_dermoscopy_cohort,
        DERMOSCOPY_COUNTS,
    ),
}


def demo_counts(demo: str, demo_size: int | None = None) -> dict[str, int]:
    """Class sizes of demo cohort ``demo``, scaled to ``demo_size`` images in all (at least 1 per class).

    Example:
        >>> demo_counts("fundus-1to9", 40)
        {'glaucoma': 4, 'normal': 36}
    """
    if demo not in DEMO_COHORTS:
        raise SettingError(f"unknown demo cohort {demo!r}; known: {', '.join(DEMO_COHORTS)}.")
    counts = dict(DEMO_COHORTS[demo].counts)
    if demo_size is None:
        return counts
    if demo_size < len(counts):
        raise SettingError(f"demo_size must be at least {len(counts)} (one image per class), got {demo_size}.")
    total = sum(counts.values())
    scaled = {name: max(1, round(n * demo_size / total)) for name, n in counts.items()}
    largest = max(scaled, key=scaled.get)
    scaled[largest] += demo_size - sum(scaled.values())
    return scaled


def cohort_fits(cohort_dir: Path, counts: Mapping[str, int], image_size: int) -> bool:
    """Whether ``cohort_dir`` holds a generated cohort of exactly ``counts`` with images of side >= ``image_size``."""
    if not (cohort_dir / "labels.csv").is_file():
        return False
    rows = read_labels_csv(cohort_dir)
    if Counter(label for _, label in rows) != Counter(counts):
        return False
    with Image.open(cohort_dir / rows[0][0]) as first:
        return min(first.size) >= image_size


def demo_cohort(
    output_dir: str | os.PathLike, demo: str, demo_size: int | None, image_size: int, seed: int
) -> Path:
    """Generate the demo cohort ``demo`` into ``output_dir/demo_cohort``, or reuse the one already there.

    Args:
        output_dir: the run's output folder.
        demo: name of the cohort in :data:`DEMO_COHORTS`.
        demo_size: total images (default: the cohort's own size, see :func:`demo_counts`).
        image_size: the smallest side the images must have (at least :data:`DEMO_IMAGE_SIZE` is drawn).
        seed: seed of the generator.

    Returns:
        the cohort folder (one sub-folder per class and ``labels.csv``).
    """
    cohort_dir = Path(output_dir) / "demo_cohort"
    counts = demo_counts(demo, demo_size)
    size = max(DEMO_IMAGE_SIZE, image_size)
    if cohort_fits(cohort_dir, counts, image_size):
        logger.info(f"reusing the demo cohort in {cohort_dir}")
    else:
        logger.info(f"dataset_dir is empty: generating the demo cohort ({DEMO_COHORTS[demo].description}, {counts}) "
                    f"into {cohort_dir}")
        DEMO_COHORTS[demo].make(cohort_dir, counts=counts, image_size=size, seed=seed, overwrite=True)
    return cohort_dir
