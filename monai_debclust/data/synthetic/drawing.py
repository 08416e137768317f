"""Vectorised drawing primitives shared by the synthetic fundus and dermoscopy generators.

Everything works on a square canvas of ``size`` pixels. Geometry is given in *unit*
coordinates, ``x`` to the right and ``y`` downwards, the canvas spanning ``[-1, 1]`` edge to
edge, so a drawing scales with the image size (one pixel is ``2 / size`` unit lengths). No
function loops over pixels: curves are rasterised as dense point sets and thickened with one
Euclidean distance transform; blobs are splatted impulses blurred by one Gaussian filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy import ndimage

__all__ = [
    "unit_grid",
    "soft_step",
    "blend",
    "smooth_noise",
    "random_walk",
    "branching_curves",
    "draw_curves",
    "draw_blobs",
]

Curve = tuple[np.ndarray, np.ndarray]
"""A curve: points ``(n, 2)`` as unit ``(x, y)`` and line widths ``(n,)`` in unit lengths."""


def unit_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``(y, x)``, each ``(size, size)`` float32 in ``(-1, 1)``."""
    axis = ((np.arange(size, dtype=np.float32) + 0.5) * (2.0 / size) - 1.0).astype(np.float32)
    return axis[:, None] + np.zeros((1, size), np.float32), axis[None, :] + np.zeros((size, 1), np.float32)


def soft_step(signed_distance: np.ndarray, width: float) -> np.ndarray:
    """``1`` inside (negative distance) to ``0`` outside, with a linear ramp ``width`` wide."""
    return np.clip(0.5 - signed_distance / width, 0.0, 1.0)


def blend(image: np.ndarray, weight: np.ndarray, colour: Sequence[float] | np.ndarray) -> np.ndarray:
    """``image * (1 - weight) + colour * weight`` for an ``(H, W, 3)`` image, in place.

    ``colour`` is one RGB triple or an ``(H, W, 3)`` image; ``weight`` is ``(H, W)``.
    """
    w = weight[..., None]
    image *= 1.0 - w
    image += w * np.asarray(colour, dtype=np.float32)
    return image


@lru_cache(maxsize=64)
def _lattice_weights(size: int, cells: int) -> np.ndarray:
    """``(size, cells + 2)`` row-normalised Gaussian weights of lattice nodes for each pixel."""
    position = (np.arange(size) + 0.5) * (cells / size) + 0.5
    weights = np.exp(-((position[:, None] - np.arange(cells + 2)[None, :]) ** 2) / (2 * 0.75**2))
    weights = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
    weights.setflags(write=False)
    return weights


def smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth random field with about ``cells`` features across, zero mean and unit deviation.

    Normal draws on a ``(cells + 2)``-square lattice, interpolated separably with Gaussian
    weights, ``A @ lattice @ A.T``. The products go through ``einsum``'s own loops: for these
    small matrices a threaded BLAS spends more time waking threads than multiplying.
    """
    weights = _lattice_weights(size, cells)
    lattice = rng.standard_normal((cells + 2, cells + 2)).astype(np.float32)
    field = np.einsum("ik,lk->il", np.einsum("ij,jk->ik", weights, lattice), weights)
    field -= field.mean()
    return field / max(float(field.std()), 1e-6)


def random_walk(
    rng: np.random.Generator,
    start: Sequence[float],
    angle: float,
    length: float,
    step: float,
    curvature: float = 0.0,
    wiggle: float = 0.0,
) -> np.ndarray:
    """A smooth random curve of ``length`` unit lengths from ``start`` heading at ``angle``.

    The heading changes by ``curvature`` radians per unit length plus Brownian ``wiggle``
    (radians per square-root unit length).

    Returns:
        ``(n, 2)`` float32 unit ``(x, y)`` points ``step`` apart, ``start`` first.
    """
    n = max(int(np.ceil(length / step)), 1)
    turn = curvature * step + wiggle * np.sqrt(step) * rng.standard_normal(n)
    heading = angle + np.concatenate([[0.0], np.cumsum(turn[:-1])])
    moves = step * np.stack([np.cos(heading), np.sin(heading)], axis=1)
    points = np.asarray(start, dtype=np.float64) + np.concatenate([np.zeros((1, 2)), np.cumsum(moves, axis=0)])
    return points.astype(np.float32)


def branching_curves(
    rng: np.random.Generator,
    start: Sequence[float],
    angle: float,
    length: float,
    width: float,
    step: float,
    curvature: float = 0.0,
    wiggle: float = 0.0,
    branches: int = 0,
    depth: int = 1,
    taper: float = 0.55,
) -> list[Curve]:
    """A tapering random-walk trunk with ``branches`` side branches, recursively ``depth`` deep.

    Each branch leaves a random point of its parent at 25 to 60 degrees to either side,
    starts at the parent's local width times 0.75, is 30 to 60 % of the parent's length, turns
    the other way at half the parent's curvature, and has half as many branches of its own.
    Widths fall linearly along each curve to ``taper`` times their start.

    Returns:
        The curves, trunk first, as ``(points, widths)`` pairs for :func:`draw_curves`.
    """
    points = random_walk(rng, start, angle, length, step, curvature, wiggle)
    widths = width * np.linspace(1.0, taper, len(points), dtype=np.float32)
    curves = [(points, widths)]
    if depth <= 0 or branches <= 0:
        return curves
    for _ in range(branches):
        at = int(rng.integers(len(points) // 5, len(points)))
        dx, dy = points[min(at + 1, len(points) - 1)] - points[max(at - 1, 0)]
        heading = np.arctan2(dy, dx)
        side = rng.choice([-1.0, 1.0])
        curves += branching_curves(
            rng,
            points[at],
            heading + side * rng.uniform(np.pi / 7, np.pi / 3),
            length * rng.uniform(0.3, 0.6),
            widths[at] * 0.75,
            step,
            curvature=-side * abs(curvature) * 0.5,
            wiggle=wiggle,
            branches=branches // 2,
            depth=depth - 1,
            taper=taper,
        )
    return curves


def _pixel_indices(points: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row and column of the pixels holding unit ``(x, y)`` points on the canvas, and the mask
    of the points that fall on it."""
    cols = np.floor((points[:, 0] + 1.0) * (size / 2.0)).astype(np.int64)
    rows = np.floor((points[:, 1] + 1.0) * (size / 2.0)).astype(np.int64)
    inside = (rows >= 0) & (rows < size) & (cols >= 0) & (cols < size)
    return rows[inside], cols[inside], inside


def draw_curves(size: int, curves: Sequence[Curve]) -> np.ndarray:
    """Coverage ``(size, size)`` in ``[0, 1]`` of thick curves, anti-aliased to about a pixel.

    Points are snapped to pixels carrying their width (the widest wins); each pixel then takes
    the width of its nearest curve pixel from one distance transform, and is covered by
    ``clip(width / 2 + 0.5 - distance, 0, 1)`` (all in pixels). Points should be at most half a
    pixel apart for an unbroken line.
    """
    if not curves:
        return np.zeros((size, size), np.float32)
    rows, cols, inside = _pixel_indices(np.concatenate([p for p, _ in curves]), size)
    widths = np.concatenate([w for _, w in curves])[inside] * (size / 2.0)
    width_map = np.zeros((size, size), np.float32)
    np.maximum.at(width_map, (rows, cols), widths)
    if not inside.any():
        return width_map
    distance, (near_r, near_c) = ndimage.distance_transform_edt(width_map == 0, return_indices=True)
    return np.clip(width_map[near_r, near_c] / 2.0 + 0.5 - distance, 0.0, 1.0).astype(np.float32)


def draw_blobs(size: int, centres: np.ndarray, sigma: float) -> np.ndarray:
    """Sum of Gaussian blobs of peak 1 and deviation ``sigma`` (unit lengths), clipped to 1.

    ``centres`` is ``(n, 2)`` unit ``(x, y)``; centres off the canvas are dropped.
    """
    impulses = np.zeros((size, size), np.float32)
    rows, cols, _ = _pixel_indices(centres, size)
    np.add.at(impulses, (rows, cols), 1.0)
    sigma_px = max(sigma * size / 2.0, 0.5)
    blurred = ndimage.gaussian_filter(impulses, sigma_px, mode="constant", truncate=3.0)
    return np.clip(blurred * (2.0 * np.pi * sigma_px**2), 0.0, 1.0)
