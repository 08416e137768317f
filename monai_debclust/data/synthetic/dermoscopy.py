"""Synthetic dermoscopy images of the seven ISIC 2018 (HAM10000) classes, long-tailed.

Each image is skin (tone, colour cast, mottling, fine texture, sometimes hairs and the dark
corners of the dermatoscope) with one lesion. The lesion's outline is an ellipse perturbed by a
radial Fourier series, ``r(theta) = R (1 + sum_k a_k cos(k theta + phi_k))``; its colour runs from
a rim to an off-centre core colour and carries the structures dermoscopy reads. The classes
differ in size, border regularity and sharpness, colours and structures, each drawn from ranges
so that classes overlap in any single cue:

* ``NV`` naevus: small to medium, round, regular, light to mid brown, regular network.
* ``MEL`` melanoma: large, irregular, asymmetric, dark brown to black, blue-grey veil, white
  regression, black blotches and irregular dots, atypical network.
* ``BCC`` basal cell carcinoma: pale pink, translucent, blue-grey ovoid nests, arborising vessels,
  sometimes an ulcer.
* ``AKIEC`` actinic keratosis / intraepithelial carcinoma: pink-red, diffuse border, white scale,
  dotted vessels, white follicle openings.
* ``BKL`` benign keratosis: tan, sharply demarcated "stuck-on", mottled waxy surface, milia-like
  cysts and comedo-like openings.
* ``DF`` dermatofibroma: small, light brown peripheral network around a central white scar.
* ``VASC`` vascular lesion: red to purple, sharp, dark red lacunae.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from monai_debclust.data.longtail import longtail_class_counts
from monai_debclust.data.synthetic.cohort import write_synthetic_cohort
from monai_debclust.data.synthetic.drawing import (
    blend,
    branching_curves,
    draw_blobs,
    draw_curves,
    random_walk,
    smooth_noise,
    soft_step,
    unit_grid,
)

__all__ = [
    "DERMOSCOPY_CLASSES",
    "DERMOSCOPY_FREQUENCY_ORDER",
    "DERMOSCOPY_COUNTS",
    "render_dermoscopy",
    "dermoscopy_counts",
    "make_dermoscopy_cohort",
]

DERMOSCOPY_CLASSES = ("MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC")
"""The ISIC 2018 task 3 classes in the challenge's column order."""

DERMOSCOPY_FREQUENCY_ORDER = ("NV", "MEL", "BKL", "BCC", "AKIEC", "VASC", "DF")
"""The classes from the most to the least frequent in HAM10000."""

DERMOSCOPY_COUNTS: Mapping[str, int] = MappingProxyType(
    {"NV": 120, "MEL": 24, "BKL": 22, "BCC": 10, "AKIEC": 7, "VASC": 3, "DF": 3}
)
"""Default cohort: HAM10000's class proportions (6705:1113:1099:514:327:142:115) scaled to
120 naevi, rounded up a little in the smallest classes; imbalance ratio 40."""

RGB = tuple[float, float, float]


@dataclass(frozen=True)
class _Dots:
    """Round structures (dots, globules, cysts, nests, lacunae, a scar) inside the lesion."""

    probability: float
    count: tuple[int, int]
    sigma: float  # blob deviation, in lesion radii
    spread: float  # centres lie within this many lesion radii of the lesion centre
    colour: RGB
    opacity: float


@dataclass(frozen=True)
class _Patches:
    """Irregular areas (veil, regression, blotches, scale) where smooth noise exceeds a level."""

    probability: float
    colour: RGB
    threshold: float  # in standard deviations of the noise: higher covers less
    cells: int
    opacity: float


@dataclass(frozen=True)
class _LesionStyle:
    radius: tuple[float, float]  # mean radius, unit lengths
    aspect: tuple[float, float]
    irregularity: tuple[float, float]  # deviation of the radial Fourier amplitudes
    border: tuple[float, float]  # width of the border ramp, in lesion radii
    eccentricity: tuple[float, float]  # offset of the colour core, in lesion radii
    rim: RGB
    core: RGB
    mottle: float  # relative amplitude of the colour texture
    network: float  # probability of a pigment network
    vessels: float  # probability of arborising vessels
    patches: tuple[_Patches, ...] = ()
    dots: tuple[_Dots, ...] = ()


_WHITE = (0.96, 0.92, 0.88)

