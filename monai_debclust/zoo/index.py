"""A local zoo index and downloads from it: the SHA-256 is checked before anything is extracted.

An index is a JSON file::

    {"bundles": [{"name": "refuge", "version": "0.2.1", "url": "http://host/refuge_v0.2.1.zip",
                  "sha256": "<64 hex>", "description": "..."}]}

``url`` is ``http://``, ``https://``, ``file://`` or a path relative to the index file.
:func:`publish` adds (or replaces) the entry of an exported zip; :func:`download_bundle` fetches
the zip of a name (the highest version unless one is asked for) into a temporary file, refuses
it when its SHA-256 differs from the index's, and extracts it with
:func:`~monai_debclust.zoo.archive.safe_extract` (no ``..``, absolute path or symbolic link, one
top-level folder named after the bundle), then keeps the folder only when its configs hold only
the code of the packaged template its metadata names
(:func:`~monai_debclust.zoo.provenance.check_provenance`; ``trust=True`` keeps it anyway).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import urllib.parse
import urllib.request
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from monai_debclust.errors import UserError
from monai_debclust.utils import atomic_write
from monai_debclust.zoo.archive import bundle_folder_of, safe_extract, sha256_file
from monai_debclust.zoo.provenance import Provenance, ProvenanceError, check_provenance

__all__ = ["DownloadError", "IndexEntry", "ZooIndexError", "download_bundle", "find_entry", "publish", "read_index",
           "write_index"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SCHEMES = ("http", "https", "file")
#: Seconds to wait for a server before giving up.
TIMEOUT = 60


class ZooIndexError(UserError, ValueError):
    """An index file that cannot be read, or a name or version it does not hold."""


class DownloadError(UserError, ValueError):
    """A download that failed or was refused (a SHA-256 other than the index's)."""


@dataclass(frozen=True)
class IndexEntry:
    """One bundle zip of a zoo index."""

    name: str
    version: str
    url: str
    sha256: str
    description: str

    def check(self, where: str) -> IndexEntry:
        """This entry, or a :class:`ZooIndexError` naming the field at fault."""
        if not _NAME.fullmatch(self.name):
            raise ZooIndexError(f"{where}: name {self.name!r} is not a bundle name (letters, digits, '_', '.', '-').")
        if not _VERSION.fullmatch(self.version):
            raise ZooIndexError(f"{where}: version {self.version!r} is not MAJOR.MINOR.PATCH.")
        if not _SHA256.fullmatch(self.sha256):
            raise ZooIndexError(f"{where}: sha256 {self.sha256!r} is not 64 lowercase hexadecimal characters.")
        return self


def read_index(path: str | Path) -> list[IndexEntry]:
    """The entries of the index file ``path``, each checked."""
    path = Path(path)
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ZooIndexError(f"no zoo index at {path}.") from exc
    except json.JSONDecodeError as exc:
        raise ZooIndexError(f"{path} is not valid JSON: {exc}") from exc
    bundles = content.get("bundles") if isinstance(content, dict) else None
    if not isinstance(bundles, list):
        raise ZooIndexError(f"{path}: a zoo index is a JSON object with a list 'bundles'.")
    entries = []
    fields = list(IndexEntry.__dataclass_fields__)
    for position, item in enumerate(bundles):
        where = f"{path} bundles[{position}]"
        if not isinstance(item, dict) or any(not isinstance(item.get(key), str) for key in fields):
            raise ZooIndexError(f"{where}: an entry has the text fields {', '.join(fields)}.")
        entries.append(IndexEntry(**{key: item[key] for key in fields}).check(where))
    return entries


def write_index(path: str | Path, entries: list[IndexEntry]) -> Path:
    """Write ``entries`` to the index file ``path``, sorted by name and version, atomically."""
    path = Path(path)
    ordered = sorted(entries, key=lambda entry: (entry.name, _version_key(entry.version)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, encoding="utf-8") as handle:
        handle.write(json.dumps({"bundles": [asdict(entry) for entry in ordered]}, indent=2) + "\n")
    return path


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(map(int, version.split(".")))


def find_entry(entries: list[IndexEntry], name: str, version: str | None = None) -> IndexEntry:
    """The entry of ``name`` at ``version``, or its highest version when ``version`` is None."""
    matching = [entry for entry in entries if entry.name == name and version in (None, entry.version)]
    if not matching:
        known = ", ".join(sorted({f"{entry.name} {entry.version}" for entry in entries})) or "none"
        wanted = f"{name} {version}" if version else name
        raise ZooIndexError(f"the index has no bundle {wanted}; it has: {known}.")
    return max(matching, key=lambda entry: _version_key(entry.version))


def publish(zip_path: str | Path, index_path: str | Path, url: str, description: str | None = None) -> IndexEntry:
    """Add the exported bundle zip ``zip_path``, served at ``url``, to the index ``index_path`` (created if needed).

    The name is the zip's top-level folder, the version and (by default) the description come
    from its ``configs/metadata.json``; an entry of the same name and version is replaced.
    """
    zip_path = Path(zip_path)
    name = bundle_folder_of(zip_path)
    with zipfile.ZipFile(zip_path) as archive:
        try:
            meta = json.loads(archive.read(f"{name}/configs/metadata.json"))
        except KeyError as exc:
            raise ZooIndexError(f"{zip_path} has no {name}/configs/metadata.json; is it an exported bundle?") from exc
    entry = IndexEntry(name, meta["version"], url, sha256_file(zip_path), description or meta.get("task", "")).check(
        str(zip_path))
    entries = read_index(index_path) if Path(index_path).is_file() else []
    kept = [item for item in entries if (item.name, item.version) != (entry.name, entry.version)]
    write_index(index_path, [*kept, entry])
    return entry


def _resolved_url(url: str, index_path: Path) -> str:
    """``url`` as a URL urllib opens: a relative path is relative to the index file."""
    scheme = urllib.parse.urlparse(url).scheme
    if scheme in _SCHEMES:
        return url
    if scheme and len(scheme) > 1:
        raise DownloadError(f"url {url!r}: only {', '.join(_SCHEMES)} URLs or paths relative to the index are read.")
    return (index_path.resolve().parent / url).as_uri()


def _fetch(url: str, destination: Path) -> str:
    """Copy ``url`` into ``destination``; return the SHA-256 of what was received."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response, open(destination, "wb") as handle:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                handle.write(chunk)
    except (OSError, ValueError) as exc:
        raise DownloadError(f"cannot download {url}: {exc}") from exc
    return digest.hexdigest()


def download_bundle(
    name: str, index_path: str | Path, bundle_dir: str | Path, version: str | None = None, trust: bool = False
) -> tuple[Path, Provenance]:
    """Download the bundle ``name`` of the index ``index_path`` into ``bundle_dir/<name>``.

    Args:
        name: the bundle's name in the index.
        index_path: the zoo index.
        bundle_dir: where the bundle folder is extracted.
        version: the version to fetch; default the highest.
        trust: keep a bundle whose configs hold code that is not its packaged template's.

    Returns:
        The bundle folder and how it compares with its packaged template.

    Raises:
        ZooIndexError: an unreadable index or a name or version it does not have.
        DownloadError: a failed download, or a SHA-256 other than the index's (nothing is extracted).
        ArchiveError: a zip entry that would escape the target folder, or a folder already there.
        ProvenanceError: config code the package did not ship (the extracted folder is removed).
    """
    index_path, bundle_dir = Path(index_path), Path(bundle_dir)
    entry = find_entry(read_index(index_path), name, version)
    url = _resolved_url(entry.url, index_path)
    bundle_dir.mkdir(parents=True, exist_ok=True)
    if (bundle_dir / entry.name).exists():
        raise DownloadError(f"{bundle_dir / entry.name} already exists; remove it or choose another --bundle_dir.")
    handle, temporary = tempfile.mkstemp(prefix=f".{entry.name}-", suffix=".zip", dir=bundle_dir)
    os.close(handle)
    try:
        digest = _fetch(url, Path(temporary))
        if digest != entry.sha256:
            raise DownloadError(f"the SHA-256 of {url} is {digest}, the index says {entry.sha256}: the file is not "
                                f"the one published as {entry.name} {entry.version}; refused, nothing extracted.")
        folder = safe_extract(temporary, bundle_dir, expected_folder=entry.name)
    finally:
        Path(temporary).unlink(missing_ok=True)
    try:
        return folder, check_provenance(folder, trust)
    except ProvenanceError as exc:
        shutil.rmtree(folder)
        raise ProvenanceError(f"{exc} The downloaded folder was removed.") from None
