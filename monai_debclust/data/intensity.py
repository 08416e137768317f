"""Intensities to ``[0, 1]``: a range, min-max, and DICOM windowing (the readers' conversions after decoding)."""

from __future__ import annotations

import numpy as np

__all__ = ["min_max", "rescale", "window"]


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