_STYLES: Mapping[str, _LesionStyle] = MappingProxyType(
    {
        "NV": _LesionStyle(
            radius=(0.38, 0.65), aspect=(1.0, 1.35), irregularity=(0.02, 0.06), border=(0.1, 0.3),
            eccentricity=(0.0, 0.1), rim=(0.68, 0.47, 0.33), core=(0.45, 0.28, 0.18), mottle=0.06,
            network=0.6, vessels=0.0,
            dots=(_Dots(0.3, (3, 10), 0.05, 0.8, (0.35, 0.2, 0.12), 0.7),),
        ),
        "MEL": _LesionStyle(
            radius=(0.45, 0.72), aspect=(1.0, 1.5), irregularity=(0.1, 0.22), border=(0.08, 0.3),
            eccentricity=(0.2, 0.5), rim=(0.55, 0.37, 0.27), core=(0.24, 0.14, 0.11), mottle=0.15,
            network=0.5, vessels=0.0,
            patches=(
                _Patches(0.6, (0.42, 0.45, 0.56), 0.3, 5, 0.7),  # blue-grey veil
                _Patches(0.4, (0.9, 0.85, 0.85), 1.0, 7, 0.7),  # regression
                _Patches(0.6, (0.12, 0.08, 0.07), 0.8, 6, 0.8),  # blotch
            ),
            dots=(_Dots(0.7, (5, 25), 0.025, 1.0, (0.1, 0.07, 0.06), 0.9),),
        ),
        "BCC": _LesionStyle(
            radius=(0.3, 0.55), aspect=(1.0, 1.4), irregularity=(0.06, 0.14), border=(0.15, 0.35),
            eccentricity=(0.0, 0.2), rim=(0.9, 0.66, 0.64), core=(0.85, 0.56, 0.57), mottle=0.05,
            network=0.0, vessels=0.9,
            dots=(
                _Dots(0.7, (2, 6), 0.12, 0.7, (0.38, 0.4, 0.52), 0.75),  # ovoid nests
                _Dots(0.3, (1, 2), 0.15, 0.4, (0.45, 0.12, 0.1), 0.8),  # ulcer
            ),
        ),
        "AKIEC": _LesionStyle(
            radius=(0.4, 0.7), aspect=(1.0, 1.5), irregularity=(0.08, 0.16), border=(0.3, 0.6),
            eccentricity=(0.0, 0.3), rim=(0.9, 0.6, 0.56), core=(0.82, 0.45, 0.42), mottle=0.12,
            network=0.0, vessels=0.0,
            patches=(_Patches(0.8, _WHITE, 0.6, 10, 0.8),),  # scale
            dots=(
                _Dots(0.7, (15, 40), 0.018, 1.0, (0.7, 0.15, 0.18), 0.8),  # dotted vessels
                _Dots(0.5, (5, 15), 0.04, 0.9, _WHITE, 0.8),  # follicle openings
            ),
        ),
        "BKL": _LesionStyle(
            radius=(0.38, 0.65), aspect=(1.0, 1.5), irregularity=(0.08, 0.16), border=(0.04, 0.1),
            eccentricity=(0.0, 0.3), rim=(0.7, 0.52, 0.38), core=(0.55, 0.38, 0.26), mottle=0.2,
            network=0.15, vessels=0.0,
            patches=(_Patches(0.5, (0.78, 0.62, 0.5), 0.5, 12, 0.5),),  # cerebriform ridges
            dots=(
                _Dots(0.7, (3, 12), 0.035, 0.9, (0.97, 0.94, 0.88), 0.9),  # milia-like cysts
                _Dots(0.5, (3, 10), 0.03, 0.9, (0.3, 0.2, 0.13), 0.8),  # comedo-like openings
            ),
        ),
        "DF": _LesionStyle(
            radius=(0.2, 0.34), aspect=(1.0, 1.25), irregularity=(0.02, 0.06), border=(0.2, 0.4),
            eccentricity=(0.0, 0.1), rim=(0.66, 0.48, 0.38), core=(0.72, 0.52, 0.44), mottle=0.05,
            network=0.9, vessels=0.0,
            dots=(_Dots(0.95, (1, 1), 0.3, 0.2, (0.95, 0.9, 0.88), 0.9),),  # central scar
        ),
        "VASC": _LesionStyle(
            radius=(0.2, 0.42), aspect=(1.0, 1.3), irregularity=(0.03, 0.08), border=(0.04, 0.12),
            eccentricity=(0.0, 0.15), rim=(0.78, 0.18, 0.3), core=(0.6, 0.1, 0.25), mottle=0.08,
            network=0.0, vessels=0.0,
            dots=(_Dots(0.9, (6, 18), 0.09, 0.8, (0.42, 0.08, 0.2), 0.75),),  # lacunae
        ),
    }
)


