"""The duplicate groups of a list of image files from their bytes and pixels alone, cached on disk.

Evaluation splits its folds by these groups. They must not depend on any model (each method's
own embeddings would give each arm different folds, and a collapsed model would merge
everything), and they must be the same for every method and seed: so they are computed once per
data set and kept under a key made of the file ids, their content hashes, the threshold and the
signature size. A changed, added or removed file, or another setting, makes a new key.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monai_debclust.similarity.duplicates import DEFAULT_THRESHOLD, DuplicateGroups, group_duplicates
from monai_debclust.similarity.signature import DEFAULT_SIGNATURE_SIZE, content_hash, pixel_signatures
from monai_debclust.utils import atomic_write

__all__ = ["default_cache_dir", "groups_cache_key", "pixel_duplicate_groups"]

#: Bump when the signature or the grouping changes meaning, so old cache files are not reused.
CACHE_VERSION = 1


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/monai-debclust/duplicates`` (``~/.cache/...`` where the variable is unset)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "monai-debclust" / "duplicates"


def groups_cache_key(ids: Sequence[str], hashes: Sequence[str], threshold: float, signature_size: int) -> str:
    """SHA-256 over the cache version, the file ids and hashes in order, the threshold and the signature size."""
    content = {"version": CACHE_VERSION, "ids": list(map(str, ids)), "hashes": list(hashes),
               "threshold": float(threshold), "signature_size": int(signature_size)}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).hexdigest()


def pixel_duplicate_groups(
    paths: Sequence[str | os.PathLike],
    root: str | os.PathLike | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    signature_size: int = DEFAULT_SIGNATURE_SIZE,
    cache_dir: str | os.PathLike | None = None,
    labels: Sequence[int] | np.ndarray | None = None,
) -> DuplicateGroups:
    """Group the image files ``paths`` by content hash and pixel signature, reusing a cached result.

    Args:
        paths: the image files, in the order of the features and labels they will split.
        root: folder the ids are taken relative to (so a moved data set keeps its cache); None
            keeps the paths as given.
        threshold: near-duplicate correlation of the signatures, in ``(0, 1]``.
        signature_size: side of the grey thumbnail.
        cache_dir: folder of the cache files; None is :func:`default_cache_dir`.
        labels: ``(N,)`` class ids (``-1`` unknown) to flag conflicts; not part of the cache.

    Returns:
        :class:`~monai_debclust.similarity.duplicates.DuplicateGroups` in the order of ``paths``.
    """
    paths = [Path(p) for p in paths]
    ids = [str(p) for p in paths]
    if root is not None:  # both made absolute and normal: a path given through ``..`` is still under its root
        base = Path(os.path.abspath(root))
        ids = [Path(os.path.abspath(p)).relative_to(base).as_posix() for p in paths]
    hashes = [content_hash(p) for p in paths]
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache_file = folder / f"groups-{groups_cache_key(ids, hashes, threshold, signature_size)[:40]}.npz"
    if cache_file.is_file():
        with np.load(cache_file, allow_pickle=False) as stored:
            groups = DuplicateGroups(stored["group"], stored["first"], stored["kind"], stored["similarity"],
                                     np.zeros(len(paths), dtype=bool))
    else:
        groups = group_duplicates(pixel_signatures(paths, signature_size), hashes, threshold)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(cache_file, "wb") as handle:
            np.savez(handle, group=groups.group, first=groups.first, kind=groups.kind, similarity=groups.similarity)
    return groups if labels is None else groups.with_labels(labels)
