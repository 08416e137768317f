"""Decoding one archive file (PNG/JPEG/BMP/TIFF, DICOM, NIfTI) to a channel-first float32 array.

Every file is decoded *fully*, each decoder call inside a guard: Pillow opens a truncated JPEG
and fails only at ``load()``, pydicom reads a cut-short file and fails only at ``pixel_array``,
nibabel fails only when the data are read. What a decoder (Pillow, pydicom, nibabel) raises for a
bad file comes out of :func:`read_image` as :class:`~monai_debclust.data.skips.ImageReadError`
with a short reason a person can act on, so a caller skips and records the file instead of
aborting a run. Only the decoder calls are guarded: this module's own checks of a file's content
(a DICOM window it cannot use, pixel data of another size than the header declares) raise
``ImageReadError`` themselves, and anything else raised by this module's own code (a bug) or a
sick machine (exhausted memory or file descriptors) propagates and fails the run.
:mod:`~monai_debclust.data.skips` says which errors are which.

Images larger than :data:`MAX_IMAGE_PIXELS` per frame, or :data:`MAX_VOLUME_VOXELS` per file,
are refused from their header, before anything is decoded (a "decompression bomb": a 20,000 x
20,000 PNG of zeros is 400 KB on disk and 1.6 GB as ``float32``).

Intensities end in ``[0, 1]``:

* 8-bit PNG/JPEG/BMP/TIFF: ``value / 255``. Deeper images (16-bit, 32-bit, float TIFF/PNG):
  per-image min-max, because such files often hold 10 to 14 significant bits and a division by
  the type's range would leave them nearly black.
* DICOM, greyscale: stored values -> modality LUT (RescaleSlope/Intercept or a Modality LUT)
  -> a VOI LUT Sequence, scaled by the range of the LUT's output, or else the first Window
  Center/Width (``LINEAR``, ``LINEAR_EXACT`` or ``SIGMOID``, DICOM PS3.3 C.11.2.1.2), scaled
  so that the window spans ``[0, 1]``; without either, min-max over all frames.
  ``MONOCHROME1`` is inverted after that (``1 - x``), so bright is dense everywhere. Only the
  top-level VOI module is read (per-frame windows of enhanced multi-frame files are not).
  Colour DICOM (``SamplesPerPixel == 3``, YBR converted to RGB by pydicom):
  ``value / (2**BitsStored - 1)``. Compressed transfer syntaxes decode where pydicom has a
  plugin (Pillow covers JPEG baseline and JPEG 2000); otherwise the reason names the one to install.
* NIfTI: robust min-max between the 0.5th and 99.5th percentiles of the whole volume.

Shapes: 2-D files give ``(C, H, W)`` with ``C`` 1 (greyscale) or 3 (RGB; RGBA and palette
images become RGB, the alpha channel is dropped). Volumetric files depend on ``nifti_mode``:
``"slice"`` gives the middle slice along the last NIfTI axis (the middle frame of a multi-frame
DICOM) as ``(C, H, W)``; ``"volume"`` gives the whole volume as ``(C, D, H, W)``, ``D`` being the
last NIfTI axis (the frame axis of a DICOM). NIfTI arrays keep the stored voxel order (no
reorientation); a 4-D NIfTI contributes its first volume.

Decoding at the size the model needs: with ``min_size``, a JPEG is decoded by libjpeg at the
smallest DCT scale (1/8, 1/4, 1/2 or 1) at which both sides are still at least ``min_size``
(``PIL.Image.draft``), so a 256 px photograph wanted at 32 px is decoded straight to 32 px
from its 8 x 8 blocks' DC coefficients, about ten times faster than a full decode. Each output
pixel of a reduced decode is the mean of its ``s x s`` block (a box filter) where a full decode
followed by an antialiased resize weighs a slightly wider neighbourhood: the two differ by about
1 % of the intensity range on average (``tests/data/test_decode_at_size.py`` states the bound).
Other formats are decoded whole; the caller resizes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
from PIL import Image, UnidentifiedImageError
from pydicom.errors import InvalidDicomError
from pydicom.pixels import get_decoder

from monai_debclust.data.intensity import DICOM_ERRORS, dicom_grey, min_max, rescale
from monai_debclust.data.skips import ImageReadError, decoder_guard

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_IMAGE_PIXELS",
    "MAX_VOLUME_VOXELS",
    "NIFTI_MODES",
    "ImageReadError",  # defined in skips, where the other read errors are classified
    "image_format",
    "read_image",
]

_PIL_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}
_DICOM_SUFFIXES = (".dcm", ".dicom")
_NIFTI_SUFFIXES = (".nii", ".nii.gz")

#: File name endings read as images (matched case-insensitively).
IMAGE_EXTENSIONS: tuple[str, ...] = (*_PIL_FORMATS, *_DICOM_SUFFIXES, *_NIFTI_SUFFIXES)
NIFTI_MODES = ("slice", "volume")

#: Pixels of one 2-D image or frame above which a file is refused unread: Pillow's own default
#: (``PIL.Image.MAX_IMAGE_PIXELS``, about 9,459 x 9,459), 1 GiB as ``float32`` RGB. The largest
#: fundus and dermoscopy photographs have about 24 million.
MAX_IMAGE_PIXELS = 89_478_485
#: Voxels of a whole NIfTI volume or multi-frame DICOM above which it is refused unread: 2**28,
#: 1 GiB as ``float32`` (a 512 x 512 x 1024 CT).
MAX_VOLUME_VOXELS = 2**28

_GZIP_MAGIC = b"\x1f\x8b"


def _has_dicom_preamble(path: Path) -> bool:
    if not path.is_file():  # opening a named pipe would wait for a writer
        return False
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return head[128:132] == b"DICM"


def image_format(path: str | os.PathLike) -> str | None:
    """``"PNG"``, ``"JPEG"``, ``"BMP"``, ``"TIFF"``, ``"DICOM"``, ``"NIfTI"`` or ``None`` for a non-image.

    The format is told by the file name's ending, case-insensitively. A file without an
    extension, or with a numeric one as in DICOM files named by their UID
    (``1.2.840.113619.2.55.3``), is read as DICOM when it carries ``DICM`` at byte 128.
    """
    path = Path(path)
    name = path.name.lower()
    if name.endswith(_NIFTI_SUFFIXES):
        return "NIfTI"
    suffix = Path(name).suffix
    if suffix in _DICOM_SUFFIXES:
        return "DICOM"
    if suffix in _PIL_FORMATS:
        return _PIL_FORMATS[suffix]
    if (not suffix or suffix[1:].isdigit()) and _has_dicom_preamble(path):
        return "DICOM"
    return None


def _check_size(path: Path, shape: tuple[int, ...], pixels: int, voxels: int) -> None:
    """Refuse a file whose header declares more than :data:`MAX_IMAGE_PIXELS` per frame or :data:`MAX_VOLUME_VOXELS`."""
    if pixels > MAX_IMAGE_PIXELS or voxels > MAX_VOLUME_VOXELS:
        size = " x ".join(str(n) for n in shape)
        if pixels > MAX_IMAGE_PIXELS:
            limit = f"{MAX_IMAGE_PIXELS:,} pixels per frame"
        else:
            limit = f"{MAX_VOLUME_VOXELS:,} voxels"
        raise ImageReadError(path, f"decompression bomb: {size} is more than the limit of {limit}")


def _volume_output(volume: np.ndarray, nifti_mode: str) -> np.ndarray:
    """``(C, D, H, W)`` -> the middle slice ``(C, H, W)`` or the volume itself."""
    return volume[:, volume.shape[1] // 2] if nifti_mode == "slice" else volume


# ---------------------------------------------------------------------------------- Pillow


def _pil_mode(mode: str) -> str:
    """The mode a Pillow image is converted to before reading its pixels: ``L``, ``RGB`` or its own (deep grey)."""
    if mode in ("1", "L", "LA"):
        return "L"
    if mode.startswith("I") or mode == "F":  # 16/32-bit integer or float greyscale
        return mode
    return "RGB"  # RGB, RGBA, palette, CMYK, YCbCr, ...


def _pil_pixels_to_array(pixels: np.ndarray, keep_8bit: bool = False) -> np.ndarray:
    """Decoded pixels as ``(C, H, W)`` float32: ``L``/``RGB`` (``uint8``) ``/ 255`` (kept as ``uint8`` with
    ``keep_8bit``), deeper greyscale min-max."""
    if pixels.dtype == np.uint8:
        array = pixels if keep_8bit else pixels.astype(np.float32) / 255.0
    else:
        array = min_max(pixels)
    return array[None] if array.ndim == 2 else np.ascontiguousarray(array.transpose(2, 0, 1))


def _read_pil(path: Path, label: str, min_size: int | None, keep_8bit: bool) -> np.ndarray:
    with decoder_guard(path, f"truncated or corrupt {label}"):
        try:
            with warnings.catch_warnings():  # Pillow warns above its limit; _check_size refuses
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image = Image.open(path)
        except UnidentifiedImageError as exc:
            raise ImageReadError(path, f"not a {label} image Pillow can read") from exc
        except Image.DecompressionBombError as exc:  # Pillow refuses twice its limit while opening
            raise ImageReadError(path, f"decompression bomb: {exc}") from exc
    with image:
        _check_size(path, image.size, image.width * image.height, image.width * image.height)
        with decoder_guard(path, f"truncated or corrupt {label}"):
            if min_size is not None and image.format == "JPEG":
                image.draft(None, (min_size, min_size))  # a DCT scale keeping both sides >= min_size
            image.load()  # Image.open only parses the header; the pixels are decoded here
        mode = _pil_mode(image.mode)
        with decoder_guard(path, f"truncated or corrupt {label}"):
            pixels = np.asarray(image if image.mode == mode else image.convert(mode))
    return _pil_pixels_to_array(pixels, keep_8bit)


# ----------------------------------------------------------------------------------- DICOM


def _decoder_hint(uid) -> str:
    plugin = "pylibjpeg-openjpeg" if "2000" in uid.name else "pylibjpeg-libjpeg"
    return f"no decoder for compressed DICOM: {uid.name} needs a decoder plugin: pip install pylibjpeg {plugin}"


#: Elements pydicom needs to decode pixels (it raises ``AttributeError`` without them).
_DICOM_PIXEL_ELEMENTS = ("Rows", "Columns", "SamplesPerPixel", "PhotometricInterpretation", "BitsAllocated")
_DICOM_INTEGER_ELEMENTS = ("BitsStored", "PixelRepresentation")


@contextlib.contextmanager
def _quiet_pydicom() -> Iterator[None]:
    """Within the block pydicom's warnings and log records are dropped: they quote element values (a
    PatientID, a date) that must reach no log (see :mod:`~monai_debclust.curation.dicom_columns`)."""
    logger = logging.getLogger("pydicom")
    drop = logging.Filter("no record passes a filter named so")
    logger.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.removeFilter(drop)


def _read_dicom(path: Path, nifti_mode: str, on_header: Callable[[pydicom.Dataset], None] | None) -> np.ndarray:
    with decoder_guard(path, "truncated or corrupt DICOM header", quote=False):
        try:
            ds = pydicom.dcmread(path)
        except InvalidDicomError as exc:
            raise ImageReadError(path, "not a DICOM file: no 'DICM' preamble or file meta header") from exc
    if on_header is not None:
        on_header(ds)
    if not any(key in ds for key in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise ImageReadError(path, "DICOM has no pixel data")
    # values are parsed lazily
    with decoder_guard(path, "truncated or corrupt DICOM header", also=DICOM_ERRORS, quote=False):
        required = _DICOM_PIXEL_ELEMENTS + (_DICOM_INTEGER_ELEMENTS if "PixelData" in ds else ())
        missing = [keyword for keyword in required if ds.get(keyword) in (None, "")]
        uid = ds.file_meta.get("TransferSyntaxUID")
        if uid is None:
            missing.append("TransferSyntaxUID")
        if missing:
            raise ImageReadError(path, f"DICOM lacks required elements: {', '.join(missing)}")
        samples, rows, columns = int(ds.SamplesPerPixel), int(ds.Rows), int(ds.Columns)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        bits_stored = int(ds.BitsStored) if samples > 1 else None
    _check_size(path, (frames, rows, columns), rows * columns, frames * rows * columns)
    with decoder_guard(path, "truncated or corrupt DICOM pixel data", also=DICOM_ERRORS, quote=False):
        if uid.is_compressed and not get_decoder(uid).is_available:
            raise ImageReadError(path, _decoder_hint(uid))
        stored = ds.pixel_array  # decodes every frame
    if stored.size != frames * rows * columns * samples:
        raise ImageReadError(path, f"truncated or corrupt DICOM pixel data: {stored.size} values where the header "
                                   f"declares {frames} x {rows} x {columns} x {samples}")
    stored = stored.reshape(frames, rows, columns, samples)
    image = dicom_grey(path, ds, stored) if samples == 1 else rescale(stored, 0, 2**bits_stored - 1)
    volume = np.ascontiguousarray(image.transpose(3, 0, 1, 2))  # (C, frames, H, W)
    return _volume_output(volume, nifti_mode) if frames > 1 else volume[:, 0]


# ----------------------------------------------------------------------------------- NIfTI


def _read_nifti(path: Path, nifti_mode: str) -> np.ndarray:
    if path.name.lower().endswith(".gz"):
        with decoder_guard(path, "unreadable file"), open(path, "rb") as handle:
            if handle.read(2) != _GZIP_MAGIC:
                raise ImageReadError(path, "not a gzip file")
    with decoder_guard(path, "not a NIfTI file"):
        image = nib.load(path)
        shape = tuple(int(n) for n in image.shape)
    _check_size(path, shape, int(np.prod(shape[:2])), int(np.prod(shape)))
    with decoder_guard(path, "truncated or corrupt NIfTI"):
        volume = image.get_fdata(dtype=np.float32)  # nibabel is lazy: this reads every voxel
    if volume.size == 0:
        raise ImageReadError(path, f"NIfTI has no voxels: shape {volume.shape}")
    if volume.ndim > 3:
        volume = volume[(..., *([0] * (volume.ndim - 3)))]
    volume = volume.reshape(volume.shape + (1,) * (3 - volume.ndim))
    low, high = np.nanpercentile(volume, (0.5, 99.5))
    volume = np.moveaxis(rescale(volume, low, high), -1, 0)[None]  # (1, D, H, W), D = last axis
    return np.ascontiguousarray(_volume_output(volume, nifti_mode))


# ------------------------------------------------------------------------------------ entry


def read_image(path: str | os.PathLike, nifti_mode: str = "slice", min_size: int | None = None,
               on_dicom_header: Callable[[pydicom.Dataset], None] | None = None,
               keep_8bit: bool = False) -> np.ndarray:
    """Decode one file fully to a float32 array in ``[0, 1]``, channel first.

    Args:
        path: a PNG, JPEG, BMP, TIFF, DICOM or NIfTI file (see :func:`image_format`).
        nifti_mode: ``"slice"`` for ``(C, H, W)`` from every file (the middle slice of a
            volume), ``"volume"`` for ``(C, D, H, W)`` from NIfTI and multi-frame DICOM files.
        min_size: the side the caller will resize to; a JPEG is then decoded at the smallest
            DCT scale keeping both sides at least this large (see the module's docstring).
            ``None`` decodes every format at full size.
        on_dicom_header: called with a DICOM file's parsed dataset before its pixels are decoded
            (to read its tags in the same call, e.g. :func:`~monai_debclust.curation.dicom_columns`).
        keep_8bit: an 8-bit PNG/JPEG/BMP/TIFF comes back as its ``uint8`` pixels (``[0, 255]``),
            saving two conversions for a caller that wants 8-bit pixels anyway.

    Raises:
        ImageReadError: for a missing, empty, truncated, corrupt, pixel-less, oversized or
            undecodable file, a folder, a broken or looping symbolic link, or a file of an
            unsupported type; ``.reason`` says which, ``.transient`` whether to try it again later.
    """
    if nifti_mode not in NIFTI_MODES:
        raise ValueError(f"nifti_mode must be one of {NIFTI_MODES}, got {nifti_mode!r}.")
    path = Path(path)
    with decoder_guard(path, "cannot open file"):
        status = os.stat(path)
    if stat.S_ISDIR(status.st_mode):
        raise ImageReadError(path, "a folder, not a file")
    if not stat.S_ISREG(status.st_mode):  # a named pipe or a device would block or never end
        raise ImageReadError(path, "not a regular file: a pipe, socket or device")
    if status.st_size == 0:
        raise ImageReadError(path, "empty file")
    kind = image_format(path)
    if kind is None:
        raise ImageReadError(path, f"not an image file type: supported are {', '.join(IMAGE_EXTENSIONS)}")
    if kind == "DICOM":
        with _quiet_pydicom():
            return _read_dicom(path, nifti_mode, on_dicom_header)
    if kind == "NIfTI":
        return _read_nifti(path, nifti_mode)
    return _read_pil(path, kind, min_size, keep_8bit)
