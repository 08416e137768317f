"""Bundle zips: a SHA-256 of a file, a reproducible zip of a bundle folder, and a safe extraction.

A Model Zoo zip holds one top-level folder named after the bundle (``<name>/configs/...``). A
downloaded zip is untrusted input: :func:`safe_extract` refuses, before writing anything, an entry
with an absolute path or a drive, a ``..`` component, a symbolic link, or one outside the single
top-level folder, and extracts into a staging folder that takes the bundle folder's place
only when every file was written and flushed (:func:`~monai_debclust.utils.files.atomic_folder`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from monai_debclust.errors import UserError
from monai_debclust.utils import atomic_write
from monai_debclust.utils.files import atomic_folder

__all__ = ["ArchiveError", "bundle_folder_of", "safe_extract", "sha256_file", "zip_folder"]

#: Timestamp written for every zip entry, so that the same files make the same zip (and sha256).
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_CHUNK = 1 << 20


class ArchiveError(UserError, ValueError):
    """A bundle zip that is refused: the message names the entry and the reason."""


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of the file at ``path``, as 64 lowercase hexadecimal characters."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def zip_folder(folder: str | os.PathLike, zip_path: str | os.PathLike) -> Path:
    """Zip ``folder`` as ``<folder name>/...`` into ``zip_path``, reproducibly.

    Entries are sorted, stamped :data:`ZIP_TIME` and given mode 0644, so zipping the same files
    twice gives the same bytes. Symbolic links are refused (a bundle holds plain files).
    """
    folder, zip_path = Path(folder), Path(zip_path)
    files = sorted(path for path in folder.rglob("*") if not path.is_dir() or path.is_symlink())
    links = [path for path in files if path.is_symlink()]
    if links:
        raise ArchiveError(f"{links[0]} is a symbolic link; a bundle holds plain files only.")
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(zip_path, "wb") as handle, zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            entry = zipfile.ZipInfo(f"{folder.name}/{path.relative_to(folder).as_posix()}", date_time=ZIP_TIME)
            entry.external_attr = (stat.S_IFREG | 0o644) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as source, archive.open(entry, "w") as target:
                shutil.copyfileobj(source, target, _CHUNK)
    return zip_path


def _entry_parts(name: str) -> tuple[str, ...]:
    """The path components of a zip entry, or an :class:`ArchiveError` if it could leave the target."""
    if "\\" in name:
        raise ArchiveError(f"zip entry {name!r} uses backslashes; refused (it could name a path outside the target).")
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        raise ArchiveError(f"zip entry {name!r} has an absolute path; refused.")
    if ".." in path.parts:
        raise ArchiveError(f"zip entry {name!r} contains '..' and would escape the target folder; refused.")
    return path.parts


def _is_symlink(entry: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(entry.external_attr >> 16)


def bundle_folder_of(zip_path: str | os.PathLike) -> str:
    """The single top-level folder of a bundle zip, after checking every entry (see :func:`safe_extract`).

    Raises:
        ArchiveError: naming the first entry that is absolute, holds ``..``, is a symbolic link,
            or lies outside the one top-level folder.
    """
    try:
        with zipfile.ZipFile(zip_path) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise ArchiveError(f"{zip_path} is not a zip file: {exc}") from exc
    tops = set()
    for entry in entries:
        parts = _entry_parts(entry.filename)
        if _is_symlink(entry):
            raise ArchiveError(f"zip entry {entry.filename!r} is a symbolic link; refused.")
        if not parts:
            raise ArchiveError(f"zip entry {entry.filename!r} has an empty name; refused.")
        if len(parts) == 1 and not entry.is_dir():
            raise ArchiveError(f"zip entry {entry.filename!r} is outside a bundle folder; a bundle zip holds one "
                               "top-level folder named after the bundle.")
        tops.add(parts[0])
    if len(tops) != 1:
        raise ArchiveError(f"{zip_path} holds {len(tops)} top-level folders ({', '.join(sorted(tops)) or 'none'}); "
                           "a bundle zip holds exactly one, named after the bundle.")
    return tops.pop()


def safe_extract(zip_path: str | os.PathLike, target_dir: str | os.PathLike, expected_folder: str | None = None) -> Path:
    """Extract a bundle zip into ``target_dir/<its top-level folder>`` and return that folder.

    Args:
        zip_path: the bundle zip.
        target_dir: where the bundle folder goes; created if needed.
        expected_folder: the bundle name the zip must hold, when known (e.g. from a zoo index).

    Raises:
        ArchiveError: an entry that could escape ``target_dir`` (see :func:`bundle_folder_of`), a
            top-level folder other than ``expected_folder``, or a bundle folder already there.
    """
    folder = bundle_folder_of(zip_path)
    if expected_folder is not None and folder != expected_folder:
        raise ArchiveError(f"{zip_path} holds the bundle folder {folder!r}, not {expected_folder!r}; refused.")
    target_dir = Path(target_dir)
    destination = target_dir / folder
    if destination.exists():
        raise ArchiveError(f"{destination} already exists; remove it or choose another --bundle_dir.")
    target_dir.mkdir(parents=True, exist_ok=True)
    with atomic_folder(destination) as staging, zipfile.ZipFile(zip_path) as archive:
        for entry in archive.infolist():
            path = staging.joinpath(*_entry_parts(entry.filename)[1:])  # the entry's path inside the bundle folder
            if entry.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(entry) as source, open(path, "wb") as target:
                shutil.copyfileobj(source, target, _CHUNK)
    return destination