def _jitter(rng: np.random.Generator, colour: RGB, spread: float) -> np.ndarray:
    return np.clip(np.asarray(colour, np.float32) * rng.normal(1.0, spread, 3), 0.0, 1.0).astype(np.float32)


def _hairs(rng: np.random.Generator, size: int) -> np.ndarray:
    """Coverage of one to six long, gently curved dark hairs crossing the image."""
    curves = []
    for _ in range(int(rng.integers(1, 7))):
        start = rng.uniform(-1.2, 1.2, 2)
        heading = np.arctan2(-start[1], -start[0]) + rng.normal(0.0, 0.8)  # roughly across the image
        points = random_walk(rng, start, heading, rng.uniform(1.0, 2.5), 1.0 / size, rng.normal(0.0, 0.6), 0.3)
        curves.append((points, np.full(len(points), rng.uniform(0.012, 0.025), np.float32)))
    return draw_curves(size, curves)


class _Outline(NamedTuple):
    centre: np.ndarray  # unit (x, y)
    radius: float  # mean radius, unit lengths
    along: np.ndarray  # per-pixel coordinates in the lesion's rotated, aspect-corrected frame
    across: np.ndarray
    rho: np.ndarray  # per-pixel distance from the centre in units of the border radius there
    mask: np.ndarray  # lesion coverage in [0, 1]


def _outline(rng: np.random.Generator, style: _LesionStyle, y: np.ndarray, x: np.ndarray) -> _Outline:
    """A rotated ellipse whose radius is modulated by harmonics 2 to 7 of random phase, with
    amplitudes falling as ``1 / (k - 1)``, and a soft border ramp."""
    radius = rng.uniform(*style.radius)
    centre = rng.normal(0.0, 0.08, 2)
    rotation = rng.uniform(0.0, np.pi)
    stretch = np.sqrt(rng.uniform(*style.aspect))
    cos, sin = np.cos(rotation), np.sin(rotation)
    along = ((x - centre[0]) * cos + (y - centre[1]) * sin) / stretch
    across = (-(x - centre[0]) * sin + (y - centre[1]) * cos) * stretch
    theta = np.arctan2(across, along)[..., None]
    harmonics = np.arange(2, 8)
    amplitudes = rng.normal(0.0, rng.uniform(*style.irregularity), harmonics.size) / (harmonics - 1)
    phases = rng.uniform(0.0, 2 * np.pi, harmonics.size)
    boundary = np.clip(1.0 + (amplitudes * np.cos(harmonics * theta + phases)).sum(axis=-1), 0.4, None)
    rho = np.hypot(along, across) / (radius * boundary)
    return _Outline(centre, radius, along, across, rho, soft_step(rho - 1.0, rng.uniform(*style.border)))


def _paint_lesion(
    rng: np.random.Generator, image: np.ndarray, style: _LesionStyle, lesion: _Outline, y: np.ndarray, x: np.ndarray
) -> np.ndarray:
    """Lay the lesion on ``image``: base colour, network, patches, dots and vessels."""
    size = image.shape[0]
    centre, radius, mask = lesion.centre, lesion.radius, lesion.mask
    # base colour: rim to an off-centre core, with texture
    brightness = rng.uniform(0.85, 1.1)
    rim, core = _jitter(rng, style.rim, 0.04) * brightness, _jitter(rng, style.core, 0.04) * brightness
    core_at = centre + rng.uniform(*style.eccentricity) * radius * rng.normal(0.0, 1.0, 2) / np.sqrt(2)
    depth = np.clip(1.0 - np.hypot(x - core_at[0], y - core_at[1]) / radius, 0.0, 1.0)[..., None]
    colour = (rim + (core - rim) * depth) * (1.0 + style.mottle * smooth_noise(rng, size, 10))[..., None]
    image = blend(image, mask, colour)

    if rng.random() < style.network:  # a warped grid of darker lines, fading towards the border
        frequency = rng.uniform(6.0, 9.0)
        u = lesion.along * frequency + 1.5 * smooth_noise(rng, size, 8)
        v = lesion.across * frequency + 1.5 * smooth_noise(rng, size, 8)
        width = rng.uniform(0.25, 0.45)
        lines = np.maximum(np.exp(-np.sin(np.pi * u) ** 2 / width**2), np.exp(-np.sin(np.pi * v) ** 2 / width**2))
        fade = np.clip(1.3 - lesion.rho, 0.0, 1.0)
        image = blend(image, rng.uniform(0.25, 0.5) * lines * mask * fade, 0.7 * core)
    for patch in style.patches:
        if rng.random() < patch.probability:
            cover = np.clip(2.0 * (smooth_noise(rng, size, patch.cells) - patch.threshold), 0.0, 1.0)
            image = blend(image, patch.opacity * cover * mask, _jitter(rng, patch.colour, 0.05))
    for dots in style.dots:
        if rng.random() < dots.probability:
            n = int(rng.integers(dots.count[0], dots.count[1] + 1))
            at = rng.uniform(0.0, 2 * np.pi, n)
            reach = dots.spread * radius * np.sqrt(rng.uniform(0.0, 1.0, n))
            centres = centre + np.stack([reach * np.cos(at), reach * np.sin(at)], axis=1)
            blobs = draw_blobs(size, centres, dots.sigma * radius)
            image = blend(image, dots.opacity * blobs * mask, _jitter(rng, dots.colour, 0.05))
    if rng.random() < style.vessels:  # arborising: branching, sharply focused red vessels
        curves = []
        for _ in range(int(rng.integers(2, 5))):
            start = centre + rng.uniform(-0.6, 0.6, 2) * radius
            curves += branching_curves(
                rng, start, rng.uniform(0.0, 2 * np.pi), radius * rng.uniform(0.8, 1.4), rng.uniform(0.014, 0.022),
                1.0 / size, wiggle=3.0, branches=int(rng.integers(2, 5)), depth=2,
            )
        image = blend(image, 0.85 * draw_curves(size, curves) * mask, _jitter(rng, (0.75, 0.15, 0.2), 0.05))
    return image


