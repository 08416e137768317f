"""Intensities to ``[0, 1]``: a range, min-max, DICOM windowing and a DICOM's whole grey pipeline (the readers'
conversions after decoding)."""

from __future__ import annotations

import os

import numpy as np
from pydicom.pixels import apply_modality_lut, apply_voi

from monai_debclust.data.skips import ImageReadError, decoder_guard

__all__ = ["DICOM_ERRORS", "dicom_grey", "min_max", "rescale", "window"]

#: pydicom also raises these for a corrupt file: ``NotImplementedError`` for an unknown value
#: representation or transfer syntax, ``RuntimeError`` when every decoder plugin failed.
DICOM_ERRORS = (NotImplementedError, RuntimeError)


def rescale(array: np.ndarray, low: float, high: float) -> np.ndarray:
    """``(array - low) / (high - low)`` clipped to ``[0, 1]`` as float32; zeros when the range is empty, NaN to 0."""
    span = float(high) - float(low)
    if not span > 0:
        return np.zeros(array.shape, dtype=np.float32)
    scaled = np.clip((array.astype(np.float32) - np.float32(low)) / np.float32(span), 0.0, 1.0)
    return np.nan_to_num(scaled, nan=0.0)


def min_max(array: np.ndarray) -> np.ndarray:
    """:func:`rescale` between the array's smallest and largest values (NaN ignored)."""
    return rescale(array, np.nanmin(array), np.nanmax(array))


def window(values: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """DICOM windowing (PS3.3 C.11.2.1.2) with the output range ``[0, 1]``.

    ``LINEAR``: ``((x - (c - 0.5)) / (w - 1) + 0.5)`` clipped, ``w >= 1`` (width 1 is a threshold
    at ``c - 0.5``); ``LINEAR_EXACT``: ``((x - c) / w + 0.5)`` clipped, ``w > 0``; ``SIGMOID``:
    ``1 / (1 + exp(-4 (x - c) / w))``, ``w > 0``. The caller checks ``function`` and ``width``
    (a file's window it cannot use is a bad file, not a bug).
    """
    if function == "SIGMOID":
        return (1.0 / (1.0 + np.exp(-4.0 * (values - center) / width))).astype(np.float32)
    if function == "LINEAR":
        center, width = center - 0.5, width - 1.0
        if width == 0:
            return (values > center).astype(np.float32)
    return rescale(values, center - width / 2, center + width / 2)


def _check_window(path: os.PathLike | str, width: float, function: str) -> None:
    """Refuse a window that :func:`~monai_debclust.data.intensity.window` cannot apply.

    An unknown VOI LUT Function, or a width out of the function's range, is the file's fault.
    """
    if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
        raise ImageReadError(path, f"invalid DICOM intensity transform: unsupported VOI LUT Function {function!r}")
    if not (width >= 1 if function == "LINEAR" else width > 0):
        raise ImageReadError(path, f"invalid DICOM intensity transform: window width {width:g} is out of range "
                                   f"for {function}")


def _first(ds, keyword: str) -> float:
    """The first value of a possibly multi-valued element (a file may store several windows)."""
    element = ds[keyword]
    return float(element.value[0] if element.VM > 1 else element.value)


def dicom_grey(path: os.PathLike | str, ds, stored: np.ndarray) -> np.ndarray:
    """Greyscale stored values -> modality LUT -> VOI LUT, window or min-max -> ``[0, 1]``; ``MONOCHROME1`` inverted."""
    with decoder_guard(path, "invalid DICOM intensity transform", also=DICOM_ERRORS, quote=False):
        values = apply_modality_lut(stored, ds)
        voi_lut = bool(ds.get("VOILUTSequence"))
        windowed = not voi_lut and "WindowCenter" in ds and "WindowWidth" in ds
        inverted = ds.PhotometricInterpretation == "MONOCHROME1"
    if voi_lut:
        indices = np.rint(values).astype(np.int64)
        with decoder_guard(path, "invalid DICOM intensity transform", also=DICOM_ERRORS, quote=False):
            # scaled by the range of the LUT's own output: many LUTs declare 16 bits and use 12
            entries, first_mapped = ds.VOILUTSequence[0].LUTDescriptor[:2]
            lut_output = apply_voi(np.arange(first_mapped, first_mapped + (entries or 2**16)), ds)
            looked_up = apply_voi(indices, ds)
        scaled = rescale(looked_up, lut_output.min(), lut_output.max())
    elif windowed:
        with decoder_guard(path, "invalid DICOM intensity transform", also=DICOM_ERRORS, quote=False):
            function = str(ds.get("VOILUTFunction", "LINEAR")).upper()
            center, width = _first(ds, "WindowCenter"), _first(ds, "WindowWidth")
        _check_window(path, width, function)
        scaled = window(values.astype(np.float64), center, width, function)
    else:
        scaled = min_max(values)
    return 1.0 - scaled if inverted else scaled
