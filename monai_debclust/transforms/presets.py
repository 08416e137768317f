"""Named augmentation recipes for the two-view transform: ``default``, ``fundus``, ``dermoscopy``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = ["ViewPreset", "PRESETS", "get_preset"]


@dataclass(frozen=True)
class ViewPreset:
    """The settings of one view's augmentation chain (see :class:`~monai_debclust.transforms.RandView`).

    The chain is: random resized crop -> flips -> rotation by 90 degree multiples -> colour jitter
    -> grayscale -> Gaussian blur -> (optional) field-of-view mask. The defaults are the SimCLR
    recipe (Chen et al., 2020).

    Attributes:
        name: the preset's name, used in error messages.
        crop_scale: range of the crop's area fraction.
        crop_ratio: range of the crop's aspect ratio ``w / h``.
        flip_axes: spatial axes flipped, each independently with ``flip_prob``; ``-1`` is the
            horizontal (left-right) flip, ``-2`` the vertical one.
        flip_prob: probability of each flip.
        rotate90_prob: probability of rotating by 90, 180 or 270 degrees (each equally likely) in
            the ``(H, W)`` plane; ``0.75`` makes all four orientations equally likely. Needs square images.
        brightness: colour-jitter brightness strength.
        contrast: colour-jitter contrast strength.
        saturation: colour-jitter saturation strength (RGB only).
        hue: colour-jitter largest hue shift in turns (RGB only).
        jitter_prob: probability of colour jitter.
        grayscale_prob: probability of grayscale conversion (RGB only).
        blur_prob: probability of Gaussian blur.
        blur_sigma: range of the blur's sigma in pixels.
        blur_kernel_fraction: blur kernel length as a fraction of the image side.
        fov_threshold: when set, the field of view is the set of pixels of the plain image whose
            largest channel exceeds this value; it follows the crop and flips and everything
            outside it is set to 0 at the end of the chain.
        spatial_dims: the image dimensionalities (2 and/or 3) the preset accepts.
    """

    name: str
    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_axes: tuple[int, ...] = (-1,)
    flip_prob: float = 0.5
    rotate90_prob: float = 0.0
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1
    jitter_prob: float = 0.8
    grayscale_prob: float = 0.2
    blur_prob: float = 0.5
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    blur_kernel_fraction: float = 0.1
    fov_threshold: float | None = None
    spatial_dims: tuple[int, ...] = (2, 3)


#: ``default``: SimCLR, for 2-D and 3-D; in 3-D the crop is volumetric, the flip is left-right and
#: colour jitter reduces to brightness and contrast for grey volumes.
#: ``fundus``: 2-D colour fundus photographs. Left-right flip only (a vertical flip swaps superior
#: and inferior retina, which is not anatomy-preserving), a milder hue shift (0.02 turns, about
#: 7 degrees: the SimCLR 0.1 turns the yellow optic disc green and the orange retina olive, colours
#: no fundus camera produces), and the black surround outside the circular field of view is kept
#: black (colour jitter and blur would otherwise lift it); the field of view is where the plain
#: image's largest channel exceeds 0.04 (about 10/255, above JPEG noise in the surround).
#: ``dermoscopy``: 2-D dermoscopy; a skin lesion has no canonical orientation, so every symmetry
#: of the square is label-preserving: a left-right flip (p = 0.5) and a uniformly drawn rotation by
#: 0, 90, 180 or 270 degrees draw uniformly from all 8 of them, the vertical flip (left-right flip
#: then 180 degrees) and both transposes included. A separate vertical flip would add nothing to
#: that distribution, only another pass over the image.
PRESETS: dict[str, ViewPreset] = {
    "default": ViewPreset("default"),
    "fundus": ViewPreset("fundus", hue=0.02, fov_threshold=0.04, spatial_dims=(2,)),
    "dermoscopy": ViewPreset("dermoscopy", rotate90_prob=0.75, spatial_dims=(2,)),
}


def get_preset(preset: str | ViewPreset = "default", **overrides: Any) -> ViewPreset:
    """A preset by name (or as given), with some of its fields replaced.

    Args:
        preset: a key of :data:`PRESETS` or a :class:`ViewPreset`.
        overrides: :class:`ViewPreset` fields to replace, e.g. ``blur_prob=0.0``.

    Raises:
        ValueError: for an unknown preset name or field.
    """
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}.")
        preset = PRESETS[preset]
    fields = {field.name for field in dataclasses.fields(ViewPreset)} - {"name"}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown preset field(s) {unknown}; choose from {sorted(fields)}.")
    return dataclasses.replace(preset, **overrides)