def render_dermoscopy(label: str, image_size: int, rng: np.random.Generator) -> np.ndarray:
    """Draw one synthetic dermoscopy image of ISIC 2018 class ``label`` (see the module notes).

    Returns:
        ``(image_size, image_size, 3)`` uint8 RGB.
    """
    if label not in _STYLES:
        raise ValueError(f"unknown dermoscopy class {label!r}; expected one of {DERMOSCOPY_CLASSES}.")
    style = _STYLES[label]
    size = image_size
    y, x = unit_grid(size)

    skin = _jitter(rng, (rng.uniform(0.86, 0.96), rng.uniform(0.66, 0.78), rng.uniform(0.6, 0.72)), 0.04)
    tone = 1.0 + 0.05 * smooth_noise(rng, size, 5) + 0.03 * smooth_noise(rng, size, 40)
    image = _paint_lesion(rng, tone[..., None] * skin, style, _outline(rng, style, y, x), y, x)

    # hairs, the dermatoscope's dark corners, sensor noise
    if rng.random() < 0.25:
        image = blend(image, 0.85 * _hairs(rng, size), _jitter(rng, (0.18, 0.12, 0.1), 0.1))
    if rng.random() < 0.3:
        image *= soft_step(np.hypot(x, y) - rng.uniform(1.05, 1.35), 0.15)[..., None]
    image += rng.normal(0.0, rng.uniform(0.005, 0.02), image.shape)
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def dermoscopy_counts(n_max: int, imbalance_ratio: float) -> dict[str, int]:
    """Class sizes on the :func:`~monai_debclust.data.longtail.longtail_counts` profile, with the
    classes in HAM10000's order of frequency (``NV`` gets ``n_max``, ``DF`` ``n_max / ratio``)."""
    return longtail_class_counts(DERMOSCOPY_FREQUENCY_ORDER, n_max, imbalance_ratio)


def make_dermoscopy_cohort(
    out_dir: str | os.PathLike,
    counts: Mapping[str, int] = DERMOSCOPY_COUNTS,
    image_size: int = 128,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write a synthetic seven-class dermoscopy cohort (default :data:`DERMOSCOPY_COUNTS`).

    Layout: ``out_dir/<class>/<class>_<i:05d>.png`` and ``out_dir/labels.csv`` (``id,label``);
    see :func:`~monai_debclust.data.synthetic.cohort.write_synthetic_cohort` for atomicity and
    reproducibility.

    Args:
        out_dir: cohort folder, absent or empty (or an earlier cohort with ``overwrite``).
        counts: ``{class: n}`` over :data:`DERMOSCOPY_CLASSES`; see :func:`dermoscopy_counts`.
        image_size: side of the square images in pixels.
        seed: seed of the cohort; the same seed gives identical files.
        overwrite: replace an earlier cohort at ``out_dir``.

    Returns:
        ``out_dir``.
    """
    return write_synthetic_cohort(out_dir, counts, render_dermoscopy, DERMOSCOPY_CLASSES, image_size, seed, overwrite)
