"""Writing a synthetic labelled cohort to disk, and a preview sheet of one.

A cohort folder holds ``<class>/<class>_<i:05d>.png`` and ``labels.csv`` (``id,label``, the id
being the POSIX path relative to the folder). Image ``i`` of a class is drawn from a generator
seeded by ``(seed, crc32(class), i)`` alone, so a cohort is reproducible byte for byte and
growing one class leaves the images of the others unchanged. The generators themselves live in
:mod:`~monai_debclust.data.synthetic.fundus` and :mod:`~monai_debclust.data.synthetic.dermoscopy`.
"""

from __future__ import annotations

import csv
import os
import zlib
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from monai_debclust.utils import atomic_write
from monai_debclust.utils.files import atomic_folder

__all__ = ["Renderer", "write_synthetic_cohort", "read_labels_csv", "preview_sheet"]

Renderer = Callable[[str, int, np.random.Generator], np.ndarray]
"""``render(class_name, image_size, rng) -> (image_size, image_size, 3) uint8`` RGB image."""

LABELS_CSV = "labels.csv"


def _check_counts(counts: Mapping[str, int], classes: Collection[str]) -> dict[str, int]:
    unknown = sorted(set(counts) - set(classes))
    if unknown:
        raise ValueError(f"unknown classes {unknown}; this generator draws {sorted(classes)}.")
    checked = {}
    for name, n in counts.items():
        if isinstance(n, bool) or int(n) != n or n < 0:
            raise ValueError(f"count for class {name!r} must be a non-negative integer, got {n!r}.")
        checked[name] = int(n)
    if sum(checked.values()) == 0:
        raise ValueError(f"counts ask for no images at all: {dict(counts)}.")
    return checked


def _check_replaceable(out_dir: Path, overwrite: bool) -> None:
    """A new cohort may take ``out_dir`` when it is absent, empty, or (with ``overwrite``) holds an
    earlier cohort, recognised by its labels.csv."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a folder.")
    if not any(out_dir.iterdir()):
        return
    if not overwrite:
        raise FileExistsError(f"{out_dir} is not empty; pass overwrite=True to replace an earlier cohort.")
    if not (out_dir / LABELS_CSV).is_file():
        raise FileExistsError(f"{out_dir} holds no {LABELS_CSV}, so it is not a cohort; refusing to delete it.")


def write_synthetic_cohort(
    out_dir: str | os.PathLike,
    counts: Mapping[str, int],
    render: Renderer,
    classes: Collection[str],
    image_size: int = 128,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Render ``counts[c]`` images of each class ``c`` and write them as a cohort folder.

    The cohort is built in a hidden sibling folder that takes the place of ``out_dir`` only when
    complete and flushed to disk (:func:`~monai_debclust.utils.files.atomic_folder`), so
    ``out_dir`` either does not exist or holds a whole cohort.

    Args:
        out_dir: the cohort folder; it may be absent or empty, or hold an earlier cohort when
            ``overwrite`` is true.
        counts: ``{class name: number of images}``; the names must be among ``classes``.
        render: draws one image, see :data:`Renderer`.
        classes: the class names ``render`` knows.
        image_size: side of the square images in pixels, at least 32.
        seed: non-negative seed of the cohort.
        overwrite: replace an earlier cohort at ``out_dir``.

    Returns:
        ``out_dir`` as a :class:`~pathlib.Path`.
    """
    checked = _check_counts(counts, classes)
    if int(image_size) != image_size or image_size < 32:
        raise ValueError(f"image_size must be an integer >= 32, got {image_size!r}.")
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _check_replaceable(out_dir, overwrite)  # fail before spending time on rendering
    with atomic_folder(out_dir) as staging:
        rows = []
        for name in sorted(checked):
            (staging / name).mkdir(parents=True)
            for i in range(checked[name]):
                rng = np.random.default_rng([int(seed), zlib.crc32(name.encode()), i])
                image_id = f"{name}/{name}_{i:05d}.png"
                Image.fromarray(render(name, int(image_size), rng)).save(staging / image_id, format="PNG")
                rows.append((image_id, name))
        with atomic_write(staging / LABELS_CSV, newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["id", "label"])
            writer.writerows(rows)
        _check_replaceable(out_dir, overwrite)  # nothing else took out_dir while rendering
    return out_dir


def read_labels_csv(cohort_dir: str | os.PathLike) -> list[tuple[str, str]]:
    """The ``(id, label)`` rows of a cohort's ``labels.csv``, in file order."""
    with open(Path(cohort_dir) / LABELS_CSV, newline="", encoding="utf-8") as handle:
        return [(row["id"], row["label"]) for row in csv.DictReader(handle)]


def preview_sheet(
    cohort_dir: str | os.PathLike, path: str | os.PathLike, per_class: int = 6, tile: int = 128
) -> Path:
    """Save a PNG contact sheet of a cohort: one row per class, its first ``per_class`` images.

    Each row is captioned with its class name.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    cohort_dir, path = Path(cohort_dir), Path(path)
    by_class: dict[str, list[str]] = {}
    for image_id, label in read_labels_csv(cohort_dir):
        by_class.setdefault(label, []).append(image_id)
    sheet = Image.new("RGB", (per_class * tile, len(by_class) * tile))
    draw = ImageDraw.Draw(sheet)
    for row, (label, ids) in enumerate(sorted(by_class.items())):
        for col, image_id in enumerate(ids[:per_class]):
            with Image.open(cohort_dir / image_id) as image:
                sheet.paste(image.convert("RGB").resize((tile, tile)), (col * tile, row * tile))
        draw.text((3, row * tile + 2), label, fill=(255, 255, 255), stroke_width=1, stroke_fill=(0, 0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as handle:
        sheet.save(handle, format="PNG")
    return path
