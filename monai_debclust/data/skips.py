"""Skipped files: which errors mean a bad file, how many were skipped and why, and when that is too many.

A reader turns what a decoder raises for a bad file into an :class:`ImageReadError` with a
short reason, and the run skips the file and lists it in ``skipped.csv``. Everything else a
reader or a transform raises (``MemoryError``, ``TypeError``, ``AttributeError``, an ``OSError``
of exhausted file descriptors, ...) is a bug or a sick machine and propagates: skipping it
would silently skip every file and end the run with success.

A reason reads ``"<category>: <detail>"`` (or only the category). The category is short and
stable (``"empty file"``, ``"truncated or corrupt JPEG"``, ``"decompression bomb"``, ...); the
detail says what this file got wrong. :func:`skipped_by_reason` counts the categories and
:func:`check_skipped` ends a run that skipped more than a share of its files
(``max_skipped_fraction``), since that is more likely a wrong folder, a missing decoder or a
bug than a few damaged files.

An ``OSError`` with an errno of :data:`TRANSIENT_ERRNOS` (a network file system timing out, a
busy device) gives an error marked ``transient``: the file may be fine, so a resumable run
reports it but does not record it as done, and the next run tries it again.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import struct
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from nibabel.filebasedimages import ImageFileError
from nibabel.spatialimages import HeaderDataError
from PIL import Image
from pydicom.errors import BytesLengthException, InvalidDicomError

from monai_debclust.errors import UserError

__all__ = [
    "DECODE_ERRORS",
    "DEFAULT_MAX_SKIPPED_FRACTION",
    "FILE_ERRORS",
    "RESOURCE_ERRNOS",
    "TRANSIENT_ERRNOS",
    "VANISHED",
    "ImageReadError",
    "TooManySkippedError",
    "as_read_error",
    "check_skipped",
    "decoder_guard",
    "os_error_reason",
    "reason_category",
    "skipped_by_reason",
]

logger = logging.getLogger(__name__)

#: A run that skips more than this share of its files fails (after writing its results).
DEFAULT_MAX_SKIPPED_FRACTION = 0.25
#: Longest reason kept (longer ones are cut and end with ``...``).
REASON_CHARS = 200

#: ``OSError`` numbers that say the storage failed for now, not that the file is bad: retried on
#: the next run. ``EIO`` is here because network and FUSE file systems report timeouts with it;
#: on a local disk it may be a bad sector, which the next run simply reports again.
TRANSIENT_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("EAGAIN", "EBUSY", "EINTR", "EIO", "ETIMEDOUT", "ESTALE", "ENOLINK", "EREMOTEIO", "ECONNRESET",
                 "ECONNABORTED", "ENETDOWN", "ENETUNREACH", "EHOSTDOWN", "EHOSTUNREACH")
    if hasattr(errno, name)
)
#: ``OSError`` numbers of this process or machine running out of something (file descriptors,
#: kernel memory): never a file's fault, so they propagate instead of skipping every file.
RESOURCE_ERRNOS = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOMEM))

#: Exceptions that mean a bad file whoever raises them (another reader, a MONAI transform).
FILE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # Pillow: truncated or broken data; nibabel: a short .nii; the file system
    EOFError,  # a cut-short gzip stream
    zlib.error,  # a corrupt deflate stream (.nii.gz)
    Image.DecompressionBombError,
    InvalidDicomError,
    BytesLengthException,
    ImageFileError,  # nibabel cannot tell the file type
    HeaderDataError,
)
#: Exceptions that mean a bad file when raised by a decoder inside the readers' guard
#: (from the pipeline's own code a ``ValueError`` may as well be a bug, so only there).
DECODE_ERRORS: tuple[type[BaseException], ...] = (*FILE_ERRORS, ValueError, struct.error, SyntaxError)

#: The reason of a file listed with the archive and gone when it was read.
VANISHED = "file vanished since the archive was listed"


class ImageReadError(Exception):
    """A file that cannot be decoded to an image; ``reason`` says why in a few words.

    ``transient`` is true when the storage failed rather than the file (see
    :data:`TRANSIENT_ERRNOS`): a later run should try the file again.
    """

    def __init__(self, path: str | os.PathLike, reason: str, transient: bool = False) -> None:
        reason = " ".join(reason.split())  # one line, at most REASON_CHARS characters
        if len(reason) > REASON_CHARS:
            reason = reason[: REASON_CHARS - 3] + "..."
        super().__init__(f"{path}: {reason}")
        self.path, self.reason, self.transient = str(path), reason, transient

    def __reduce__(self):  # keeps its fields through pickling, e.g. out of a DataLoader worker
        return type(self), (self.path, self.reason, self.transient)


def os_error_reason(path: Path, exc: OSError, what: str) -> ImageReadError | None:
    """The read error an ``OSError`` of reading ``path`` means; ``None`` when it must propagate."""
    code = exc.errno
    if code in RESOURCE_ERRNOS:
        return None
    if code in TRANSIENT_ERRNOS:
        return ImageReadError(path, f"temporary I/O error: {exc.strerror or exc}", transient=True)
    if code == errno.ENOENT and (exc.filename is None or Path(exc.filename) == path):
        if os.path.islink(path):
            return ImageReadError(path, f"broken symbolic link: its target {os.readlink(path)} does not exist")
        return ImageReadError(path, VANISHED)
    if code == errno.ELOOP:
        return ImageReadError(path, "symbolic link loop")
    if code in (errno.EACCES, errno.EPERM):
        return ImageReadError(path, "permission denied")
    if code == errno.EISDIR:
        return ImageReadError(path, "a folder, not a file")
    return ImageReadError(path, f"{what}: {exc.strerror or exc}" if code is not None else f"{what}: {exc}")


@contextlib.contextmanager
def decoder_guard(path: Path, what: str, also: tuple[type[BaseException], ...] = (),
                  quote: bool = True) -> Iterator[None]:
    """Within the block, what a decoder raises for a bad file becomes an :class:`ImageReadError`.

    The block holds decoder calls only (Pillow, pydicom, nibabel, reading the file), never the
    project's own conversion: a ``ValueError`` of the project's code is a bug, not a bad file,
    and the project's own checks of a file's content raise ``ImageReadError`` themselves.
    Caught are :data:`DECODE_ERRORS` and ``also``; the reason is ``f"{what}: {message}"``, or names
    the file-system problem (see :func:`os_error_reason`); with ``quote=False`` the message is
    replaced by the exception's type (pydicom's messages can quote a PatientID or a date). Other
    exceptions, and an ``OSError`` of :data:`RESOURCE_ERRNOS`, propagate; an ``ImageReadError`` passes through unchanged.
    """
    try:
        yield
    except ImageReadError:
        raise
    except (*DECODE_ERRORS, *also) as exc:
        error = os_error_reason(path, exc, what) if isinstance(exc, OSError) else ImageReadError(
            path, f"{what}: {(str(exc) if quote else '') or type(exc).__name__}")
        if error is None:
            raise
        raise error from exc


def as_read_error(path: str | os.PathLike, exc: BaseException, what: str = "unreadable file") -> ImageReadError | None:
    """The :class:`ImageReadError` that ``exc``, raised while reading ``path``, means; ``None`` for a bug.

    ``exc`` counts as a bad file when it is an :class:`ImageReadError` or one of
    :data:`FILE_ERRORS` (without an errno of :data:`RESOURCE_ERRNOS`); ``what`` starts the
    reason of a decoder's error (``"truncated or corrupt PNG"``).
    """
    if isinstance(exc, ImageReadError):
        return exc
    if isinstance(exc, OSError):
        return os_error_reason(Path(path), exc, what)
    if isinstance(exc, FILE_ERRORS):
        return ImageReadError(path, f"{what}: {str(exc) or type(exc).__name__}")
    return None


def reason_category(reason: str) -> str:
    """The stable part of a skip reason: the text before its first ``": "``, without parentheses.

    ``"truncated or corrupt JPEG: image file is truncated (25 bytes not processed)"`` gives
    ``"truncated or corrupt JPEG"``.
    """
    category, previous = reason.split(": ", 1)[0], None
    while category != previous:  # innermost parentheses first, so nested ones go too
        category, previous = re.sub(r"\s*\([^()]*\)", "", category), category
    return " ".join(category.split()) or "unknown"


def skipped_by_reason(skipped: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Skipped files per reason category (see :func:`reason_category`), the most frequent first."""
    counts = Counter(reason_category(reason) for _, reason in skipped)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


