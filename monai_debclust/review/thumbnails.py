"""The report's thumbnails: ``thumbnails/<row>.jpg`` beside ``report.html``, made from the original files.

A thumbnail is the original image (a DICOM through its VOI window, a volume's middle slice, as
:func:`~monai_debclust.data.read_image` decodes it), scaled so its long side is
:data:`THUMBNAIL_SIZE` pixels: readable, unlike the model's 32-pixel input. Archive clustering may
already have written them during its one decoding pass; :func:`ensure_thumbnails` makes only the
missing ones.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from monai_debclust.data import ImageReadError, read_image
from monai_debclust.utils import atomic_write

__all__ = ["THUMBNAIL_DIR", "THUMBNAIL_SIZE", "thumbnail", "ensure_thumbnails"]

logger = logging.getLogger(__name__)

#: Folder of the thumbnails beside the report, one ``<row>.jpg`` per row of ``assignments.csv``.
THUMBNAIL_DIR = "thumbnails"
#: Long side of a thumbnail in pixels.
THUMBNAIL_SIZE = 128


def thumbnail(image: np.ndarray, size: int = THUMBNAIL_SIZE) -> Image.Image:
    """An RGB :class:`PIL.Image.Image` of a channel-first ``[0, 1]`` image, long side ``size`` pixels."""
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 4:  # (C, D, H, W): the middle slice
        array = array[:, array.shape[1] // 2]
    channels = array.shape[0]
    array = np.repeat(array[:1], 3, axis=0) if channels < 3 else array[:3]
    pixels = (np.clip(array.transpose(1, 2, 0), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    picture = Image.fromarray(pixels, "RGB")
    scale = size / max(picture.size)
    shape = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    return picture.resize(shape, Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC)


def ensure_thumbnails(folder: str | os.PathLike, paths: Sequence[str | os.PathLike], size: int = THUMBNAIL_SIZE,
                      quality: int = 85) -> int:
    """Write ``folder/<row>.jpg`` for every row of ``paths`` that has none yet; returns how many were made.

    A file that can no longer be read gets no thumbnail (the page shows its id instead).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    made = 0
    for row, path in enumerate(paths):
        target = folder / f"{row}.jpg"
        if target.exists():
            continue
        try:
            image = read_image(path, min_size=size)
        except ImageReadError as error:
            logger.warning("no thumbnail for %s: %s", path, error)
            continue
        with atomic_write(target, "wb") as handle:
            thumbnail(image, size).save(handle, format="JPEG", quality=quality, optimize=True)
        made += 1
    return made
