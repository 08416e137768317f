"""Step 2 of archive clustering: the chunks of every shard gathered into one embedding file, in archive order.

A file read in several runs (it changed in between) is in several chunks: the latest chunk
naming it wins, embedded or skipped. Files no longer in the archive drop out. The chunks' other
columns (quality scores, signatures, hashes, DICOM columns) are gathered in the same order, and
their thumbnails written as ``thumbnails/<row>.jpg``, ``row`` being the file's row in
``embeddings.npy`` and ``assignments.csv``.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from monai_debclust.archive.chunks import ChunkStore
from monai_debclust.utils import atomic_path, atomic_write
from monai_debclust.utils.files import atomic_folder

__all__ = ["THUMBNAILS_DIR", "assemble_embeddings"]

#: Folder of the thumbnails inside the output folder.
THUMBNAILS_DIR = "thumbnails"


def _latest(paths: Sequence[Path], position: dict[str, int]) -> tuple[list[np.ndarray], list[tuple[int, str, str]]]:
    """Per chunk, the archive position of each embedded row that is current (else -1); the current skipped rows."""
    latest: dict[str, int] = {}
    indexes = []
    for number, path in enumerate(paths):
        ids, bad = ChunkStore.read_index(path)
        indexes.append((ids, bad))
        for file_id in [*ids, *(i for i, _ in bad)]:
            latest[file_id] = number
    chunk_positions, skipped = [], []
    for number, (ids, bad) in enumerate(indexes):
        chunk_positions.append(np.array([position.get(i, -1) if latest[i] == number else -1 for i in ids],
                                        dtype=np.int64))
        skipped += [(position[i], i, reason) for i, reason in bad if i in position and latest[i] == number]
    return chunk_positions, skipped


def _write_thumbnails(rows: np.ndarray, blobs: list[bytes], folder: Path) -> None:
    for row, blob in zip(rows, blobs):
        (folder / f"{row}.jpg").write_bytes(blob)


def assemble_embeddings(
    items: Sequence[dict], folders: Sequence[Path], dim: int, output_dir: str | os.PathLike
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]], dict[str, np.ndarray]]:
    """Write ``embeddings.npy`` and ``embeddings_index.csv`` in archive order from the chunks in ``folders``.

    ``embeddings.npy`` is filled through a memory map under a temporary name and renamed when
    complete, so memory stays bounded and a reader never sees a partial file. Thumbnails, when the
    chunks hold them, are written into a staging folder of a unique name that then replaces
    ``thumbnails/`` (:func:`~monai_debclust.utils.files.atomic_folder`), after ``embeddings.npy``.

    Args:
        items: the archive's items, in archive order (``dict(id, ...)``).
        folders: the chunk folder of every shard.
        dim: length of an embedding.
        output_dir: where the files go.

    Returns:
        ``(embeddings, positions, skipped, columns)``: the embeddings as a read-only memory map,
        the archive position of each row, ``(id, reason)`` of the skipped files in archive order,
        and the chunks' other columns row by row (only those every current chunk holds).
    """
    output_dir = Path(output_dir)
    position = {item["id"]: i for i, item in enumerate(items)}
    paths = [path for folder in folders for path in ChunkStore(folder, {}).paths()]
    chunk_positions, skipped = _latest(paths, position)
    positions = np.unique(np.concatenate(chunk_positions)) if chunk_positions else np.empty(0, np.int64)
    positions = positions[positions >= 0]

    final = output_dir / "embeddings.npy"
    thumbnails: Path | None = None  # the staging folder of thumbnails/, made at the first chunk that holds some
    columns: dict[str, np.ndarray] = {}
    missing: set[str] = set()
    with ExitStack() as publish_thumbnails, atomic_path(final) as temporary:
        embeddings = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.float32, shape=(len(positions), dim))
        for path, chunk_position in zip(paths, chunk_positions):
            keep = chunk_position >= 0
            if not keep.any():
                continue
            chunk = ChunkStore.read(path)
            rows = np.searchsorted(positions, chunk_position[keep])
            embeddings[rows] = chunk.embeddings[keep]
            missing |= set(columns) - set(chunk.columns)
            for name, value in chunk.columns.items():
                if isinstance(value, list):  # thumbnails
                    if thumbnails is None:
                        thumbnails = publish_thumbnails.enter_context(atomic_folder(output_dir / THUMBNAILS_DIR))
                    _write_thumbnails(rows, [blob for blob, k in zip(value, keep) if k], thumbnails)
                    continue
                if name not in columns:
                    columns[name] = np.zeros((len(positions), *value.shape[1:]), dtype=value.dtype)
                    if columns[name].dtype.kind == "U":
                        columns[name] = columns[name].astype(object)
                columns[name][rows] = value[keep]
        embeddings.flush()
        del embeddings
    with atomic_write(output_dir / "embeddings_index.csv", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "id"])
        writer.writerows((row, items[p]["id"]) for row, p in enumerate(positions))
    skipped.sort()
    for name in missing:
        columns.pop(name, None)
    return np.load(final, mmap_mode="r"), positions, [(i, reason) for _, i, reason in skipped], columns
