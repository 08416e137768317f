"""Writing result files atomically: readers see the old file or the complete new one, never a partial write.

Every writer of a result (tables, reports, JSON summaries, embeddings, weights, exported bundles
and their zip) goes through :func:`atomic_write` (a file object) or :func:`atomic_path` (a path,
for writers that insist on one, such as ``numpy.lib.format.open_memmap``). The content goes to a
temporary file of a unique name in the target's folder, which is flushed to disk (``fsync``)
and then renamed over the target (``os.replace``, atomic on POSIX and Windows), and the folder is
flushed so that the rename survives a power cut. A writer killed half-way leaves the previous
file intact (and at most a hidden ``.<name>.<random>.tmp`` file); two writers of the same file
at once each write their own temporary file, and the last rename wins whole.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["TEMPORARY_SUFFIX", "atomic_path", "atomic_write", "write_json"]

#: Suffix of the temporary files; a hidden ``.<name>.<random>.tmp`` is a leftover of a killed writer.
TEMPORARY_SUFFIX = ".tmp"
_WRITE_MODES = ("w", "wb", "w+b", "wb+")


def _fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename) to disk where the platform allows it."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open folders
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_file(path: Path) -> None:
    """Flush a written file's content to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _new_temporary(path: Path) -> Path:
    """Create (exclusively, with the default permissions) an empty temporary sibling of ``path`` of a unique name."""
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}{TEMPORARY_SUFFIX}")
        try:
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return temporary


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield the path of a new temporary sibling of ``path`` to write; on success flush it and rename it to ``path``.

    On an exception the temporary file is removed and ``path`` is left untouched.

    Example:
        >>> import numpy as np, tempfile
        >>> target = Path(tempfile.mkdtemp()) / "embeddings.npy"
        >>> with atomic_path(target) as temporary:
        ...     np.lib.format.open_memmap(temporary, mode="w+", dtype=np.float32, shape=(2, 3)).flush()
        >>> np.load(target).shape
        (2, 3)
    """
    path = Path(path)
    temporary = _new_temporary(path)
    try:
        yield temporary
        _fsync_file(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """Open a new temporary sibling of ``path`` for writing; on success flush it and rename it to ``path``.

    Readers see either the old file or the complete new one, never a partial write; see the
    module docstring. The handle suits ``json.dump``, ``csv.writer``, ``numpy.save``,
    ``torch.save``, ``zipfile.ZipFile(handle, "w")`` and ``figure.savefig(handle, format=...)``.

    Args:
        path: the final file.
        mode: ``"w"`` (text) or ``"wb"`` (bytes; ``"w+b"`` where the writer reads back, as a zip does).
        open_kwargs: passed to :func:`open`, e.g. ``newline=""`` for CSV.
    """
    if mode not in _WRITE_MODES:
        raise ValueError(f"atomic_write writes a new file: mode must be one of {', '.join(_WRITE_MODES)}, got {mode!r}.")
    with atomic_path(path) as temporary, open(temporary, mode, **open_kwargs) as handle:
        yield handle


def write_json(content: Any, path: str | os.PathLike) -> Path:
    """Write ``content`` as indented JSON to ``path``, atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, encoding="utf-8") as handle:
        handle.write(json.dumps(content, indent=2) + "\n")
    return path