class TooManySkippedError(UserError, RuntimeError):
    """More than ``max_skipped_fraction`` of a run's files could not be read."""

    def __init__(self, skipped: int, total: int, max_skipped_fraction: float,
                 report_path: str | os.PathLike | None = None) -> None:
        where = f"; the files and reasons are listed in {report_path}" if report_path is not None else ""
        super().__init__(
            f"{skipped} of {total} files ({skipped / total:.1%}) could not be read, more than "
            f"max_skipped_fraction = {max_skipped_fraction:g} ({max_skipped_fraction:.1%}){where}. Check the archive "
            "folder and the reasons; set max_skipped_fraction higher to accept this many bad files."
        )
        self.skipped, self.total, self.max_skipped_fraction = skipped, total, max_skipped_fraction
        self.report_path = None if report_path is None else str(report_path)

    def __reduce__(self):
        return type(self), (self.skipped, self.total, self.max_skipped_fraction, self.report_path)


def check_skipped(
    skipped: Sequence[tuple[str, str]],
    total: int,
    max_skipped_fraction: float,
    report_path: str | os.PathLike | None = None,
) -> None:
    """Log how many of ``total`` files were skipped, one line per reason; fail when that is too many.

    Args:
        skipped: ``(file id, reason)`` of every skipped file.
        total: the files the run tried to read, skipped ones included.
        max_skipped_fraction: the largest acceptable share of skipped files, in ``[0, 1]``.
        report_path: where the skipped files are listed (``skipped.csv``), named in the messages.

    Raises:
        ValueError: ``max_skipped_fraction`` outside ``[0, 1]``.
        TooManySkippedError: ``len(skipped) / total > max_skipped_fraction``.
    """
    if not 0.0 <= max_skipped_fraction <= 1.0:
        raise ValueError(f"max_skipped_fraction must be in [0, 1], got {max_skipped_fraction}.")
    if not skipped:
        return
    total = max(total, len(skipped))
    where = f" (listed in {report_path})" if report_path is not None else ""
    logger.warning("skipped %d of %d files (%.1f%%)%s:", len(skipped), total, 100.0 * len(skipped) / total, where)
    for category, count in skipped_by_reason(skipped).items():
        logger.warning("  %6d  %s", count, category)
    if len(skipped) / total > max_skipped_fraction:
        raise TooManySkippedError(len(skipped), total, max_skipped_fraction, report_path)
