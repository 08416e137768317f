"""Datasets over archive items that skip and record unreadable files instead of aborting.

An *item* is a dict with ``"id"`` (the file's POSIX path relative to the archive root),
``"path"`` and ``"label"`` (``-1`` when unknown), as :class:`~monai_debclust.data.archive.ImageArchive`
lists them. Two ways to train on them:

* :func:`load_cohort` decodes every file once, up front, into small ``uint8`` tensors (fast
  epochs; 4,000 images of 3 x 224 x 224 take 600 MB). :class:`ToFloatd` turns them back into
  ``float32`` in ``[0, 1]`` inside the training transforms.
* :class:`GuardedDataset` with :class:`LoadArchiveImaged` decodes on the fly (any archive size);
  a bad file comes back as ``dict(id=..., error=reason)`` and :func:`skip_collate` moves it
  into the batch's ``"skipped"`` list, which also works from DataLoader worker processes. Only
  a bad file is skipped (see :mod:`~monai_debclust.data.skips`): any other error propagates.

Resizing squeezes the whole image to ``image_size x image_size`` (bilinear with antialiasing;
trilinear for volumes); the aspect ratio is not kept, which for the square-ish fundus and
dermoscopy photographs this targets distorts little.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Hashable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from monai.data import Dataset, list_data_collate
from monai.transforms import MapTransform
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from monai_debclust.data.readers import read_image
from monai_debclust.data.skips import FILE_ERRORS, ImageReadError, as_read_error
from monai_debclust.transforms.batch import to_unit_float
from monai_debclust.transforms.color import LUMA_WEIGHTS
from monai_debclust.utils import atomic_write

__all__ = [
    "load_image",
    "prepare_image",
    "LoadArchiveImaged",
    "ToFloatd",
    "GuardedDataset",
    "skip_collate",
    "load_cohort",
    "write_skipped_csv",
]

logger = logging.getLogger(__name__)


def _match_channels(image: torch.Tensor, channels: int) -> torch.Tensor:
    """Repeat greyscale to 3 channels, or reduce RGB to 1 channel by luminance."""
    have = image.shape[0]
    if have == channels:
        return image
    if have == 1 and channels == 3:
        return image.expand(3, *image.shape[1:]).contiguous()
    if have == 3 and channels == 1:
        weights = torch.tensor(LUMA_WEIGHTS, dtype=image.dtype).view(3, *([1] * (image.ndim - 1)))
        return (image * weights).sum(0, keepdim=True)
    raise ValueError(f"cannot convert a {have}-channel image to {channels} channels (supported: 1 <-> 3).")


def _resize(image: torch.Tensor, size: int) -> torch.Tensor:
    """Resize every spatial axis of a ``(C, *spatial)`` image to ``size``."""
    spatial = image.ndim - 1
    if tuple(image.shape[1:]) == (size,) * spatial:
        return image
    mode = "bilinear" if spatial == 2 else "trilinear"  # antialiasing exists for 2-D only
    resized = F.interpolate(image[None], size=(size,) * spatial, mode=mode, antialias=spatial == 2, align_corners=False)
    return resized[0].clamp_(0.0, 1.0)


def load_image(
    path: str | os.PathLike,
    image_size: int | None = None,
    channels: int = 3,
    nifti_mode: str = "slice",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Read a file (:func:`~monai_debclust.data.readers.read_image`), match channels, resize.

    The one preprocessing of the package: training (:func:`load_cohort`), evaluation and archive
    clustering (:class:`LoadArchiveImaged` in the bundles' ``inference.json``) all turn a file
    into pixels here, with ``dtype=torch.uint8`` so that the same file gives the same pixels in
    each. With ``image_size`` a JPEG is decoded at a reduced DCT scale no smaller than
    ``image_size`` (``read_image(min_size=...)``) and then resized; every other format is
    decoded whole and resized once.

    Args:
        path: image file.
        image_size: side of the square output; ``None`` keeps the size.
        channels: 1 or 3 (greyscale is repeated, RGB reduced by luminance).
        nifti_mode: ``"slice"`` or ``"volume"``, see :func:`~monai_debclust.data.readers.read_image`.
        dtype: ``torch.float32`` for ``[0, 1]``, ``torch.uint8`` for ``round(255 x)``.

    Raises:
        ImageReadError: the file cannot be decoded.
    """
    return prepare_image(read_image(path, nifti_mode=nifti_mode, min_size=image_size), image_size, channels, dtype)


