"""Image quality scores and flags after cleanvision's definitions: ``dark``, ``light``, ``blurry``, ``low_information``.

Each flag compares one score in ``[0, 1]`` with a threshold; an image is flagged when its score
is *below* the threshold (cleanvision's convention, github.com/cleanlab/cleanvision, whose
default thresholds these are). Scores are computed on the working-size decode of an image
(``(C, H, W)`` float in ``[0, 1]``, the same pixels the thumbnail and the model's input come from):

* brightness of a pixel: the perceived brightness ``sqrt(0.241 R^2 + 0.691 G^2 + 0.068 B^2)``
  (the grey value for one channel);
* ``dark``: the 99th percentile of the brightness (a dark image has no bright pixel), flagged
  below 0.37;
* ``light``: ``1 -`` the 5th percentile of the brightness (a light image has no dark pixel),
  flagged below 0.05;
* ``blurry``: ``1 - exp(-0.01 var(E))``, ``E`` the edge response (PIL's ``FIND_EDGES``
  Laplacian kernel) of the grey image reduced to at most 64 px a side, in 0-255 grey levels,
  flagged below 0.29 (an edge variance under ~34);
* ``low_information``: the Shannon entropy (bits) of the 256-bin grey histogram divided by 10,
  flagged below 0.3 (a near-constant image: fewer than ~8 equally used grey levels).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, ImageFilter

__all__ = ["BLUR_SIZE", "QUALITY_FLAGS", "QualityThresholds", "quality_flags", "quality_scores"]

#: The flags, in the order of the score vector and of the ``assignments.csv`` columns.
QUALITY_FLAGS = ("dark", "light", "blurry", "low_information")
#: Longest side of the grey image the blur score is computed on (cleanvision's resolution).
BLUR_SIZE = 64
_BRIGHTNESS_WEIGHTS = np.array([0.241, 0.691, 0.068], dtype=np.float32)


@dataclass(frozen=True)
class QualityThresholds:
    """The score below which each flag is raised (see the module docstring)."""

    dark: float = 0.37
    light: float = 0.05
    blurry: float = 0.29
    low_information: float = 0.3

    @classmethod
    def from_settings(cls, settings: Mapping[str, float] | None) -> QualityThresholds:
        """Thresholds from a settings mapping (missing keys keep their defaults); unknown keys are an error."""
        settings = dict(settings or {})
        unknown = sorted(set(settings) - set(QUALITY_FLAGS))
        if unknown:
            raise ValueError(f"unknown quality threshold(s) {', '.join(unknown)}: the flags are {QUALITY_FLAGS}.")
        return cls(**{key: float(value) for key, value in settings.items()})

    def as_array(self) -> np.ndarray:
        return np.array([asdict(self)[flag] for flag in QUALITY_FLAGS], dtype=np.float32)


def _brightness(image: np.ndarray) -> np.ndarray:
    """Perceived brightness of a ``(C, H, W)`` image, in the image's own scale."""
    if image.shape[0] == 3:
        return np.sqrt(np.einsum("c,chw->hw", _BRIGHTNESS_WEIGHTS, np.square(image, dtype=np.float32)))
    return image[0].astype(np.float32)


def quality_scores(image: np.ndarray) -> np.ndarray:
    """The four scores of a ``(C, H, W)`` image (``C`` 1 or 3), in :data:`QUALITY_FLAGS` order.

    Args:
        image: float in ``[0, 1]``, or ``uint8`` in ``[0, 255]``.

    Returns:
        ``(4,)`` float32.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"quality scores need a (C, H, W) image with C in 1, 3, got shape {image.shape}.")
    scale = 1.0 if image.dtype == np.uint8 else 255.0
    grey = np.clip(np.rint(_brightness(image) * scale), 0, 255).astype(np.uint8)
    histogram = np.bincount(grey.ravel(), minlength=256)
    cumulative = np.cumsum(histogram) / grey.size
    low, high = np.searchsorted(cumulative, (0.05, 0.99)) / 255.0  # the 5th and 99th percentiles
    picture = Image.fromarray(grey)
    entropy = picture.entropy()
    picture.thumbnail((BLUR_SIZE, BLUR_SIZE), Image.Resampling.BOX)
    edges = np.asarray(picture.filter(ImageFilter.FIND_EDGES), dtype=np.float32)[1:-1, 1:-1]  # the border is 0
    blur = 1.0 - np.exp(-0.01 * float(edges.var())) if edges.size else 0.0
    return np.array([high, 1.0 - low, blur, entropy / 10.0], dtype=np.float32)


def quality_flags(scores: np.ndarray, thresholds: QualityThresholds = QualityThresholds()) -> np.ndarray:
    """``(N, 4)`` 0/1 flags (``uint8``) of ``(N, 4)`` scores: a score below its threshold raises the flag."""
    return (np.asarray(scores, dtype=np.float32) < thresholds.as_array()).astype(np.uint8)
