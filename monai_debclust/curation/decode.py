"""Decode once at a working size, and from that one decode make the model's input and everything curation needs.

:class:`CurateArchiveImaged` is the archive's loading transform when curation is on. In the
decoding worker it reads a file once, at a *working size* (a JPEG at the reduced DCT scale
keeping both sides at least ``working_size``, :func:`~monai_debclust.data.readers.read_image`),
shrinks it to at most ``working_size`` a side (aspect kept), and from those pixels derives:

* ``image``: the model's input, as :func:`~monai_debclust.data.load_image` makes it
  (:func:`~monai_debclust.data.prepare_image`; the pixels differ from a decode straight at the
  model's size by the JPEG scale's box filter, about 1 % of the range);
(the working image is kept as 8-bit pixels, as the model's input is stored)
* ``quality``: the four scores of :func:`~monai_debclust.curation.quality.quality_scores`;
* ``signature``: the 16 x 16 pixel signature of duplicate grouping
  (:func:`~monai_debclust.similarity.pixel_signature`);
* ``thumbnail``: JPEG bytes, ``thumbnail_size`` on the long side (a DICOM through its window);
* ``content_hash``: SHA-256 of the file's bytes (exact copies);
* ``dicom``: the :data:`~monai_debclust.curation.dicom_columns.DICOM_COLUMNS`, read from the header
  the reader parses anyway (empty strings for other formats).

With ``curation=False`` it is :class:`~monai_debclust.data.LoadArchiveImaged` (decode at the
model's size, ``image`` only), which the benchmark's ratio compares against.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping

import numpy as np
import torch
from monai.transforms import Transform
from PIL import Image

from monai_debclust.data.dataset import load_image, prepare_image
from monai_debclust.curation.dicom_columns import DICOM_COLUMNS, dicom_columns, key_fingerprint, load_secret
from monai_debclust.curation.quality import quality_scores
from monai_debclust.data.readers import read_image
from monai_debclust.review.thumbnails import THUMBNAIL_SIZE
from monai_debclust.similarity import DEFAULT_SIGNATURE_SIZE, content_hash, pixel_signature

__all__ = ["CURATION_VERSION", "DEFAULT_WORKING_SIZE", "THUMBNAIL_SIZE", "CurateArchiveImaged"]

#: Long side of the working decode: blur is judged at 64 px, the report's thumbnails are 128 px.
#: (128 rather than 160: a 256-px JPEG then decodes at half scale, and curation costs a third less.)
DEFAULT_WORKING_SIZE = THUMBNAIL_SIZE
#: Version of the curation columns, part of the resume fingerprint.
CURATION_VERSION = 2


def _working_picture(image: np.ndarray, longest: int) -> Image.Image:
    """A ``(C, H, W)`` float image in ``[0, 1]`` (or ``uint8``) as an 8-bit PIL image (``L`` or ``RGB``) of at most ``longest`` a side.

    Shrunk by Pillow's antialiased bilinear filter; ``reducing_gap`` first box-reduces by an integer
    factor where the image is much larger (as fast as a reduced JPEG decode, and as good).
    """
    pixels = image if image.dtype == np.uint8 else np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    picture = Image.fromarray(pixels[0] if pixels.shape[0] == 1 else np.ascontiguousarray(pixels.transpose(1, 2, 0)))
    if max(picture.size) > longest:
        scale = longest / max(picture.size)
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        picture = picture.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return picture


def _jpeg(picture: Image.Image, longest: int) -> bytes:
    if max(picture.size) > longest:
        picture = picture.copy()
        picture.thumbnail((longest, longest), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


class CurateArchiveImaged(Transform):
    """Decode ``data["path"]`` once into the model's input and the curation fields (see the module docstring).

    Args:
        image_size: side of the model's square input.
        channels: 1 or 3, the model's input channels.
        nifti_mode: ``"slice"`` or ``"volume"`` (a volume's middle slice makes the curation fields).
        curation: False for the model's input only, decoded at ``image_size``.
        working_size: long side of the working decode (at least ``image_size`` is used).
        thumbnail_size: long side of the thumbnails.
        dicom_secret: the key file of the DICOM hashes (:func:`~monai_debclust.curation.dicom_columns.load_secret`;
            ``None``: the user's default, made once).
        dtype: of ``image``; ``torch.uint8`` as training stores pixels.
    """

    def __init__(self, image_size: int, channels: int = 3, nifti_mode: str = "slice", curation: bool = True,
                 working_size: int = DEFAULT_WORKING_SIZE, thumbnail_size: int = THUMBNAIL_SIZE,
                 dicom_secret: str | os.PathLike | None = None, dtype: torch.dtype = torch.uint8) -> None:
        self.image_size, self.channels, self.nifti_mode, self.dtype = image_size, channels, nifti_mode, dtype
        self.curation = bool(curation)
        self.working_size = max(int(working_size), int(image_size))
        self.thumbnail_size = int(thumbnail_size)
        self._key = load_secret(dicom_secret) if self.curation else b""

    def settings(self) -> dict:
        """What changes the transform's output: part of the resume fingerprint (the key only as a keyed digest)."""
        base = {"image_size": self.image_size, "channels": self.channels, "nifti_mode": self.nifti_mode}
        if not self.curation:
            return {**base, "curation": False}
        return {**base, "curation": True, "curation_version": CURATION_VERSION, "working_size": self.working_size,
                "thumbnail_size": self.thumbnail_size, "signature_size": DEFAULT_SIGNATURE_SIZE,
                "dicom_key": key_fingerprint(self._key)}

    def __call__(self, data: Mapping) -> dict:
        d = dict(data)
        if not self.curation:
            d["image"] = load_image(d["path"], self.image_size, self.channels, self.nifti_mode, self.dtype)
            return d
        header: dict[str, str] = dict.fromkeys(DICOM_COLUMNS, "")
        decoded = read_image(d["path"], self.nifti_mode, min_size=self.working_size, keep_8bit=True,
                             on_dicom_header=lambda ds: header.update(dicom_columns(ds, self._key)))
        plane = decoded[:, decoded.shape[1] // 2] if decoded.ndim == 4 else decoded
        working = _working_picture(plane, self.working_size)
        pixels = np.array(working)  # a copy: PIL's buffer is read-only
        channels_first = torch.from_numpy(np.ascontiguousarray(pixels[None] if pixels.ndim == 2
                                                               else pixels.transpose(2, 0, 1)))
        model_source = channels_first.float().div_(255.0) if decoded.ndim == 3 else torch.from_numpy(decoded)
        d["image"] = prepare_image(model_source, self.image_size, self.channels, self.dtype)
        d["quality"] = quality_scores(channels_first.numpy())
        d["signature"] = pixel_signature(working)
        d["thumbnail"] = _jpeg(working, self.thumbnail_size)
        d["content_hash"] = content_hash(d["path"])
        d["dicom"] = header
        return d
