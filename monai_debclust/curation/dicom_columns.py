"""DICOM columns of an archive's images: keyed hashes of the patient, study and series, and a few plain tags.

``patient``, ``study`` and ``series`` are HMAC-SHA256 (RFC 2104) of PatientID,
StudyInstanceUID and SeriesInstanceUID under a secret key, cut to 16 hexadecimal digits: the
same identifier gives the same column in every run made with the key, and without the key
nobody can test a guessed PatientID against the column (a plain hash of a medical record number
is reversed by hashing every likely number). The key is made once per user, 32 random bytes in
``~/.config/monai-debclust/secret`` (``$XDG_CONFIG_HOME`` respected; mode 0600), or read from a
file the ``dicom_secret`` setting names; it is never written to the output folder.

``modality``, ``laterality`` (Laterality, else ImageLaterality) and ``study_year`` (the year of
StudyDate, never the date) are copied. A missing tag, or a value that does not decode, gives an
empty string; no raw PatientID, PatientName, UID or date, and no pydicom message (which can quote
a value), leaves this module.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

__all__ = ["DICOM_COLUMNS", "default_secret_path", "dicom_columns", "key_fingerprint", "load_secret"]

#: The columns, in the order of ``assignments.csv``.
DICOM_COLUMNS = ("patient", "study", "series", "modality", "laterality", "study_year")
_KEYED = {"patient": "PatientID", "study": "StudyInstanceUID", "series": "SeriesInstanceUID"}
_CODE = re.compile(r"^[A-Z0-9_ ]{1,16}$")
_HASH_DIGITS = 16


def default_secret_path() -> Path:
    """``$XDG_CONFIG_HOME/monai-debclust/secret``, ``~/.config/monai-debclust/secret`` by default."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "monai-debclust" / "secret"


def load_secret(path: str | os.PathLike | None = None) -> bytes:
    """The key at ``path`` (default :func:`default_secret_path`), made there (mode 0600) when missing.

    Raises:
        ValueError: the file holds fewer than 16 bytes (the message names the file, not its content).
    """
    path = Path(path) if path else default_secret_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    key = path.read_bytes()
    if len(key) < 16:
        raise ValueError(f"the DICOM key file {path} holds fewer than 16 bytes; delete it to make a new one.")
    return key


def key_fingerprint(key: bytes) -> str:
    """A short keyed digest that tells keys apart (part of the resume fingerprint) and reveals nothing of them."""
    return hmac.new(key, b"monai-debclust key fingerprint", hashlib.sha256).hexdigest()[:16]


def _text(ds, keyword: str) -> str:
    try:
        value = ds.get(keyword)
        if value is None:
            return ""
        if not isinstance(value, str) and hasattr(value, "__len__") and not hasattr(value, "strip"):
            value = value[0] if len(value) else ""
        return str(value).strip()
    except Exception:  # a value that does not decode: an empty column, and its message (which may quote it) dropped
        return ""


def dicom_columns(ds, key: bytes) -> dict[str, str]:
    """The :data:`DICOM_COLUMNS` of a pydicom dataset, every value a string (empty where unknown)."""
    columns = {}
    for column, keyword in _KEYED.items():
        value = _text(ds, keyword)
        columns[column] = hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:_HASH_DIGITS] if value else ""
    modality = _text(ds, "Modality").upper()
    laterality = (_text(ds, "Laterality") or _text(ds, "ImageLaterality")).upper()
    date = _text(ds, "StudyDate")
    year = date[:4] if len(date) == 8 and date.isdigit() else ""
    columns["modality"] = modality if _CODE.match(modality) else ""
    columns["laterality"] = laterality if laterality in ("L", "R", "B", "U") else ""
    columns["study_year"] = year
    return columns