def prepare_image(
    image: torch.Tensor | np.ndarray, image_size: int | None = None, channels: int = 3,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """A decoded ``(C, *spatial)`` float image in ``[0, 1]`` as the model's input: channels matched, resized, ``dtype``.

    The second half of :func:`load_image`, also applied to a working-size decode
    (:class:`~monai_debclust.curation.decode.CurateArchiveImaged`).
    """
    image = _match_channels(torch.as_tensor(image, dtype=torch.float32), channels)
    if image_size is not None:
        image = _resize(image, image_size)
    return image.mul(255.0).round_().to(torch.uint8) if dtype == torch.uint8 else image.to(dtype)


class LoadArchiveImaged(MapTransform):
    """Decode ``data[path_key]`` into ``data[key]`` for each of ``keys`` (see :func:`load_image`).

    Raises :class:`~monai_debclust.data.readers.ImageReadError` for a bad file; wrap the
    pipeline in :class:`GuardedDataset` to skip it instead.
    """

    def __init__(
        self,
        keys: Sequence[Hashable] | Hashable = "image",
        image_size: int | None = None,
        channels: int = 3,
        nifti_mode: str = "slice",
        path_key: str = "path",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(keys)
        self.image_size, self.channels, self.nifti_mode = image_size, channels, nifti_mode
        self.path_key, self.dtype = path_key, dtype

    def __call__(self, data: Mapping) -> dict:
        d = dict(data)
        image = load_image(d[self.path_key], self.image_size, self.channels, self.nifti_mode, self.dtype)
        for key in self.keys:
            d[key] = image
        return d


class ToFloatd(MapTransform):
    """``uint8`` images (as :func:`load_cohort` stores them) to ``float32 / 255``, floating-point ones to
    ``float32``: :func:`~monai_debclust.transforms.to_unit_float` on each key, then ``float32``."""

    def __call__(self, data: Mapping) -> dict:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = to_unit_float(torch.as_tensor(d[key])).float()
        return d


def _file_error(exc: BaseException, path: str | os.PathLike) -> ImageReadError | None:
    """The bad file behind ``exc``, or ``None`` when ``exc`` is a bug that must propagate.

    MONAI wraps a failing transform's exception in a plain ``RuntimeError`` (``from`` the
    original), once per level of ``Compose``; only those wrappers are looked through.
    """
    while exc is not None:
        if isinstance(exc, (ImageReadError, *FILE_ERRORS)):
            return as_read_error(path, exc)
        if type(exc) is not RuntimeError:
            return None
        exc = exc.__cause__
    return None


class GuardedDataset(Dataset):
    """A MONAI :class:`~monai.data.Dataset` whose unreadable items come back as ``dict(id, error)``.

    An item is skipped when its transform fails with
    :class:`~monai_debclust.data.skips.ImageReadError` (what :class:`LoadArchiveImaged`
    raises for a bad file) or, from another reader, with one of
    :data:`~monai_debclust.data.skips.FILE_ERRORS`, inside MONAI's wrapping. Any other
    exception (a bug, ``MemoryError``, an ``OSError`` of exhausted file descriptors) propagates.
    A failure of the storage rather than the file adds ``"transient": True`` (try it again later).
    """

    def _transform(self, index: int) -> dict:
        try:
            return super()._transform(index)
        except Exception as exc:
            item = self.data[index]
            error = _file_error(exc, item.get("path", ""))
            if error is None:
                raise
            sample = {"id": item.get("id", str(item.get("path"))), "error": error.reason}
            if error.transient:
                sample["transient"] = True
            return sample


def skip_collate(batch: Sequence[Mapping]) -> dict:
    """MONAI's ``list_data_collate`` of the valid samples, plus ``"skipped"``: ``[(id, reason), ...]``.

    A batch of bad files only collates to ``{"skipped": [...]}``. When some of the skipped
    files failed for a transient reason (the storage, not the file), ``"transient"`` lists their ids.
    """
    valid = [sample for sample in batch if "error" not in sample]
    collated = list_data_collate(valid) if valid else {}
    collated["skipped"] = [(sample["id"], sample["error"]) for sample in batch if "error" in sample]
    transient = [sample["id"] for sample in batch if sample.get("transient")]
    if transient:
        collated["transient"] = transient
    return collated


def _as_is(sample: dict) -> dict:  # a picklable no-op collate for worker processes
    return sample


def load_cohort(
    items: Sequence[Mapping],
    image_size: int,
    channels: int = 3,
    progress: bool = True,
    num_workers: int = 0,
) -> tuple[list[dict], list[tuple[str, str]]]:
    """Decode every item once into ``dict(image=uint8 (channels, S, S), id, label)``.

    Volumes contribute their middle slice. Each unreadable file is logged (warning) and listed.

    Args:
        items: dicts with ``"path"``, ``"id"`` and optionally ``"label"`` (default ``-1``).
        image_size: side ``S`` of the stored square images.
        channels: 1 or 3.
        progress: show a tqdm progress bar.
        num_workers: DataLoader worker processes decoding in parallel (0: in this process).

    Returns:
        ``(samples, skipped)``, ``skipped`` being ``[(id, reason), ...]`` in item order.
    """
    loader = LoadArchiveImaged("image", image_size=image_size, channels=channels, dtype=torch.uint8)
    dataset = GuardedDataset(items, loader)
    samples: list[dict] = []
    skipped: list[tuple[str, str]] = []
    batches = DataLoader(dataset, batch_size=None, num_workers=num_workers, collate_fn=_as_is)
    for sample in tqdm(batches, total=len(dataset), disable=not progress, desc="decoding", unit="image"):
        if "error" in sample:
            skipped.append((sample["id"], sample["error"]))
            logger.warning("skipped %s: %s", sample["id"], sample["error"])
        else:  # clone: a tensor from a worker lives in shared memory and holds a file descriptor
            image = sample["image"].clone()
            samples.append({"image": image, "id": sample["id"], "label": int(sample.get("label", -1))})
    return samples, skipped


def write_skipped_csv(rows: Iterable[tuple[str, str]], path: str | os.PathLike) -> Path:
    """Write ``id,reason`` rows to ``path`` atomically (see :func:`~monai_debclust.utils.atomic_write`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "reason"])
        writer.writerows(rows)
    return path
