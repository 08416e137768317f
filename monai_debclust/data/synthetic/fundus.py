"""Synthetic colour fundus photographs: glaucoma (large optic cup) versus normal.

Each image is a black frame around a circular field of view, an orange-red retina lit unevenly
(vignetting, low-frequency shading, sometimes a shadow), a darker macula, an optic disc about a
fifth of the field across on the left or right (either eye), and a vessel tree of arteries and
darker, wider veins that leave the disc in four arcades and branch. The class lives at the disc:
glaucoma has an excavated white cup filling most of the disc (cup-to-disc ratio ``0.75 - 0.92``),
a thin pale rim and a broad pale halo of peripapillary atrophy, widest on the temporal side;
normal has a small cup (``0.15 - 0.35``) in a thick pink-orange rim. The cue is large enough to
survive 32 px images, crops, flips and colour jitter, while everything else varies within each
class."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np

from monai_debclust.data.longtail import longtail_class_counts
from monai_debclust.data.synthetic.cohort import write_synthetic_cohort
from monai_debclust.data.synthetic.drawing import (
    Curve,
    blend,
    branching_curves,
    draw_curves,
    smooth_noise,
    soft_step,
    unit_grid,
)

__all__ = ["FUNDUS_CLASSES", "FUNDUS_COUNTS", "CUP_TO_DISC", "render_fundus", "fundus_counts", "make_fundus_cohort"]

FUNDUS_CLASSES = ("glaucoma", "normal")
FUNDUS_COUNTS: Mapping[str, int] = MappingProxyType({"glaucoma": 20, "normal": 180})
CUP_TO_DISC: Mapping[str, tuple[float, float]] = MappingProxyType({"glaucoma": (0.75, 0.92), "normal": (0.15, 0.35)})
"""Range of the horizontal cup-to-disc ratio drawn for each class."""


def _vessel_tree(
    rng: np.random.Generator, size: int, disc: np.ndarray, side: float, radius: float, width: float
) -> list[Curve]:
    """Curves of one vessel kind leaving the disc: superior and inferior temporal arcades, which
    bend round the macula towards the temporal side (``-side``), and two nasal vessels."""
    step = 1.0 / size  # half a pixel in unit lengths
    curves = []
    for vertical in (-1.0, 1.0):
        start = disc + np.array([0.0, vertical * radius * 0.3]) + rng.normal(0.0, radius * 0.15, 2)
        curves += branching_curves(
            rng, start, vertical * (np.pi / 2 + side * rng.uniform(0.2, 0.5)), rng.uniform(1.1, 1.6),
            width, step, curvature=vertical * side * rng.uniform(1.0, 1.6), wiggle=0.6,
            branches=int(rng.integers(1, 4)), depth=2,
        )
        nasal = rng.uniform(0.3, 0.9)
        curves += branching_curves(
            rng, start, float(np.arctan2(vertical * np.sin(nasal), side * np.cos(nasal))), rng.uniform(0.6, 1.0),
            width * 0.8, step, curvature=rng.normal(0.0, 0.5), wiggle=0.8,
            branches=int(rng.integers(1, 3)), depth=1,
        )
    return curves


def _vessels(
    rng: np.random.Generator, size: int, disc: np.ndarray, side: float, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """Coverage ``(size, size)`` of the arteries (with a few thin papillomacular twigs towards
    the macula) and of the wider veins."""
    arteries = _vessel_tree(rng, size, disc, side, radius, rng.uniform(0.020, 0.026))
    veins = _vessel_tree(rng, size, disc, side, radius, rng.uniform(0.026, 0.034))
    towards_macula = np.pi if side > 0 else 0.0
    for _ in range(int(rng.integers(2, 5))):
        arteries += branching_curves(
            rng, disc, towards_macula + rng.uniform(-0.5, 0.5), rng.uniform(0.3, 0.55), 0.011, 1.0 / size, wiggle=1.0
        )
    return draw_curves(size, arteries), draw_curves(size, veins)


def render_fundus(label: str, image_size: int, rng: np.random.Generator) -> np.ndarray:
    """Draw one synthetic fundus photograph of class ``label`` (``"glaucoma"`` or ``"normal"``).

    Returns:
        ``(image_size, image_size, 3)`` uint8 RGB.
    """
    if label not in CUP_TO_DISC:
        raise ValueError(f"unknown fundus class {label!r}; expected one of {FUNDUS_CLASSES}.")
    size = image_size
    pixel = 2.0 / size
    y, x = unit_grid(size)

    # field of view: a circle, sometimes clipped top and bottom as by some cameras
    fov_radius = rng.uniform(0.9, 0.99)
    centre = rng.normal(0.0, 0.015, 2)
    r = np.hypot(x - centre[0], y - centre[1]) / fov_radius
    fov = soft_step(r - 1.0, pixel / fov_radius)
    if rng.random() < 0.2:
        fov *= soft_step(np.abs(y - centre[1]) - rng.uniform(0.82, 0.95), pixel)

    # retina: colour, exposure, vignetting, smooth shading, a darker macula and choroidal texture
    side = rng.choice([-1.0, 1.0])  # the disc on the right or the left: either eye
    disc = centre + np.array([side * rng.uniform(0.3, 0.44) * fov_radius, rng.normal(0.0, 0.05)])
    macula = centre + np.array([-side * rng.uniform(0.0, 0.1), disc[1] - centre[1] + rng.uniform(0.02, 0.08)])
    exposure = rng.uniform(0.7, 1.05)
    light = np.clip(1.0 - rng.uniform(0.25, 0.45) * r ** rng.uniform(1.8, 3.0), 0.0, 1.0)
    light *= np.exp(0.06 * smooth_noise(rng, size, 4))
    if rng.random() < 0.2:  # a shadow such as a small pupil or an eyelash casts
        shadow_at = rng.uniform(-0.6, 0.6, 2)
        light *= 1.0 - rng.uniform(0.2, 0.5) * np.exp(-((x - shadow_at[0]) ** 2 + (y - shadow_at[1]) ** 2) / 0.12)
    macula_d2 = (x - macula[0]) ** 2 + (y - macula[1]) ** 2
    shade = exposure * light * (1.0 + 0.025 * smooth_noise(rng, size, 32))
    shade *= 1.0 - rng.uniform(0.2, 0.4) * np.exp(-macula_d2 / (2 * rng.uniform(0.1, 0.16) ** 2))
    red = rng.uniform(0.75, 0.92)
    retina = np.array([red, red * rng.uniform(0.36, 0.5), red * rng.uniform(0.08, 0.18)], np.float32)
    image = shade[..., None] * retina

    # optic disc: a large yellowish-pink ellipse (about a fifth of the field across), less dimmed
    # by the lighting. Glaucoma: an excavated white cup filling most of the disc, a thin rim, and
    # a broad pale crescent-shaped halo of peripapillary atrophy; normal: a small cup in a thick
    # pink-orange rim.
    glaucoma = label == "glaucoma"
    radius = rng.uniform(0.17, 0.21)
    aspect = rng.uniform(1.0, 1.12)
    disc_rho = np.hypot((x - disc[0]) / radius, (y - disc[1]) / (radius * aspect))
    disc_light = np.sqrt(light * min(exposure * 1.2, 1.0))[..., None]
    if glaucoma:  # peripapillary atrophy: pale yellow-grey zone, widest on the temporal side
        angle = np.arctan2(y - disc[1], (x - disc[0]) * -side)
        extent = rng.uniform(1.9, 2.3) + rng.uniform(0.3, 0.6) * np.cos(angle)
        extent = extent + 0.12 * smooth_noise(rng, size, 6)
        atrophy = rng.uniform(0.6, 0.8) * soft_step(disc_rho - extent, 0.6)
        atrophy_colour = np.array([0.95, rng.uniform(0.72, 0.82), rng.uniform(0.5, 0.62)], np.float32)
        image = blend(image, atrophy, disc_light * atrophy_colour)
        rim_colour = np.array([0.98, rng.uniform(0.72, 0.82), rng.uniform(0.52, 0.62)], np.float32)
    else:
        rim_colour = np.array([1.0, rng.uniform(0.52, 0.64), rng.uniform(0.3, 0.42)], np.float32)
    glow = 0.25 * np.exp(-(disc_rho**2) / (2 * 1.4**2))  # peripapillary brightening
    image = blend(image, glow, disc_light * rim_colour)
    image = blend(image, soft_step(disc_rho - 1.0, rng.uniform(0.1, 0.2)), disc_light * rim_colour)

    cdr = rng.uniform(*CUP_TO_DISC[label])
    cup = disc + np.array([-side * radius * rng.uniform(0.0, 0.1), rng.normal(0.0, 0.04 * radius)])
    cup_rho = np.hypot((x - cup[0]) / (cdr * radius), (y - cup[1]) / (cdr * radius * aspect * rng.uniform(1.0, 1.1)))
    cup_mask = soft_step(cup_rho - 1.0, 0.25 if glaucoma else 0.4)
    cup_colour = np.array([1.0, rng.uniform(0.95, 1.0), rng.uniform(0.85, 0.95)], np.float32)
    image = blend(image, rng.uniform(0.9, 1.0) * cup_mask, np.minimum(disc_light * 1.15, 1.0) * cup_colour)

    # vessels darken what lies under them, fading where they dive into the cup
    arteries, veins = _vessels(rng, size, disc, side, radius)
    fade = (1.0 - 0.6 * cup_mask)[..., None]
    image *= 1.0 - fade * arteries[..., None] * np.array([0.2, 0.45, 0.4], np.float32)
    image *= 1.0 - fade * veins[..., None] * np.array([0.35, 0.6, 0.5], np.float32)

    image = (image + rng.normal(0.0, rng.uniform(0.005, 0.02), (size, size, 3))) * fov[..., None]
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def fundus_counts(n_normal: int, imbalance_ratio: float) -> dict[str, int]:
    """Class sizes for a glaucoma:normal cohort of ``1 : imbalance_ratio``.

    Example:
        >>> fundus_counts(900, 9)
        {'normal': 900, 'glaucoma': 100}
    """
    return longtail_class_counts(("normal", "glaucoma"), n_normal, imbalance_ratio)


def make_fundus_cohort(
    out_dir: str | os.PathLike,
    counts: Mapping[str, int] = FUNDUS_COUNTS,
    image_size: int = 128,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write a synthetic glaucoma/normal fundus cohort (default 1:9, 20 + 180 images).

    Layout: ``out_dir/<class>/<class>_<i:05d>.png`` and ``out_dir/labels.csv`` (``id,label``);
    see :func:`~monai_debclust.data.synthetic.cohort.write_synthetic_cohort` for atomicity and
    reproducibility.

    Args:
        out_dir: cohort folder, absent or empty (or an earlier cohort with ``overwrite``).
        counts: ``{"glaucoma": n, "normal": m}``; see :func:`fundus_counts` for a ratio.
        image_size: side of the square images in pixels.
        seed: seed of the cohort; the same seed gives identical files.
        overwrite: replace an earlier cohort at ``out_dir``.

    Returns:
        ``out_dir``.
    """
    return write_synthetic_cohort(out_dir, counts, render_fundus, FUNDUS_CLASSES, image_size, seed, overwrite)
