"""What identifies an image's content: a hash of its file's bytes and a small pixel signature.

* :func:`content_hash` — SHA-256 of the file's bytes: equal hashes are exact duplicates (the
  same file under another name).
* :func:`pixel_signature` — the image as grey values, resized to ``size x size`` by area
  averaging, z-scored and scaled to unit length, so that the inner product of two signatures is
  the Pearson correlation of the two small images. A copy that was renamed, re-encoded (JPEG),
  converted (PNG) or slightly rescaled keeps a correlation near 1; different photographs of one
  kind (fundus, dermoscopy) rarely exceed 0.99 at 16 x 16 (measured on ``../shared/data``, see
  :data:`monai_debclust.similarity.duplicates.DEFAULT_THRESHOLD`). An image of constant grey has
  no correlation with anything: its signature is all zeros and it joins no near-duplicate group
  (its exact copies still share its hash).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from monai_debclust.utils.colour import LUMA_WEIGHTS

__all__ = ["DEFAULT_SIGNATURE_SIZE", "as_feature_matrix", "content_hash", "pixel_signature", "pixel_signatures"]

#: Side of the grey thumbnail a signature is made of.
DEFAULT_SIGNATURE_SIZE = 16

ImageLike = str | os.PathLike | Image.Image | np.ndarray | torch.Tensor


def as_feature_matrix(features: np.ndarray | torch.Tensor, name: str = "features") -> np.ndarray:
    """``features`` as a C-contiguous ``(N, D)`` float32 NumPy array (a tensor is detached and moved to the CPU).

    Raises:
        ValueError: naming ``name`` when the array is not two-dimensional.
    """
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().float().numpy()
    matrix = np.ascontiguousarray(features, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be (items, dim), got shape {matrix.shape}.")
    return matrix


def content_hash(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of the bytes of the file at ``path``, as 64 hexadecimal digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


def _grey(image: ImageLike) -> Image.Image:
    """``image`` as a grey PIL image of mode ``F``; an array is (H, W) or (H, W, C) with C in 1, 3, 4."""
    if isinstance(image, (str, os.PathLike)):
        with Image.open(image) as opened:
            return opened.convert("L").convert("F")
    if isinstance(image, Image.Image):
        return image.convert("L").convert("F")
    array = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    elif array.ndim == 3 and array.shape[2] in (3, 4):  # luma, as PIL's "L" conversion
        array = array[..., :3].astype(np.float32) @ np.array(LUMA_WEIGHTS, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"an image array must be (H, W) or (H, W, C) with C in 1, 3, 4, got shape {array.shape}.")
    return Image.fromarray(np.ascontiguousarray(array, dtype=np.float32), mode="F")


def pixel_signature(image: ImageLike, size: int = DEFAULT_SIGNATURE_SIZE) -> np.ndarray:
    """The ``(size * size,)`` unit-length, zero-mean grey thumbnail of ``image`` (see the module docstring).

    Args:
        image: a file path, a PIL image, or an ``(H, W)`` / ``(H, W, C)`` array or tensor.
        size: side of the thumbnail; the same size must be used for every image compared.

    Returns:
        float32 vector; all zeros for an image of constant grey.
    """
    if size < 2:
        raise ValueError(f"the signature size must be at least 2, got {size}.")
    thumbnail = np.asarray(_grey(image).resize((size, size), Image.Resampling.BOX), dtype=np.float64).ravel()
    centred = thumbnail - thumbnail.mean()
    norm = np.linalg.norm(centred)
    if norm < 1e-6 * max(1.0, float(np.abs(thumbnail).max())):
        return np.zeros(size * size, dtype=np.float32)
    return (centred / norm).astype(np.float32)


def pixel_signatures(images: Sequence[ImageLike], size: int = DEFAULT_SIGNATURE_SIZE) -> np.ndarray:
    """The :func:`pixel_signature` of every image, stacked into an ``(N, size * size)`` matrix."""
    signatures = np.zeros((len(images), size * size), dtype=np.float32)
    for row, image in enumerate(images):
        signatures[row] = pixel_signature(image, size)
    return signatures
