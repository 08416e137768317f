"""Results written chunk by chunk, durably, so that an interrupted archive run resumes where it stopped.

A :class:`ChunkStore` is a folder of ``chunk-<n>.npz`` files. Each holds the file ids and
embeddings of one run of consecutive images and the ids and reasons of the files that could not
be read among them. A chunk is written to a temporary name, flushed to disk (``fsync``) and then
renamed, so a chunk file is either whole or absent whatever moment the process is killed at; a
temporary file left by a kill is removed when the store is opened again. A chunk can also hold
more columns per embedded file (quality scores, signatures, thumbnails, DICOM columns) and the
stat of each file it read; a file read again later (it changed) is in a later chunk, which wins. ``state.json`` records
the *fingerprint* of what produced the chunks (for archive clustering: the SHA-256 of the model's
weights, the loading settings, the loading transform's settings and ``PREPROCESSING_VERSION``; see
:meth:`~monai_debclust.archive.ArchiveClusterer.embed`); a store opened with another fingerprint is
emptied rather than mixed with new results. The archive's folder is not part of it: the ids are
paths relative to the archive, so a moved or copied archive keeps its chunks.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from monai_debclust.utils import atomic_write

__all__ = ["Chunk", "ChunkStore", "STATE_FILE"]

logger = logging.getLogger(__name__)

_CHUNK_NAME = re.compile(r"^chunk-(\d{6,})\.npz$")
STATE_FILE = "state.json"


class Chunk:
    """One chunk's content: embedded ``ids`` with their ``embeddings``, and the ``skipped`` files.

    Args:
        ids: the embedded files.
        embeddings: ``(len(ids), dim)``.
        skipped: ``(id, reason)`` of the files that could not be read.
        columns: per embedded file, more fields: arrays of ``len(ids)`` rows (numbers or strings)
            or lists of ``bytes`` (thumbnails).
        stats: ``id -> "size:mtime_ns"`` of the files accounted for (embedded or skipped) when
            they were read: a later run re-reads a file whose stat changed.
    """

    def __init__(self, ids: Sequence[str], embeddings: np.ndarray, skipped: Sequence[tuple[str, str]],
                 columns: Mapping[str, Any] | None = None, stats: Mapping[str, str] | None = None) -> None:
        self.ids = list(ids)
        self.embeddings = np.asarray(embeddings, dtype=np.float32)
        self.skipped = [(str(file_id), str(reason)) for file_id, reason in skipped]
        self.columns = {name: (list(value) if _is_blobs(value) else np.asarray(value))
                        for name, value in (columns or {}).items()}
        self.stats = dict(stats or {})
        if self.embeddings.ndim != 2 or len(self.embeddings) != len(self.ids):
            raise ValueError(
                f"embeddings must be (ids, dim) with one row per id: {len(self.ids)} ids, shape {self.embeddings.shape}."
            )
        for name, value in self.columns.items():
            if len(value) != len(self.ids):
                raise ValueError(f"column {name!r} has {len(value)} rows for {len(self.ids)} ids.")

    def __len__(self) -> int:
        """Number of files the chunk accounts for, embedded or skipped."""
        return len(self.ids) + len(self.skipped)


def _is_blobs(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and len(value) > 0 and isinstance(value[0], bytes)


class ChunkStore:
    """A folder of durable result chunks with the fingerprint of what produced them.

    Args:
        folder: where the chunks live (created when missing).
        fingerprint: JSON-serialisable description of everything that changes the embeddings.
    """

    def __init__(self, folder: str | os.PathLike, fingerprint: Mapping[str, Any]) -> None:
        self.folder = Path(folder)
        self.fingerprint = json.loads(json.dumps(dict(fingerprint), sort_keys=True))

    def paths(self) -> list[Path]:
        """The complete chunk files, in the order they were written."""
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir() if _CHUNK_NAME.match(p.name))

    def open(self, resume: bool = True) -> None:
        """Prepare the folder for writing.

        Leftover temporary files of a killed run are removed. The chunks are kept when
        ``resume`` is true and ``state.json`` holds the same fingerprint; otherwise they are
        deleted and the new fingerprint is recorded.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        for leftover in self.folder.glob(".*.tmp"):
            leftover.unlink()
        state_path = self.folder / STATE_FILE
        state = json.loads(state_path.read_text()) if state_path.is_file() else None
        if resume and state == self.fingerprint:
            return
        if self.paths():
            reason = "resume is off" if not resume else "the network or preprocessing changed"
            logger.warning(f"discarding {len(self.paths())} earlier result chunks in {self.folder}: {reason}.")
        self.clear()
        with atomic_write(state_path) as handle:
            json.dump(self.fingerprint, handle, indent=2, sort_keys=True)

    def clear(self) -> None:
        """Delete every chunk."""
        for path in self.paths():
            path.unlink()

    def write(self, chunk: Chunk) -> Path:
        """Write ``chunk`` durably as the next chunk file and return its path."""
        existing = self.paths()
        number = int(_CHUNK_NAME.match(existing[-1].name).group(1)) + 1 if existing else 0
        path = self.folder / f"chunk-{number:06d}.npz"
        arrays = {f"column_{name}": value for name, value in chunk.columns.items() if not _is_blobs(value)}
        for name, blobs in chunk.columns.items():
            if _is_blobs(blobs):
                arrays[f"blob_{name}"] = np.frombuffer(b"".join(blobs), dtype=np.uint8)
                arrays[f"blobsize_{name}"] = np.array([len(blob) for blob in blobs], dtype=np.int64)
        with atomic_write(path, "wb") as handle:
            np.savez(
                handle,
                ids=np.asarray(chunk.ids, dtype=str),
                embeddings=chunk.embeddings,
                skipped_ids=np.asarray([file_id for file_id, _ in chunk.skipped], dtype=str),
                skipped_reasons=np.asarray([reason for _, reason in chunk.skipped], dtype=str),
                stat_ids=np.asarray(list(chunk.stats), dtype=str),
                stat_values=np.asarray(list(chunk.stats.values()), dtype=str),
                **arrays,
            )
        return path

    @staticmethod
    def read(path: str | os.PathLike) -> Chunk:
        """Load one chunk file."""
        ids, skipped = ChunkStore.read_index(path)
        with np.load(path, allow_pickle=False) as data:
            columns: dict[str, Any] = {key[len("column_"):]: data[key] for key in data.files
                                       if key.startswith("column_")}
            for key in data.files:
                if key.startswith("blob_"):
                    name = key[len("blob_"):]
                    ends = np.cumsum(data[f"blobsize_{name}"])
                    buffer = data[key].tobytes()
                    columns[name] = [buffer[end - size:end] for end, size in zip(ends, data[f"blobsize_{name}"])]
            stats = dict(zip(data["stat_ids"].tolist(), data["stat_values"].tolist())) if "stat_ids" in data.files \
                else {}
            return Chunk(ids, data["embeddings"], skipped, columns, stats)

    @staticmethod
    def read_index(path: str | os.PathLike) -> tuple[list[str], list[tuple[str, str]]]:
        """A chunk's embedded ids and skipped ``(id, reason)`` rows, without loading its embeddings."""
        with np.load(path, allow_pickle=False) as data:
            return data["ids"].tolist(), list(zip(data["skipped_ids"].tolist(), data["skipped_reasons"].tolist()))

    def done_ids(self) -> set[str]:
        """Ids of every file the chunks account for, embedded or skipped."""
        return set(self.entries())

    def entries(self) -> dict[str, tuple[str, str]]:
        """``id -> (stat, content_hash)`` of every file the chunks account for, from the latest chunk
        naming it (``""`` where unknown: a skipped file has no hash, an older chunk no stat)."""
        entries: dict[str, tuple[str, str]] = {}
        for path in self.paths():
            with np.load(path, allow_pickle=False) as data:
                stats = dict(zip(data["stat_ids"].tolist(), data["stat_values"].tolist())) \
                    if "stat_ids" in data.files else {}
                hashes = data["column_content_hash"].tolist() if "column_content_hash" in data.files else None
                for row, file_id in enumerate(data["ids"].tolist()):
                    entries[file_id] = (stats.get(file_id, ""), hashes[row] if hashes is not None else "")
                for file_id in data["skipped_ids"].tolist():
                    entries[file_id] = (stats.get(file_id, ""), "")
        return entries
