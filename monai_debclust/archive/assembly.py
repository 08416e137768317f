"""Step 2 of archive clustering: the chunks of every shard gathered into one embedding file, in archive order."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monai_debclust.archive.chunks import ChunkStore
from monai_debclust.utils import atomic_path, atomic_write

__all__ = ["assemble_embeddings"]


def assemble_embeddings(
    items: Sequence[dict], folders: Sequence[Path], dim: int, output_dir: str | os.PathLike
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    """Write ``embeddings.npy`` and ``embeddings_index.csv`` in archive order from the chunks in ``folders``.

    ``embeddings.npy`` is filled through a memory map under a temporary name and renamed when
    complete, so memory stays bounded and a reader never sees a partial file.

    Args:
        items: the archive's items, in archive order (``dict(id, ...)``).
        folders: the chunk folder of every shard.
        dim: length of an embedding.
        output_dir: where the two files go.

    Returns:
        ``(embeddings, positions, skipped)``: the embeddings as a read-only memory map, the
        archive position of each row, and ``(id, reason)`` of the skipped files in archive order.
    """
    output_dir = Path(output_dir)
    position = {item["id"]: i for i, item in enumerate(items)}
    paths = [path for folder in folders for path in ChunkStore(folder, {}).paths()]
    chunk_positions, skipped = [], []
    for path in paths:
        ids, bad = ChunkStore.read_index(path)
        chunk_positions.append(np.array([position.get(i, -1) for i in ids], dtype=np.int64))
        skipped += [(position[i], i, reason) for i, reason in bad if i in position]
    positions = np.unique(np.concatenate(chunk_positions)) if chunk_positions else np.empty(0, np.int64)
    positions = positions[positions >= 0]

    final = output_dir / "embeddings.npy"
    with atomic_path(final) as temporary:
        embeddings = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.float32, shape=(len(positions), dim))
        for path, chunk_position in zip(paths, chunk_positions):
            keep = chunk_position >= 0
            if keep.any():
                embeddings[np.searchsorted(positions, chunk_position[keep])] = ChunkStore.read(path).embeddings[keep]
        embeddings.flush()
        del embeddings
    with atomic_write(output_dir / "embeddings_index.csv", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "id"])
        writer.writerows((row, items[p]["id"]) for row, p in enumerate(positions))
    skipped.sort()
    return np.load(final, mmap_mode="r"), positions, [(i, reason) for _, i, reason in skipped]
