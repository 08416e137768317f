"""An "everything wrong" archive: every kind of bad input at once, next to good and unusual images.

:func:`make_bad_archive` writes it; training and clustering tests run on it and check that
exactly the bad files are skipped, each with its reason, and that the valid but unusual ones
(16-bit, palette, CMYK, RGBA, greyscale, 1 x 1) are read. Each case is also available alone
(:data:`BAD_CASES`, :data:`UNUSUAL_CASES`) for the reader tests.

The case of a file that vanishes between the listing of the archive and its reading needs the
listing to happen first: :meth:`BadArchive.vanish_after_listing` deletes the file right after
:func:`~monai_debclust.data.archive.scan_archive` lists it (``ImageArchive`` calls it), in the
process the test runs in.

Importable as ``bad_archive`` from any test module (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import struct
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels import get_decoder
from pydicom.uid import ExplicitVRLittleEndian, JPEGLSLossless, SecondaryCaptureImageStorage, generate_uid

from monai_debclust.data import archive as archive_module
from monai_debclust.data import make_fundus_cohort
from monai_debclust.data.skips import VANISHED

__all__ = ["BAD_CASES", "UNUSUAL_CASES", "BOMB_SIDE", "BadArchive", "Case", "make_bad_archive", "write_dicom"]

#: Side of the decompression-bomb PNG: 20,000 x 20,000 pixels, 400 MB decoded, 400 KB on disk.
BOMB_SIDE = 20_000
OK = "ok"
_RNG_SEED = 7
_PICTURE = np.random.default_rng(_RNG_SEED).integers(0, 256, (20, 30, 3), dtype=np.uint8)


@dataclass(frozen=True)
class Case:
    """One file of the archive: its name, how to write it, and what reading it must give.

    ``expected`` is ``"ok"`` or a fragment of the skip reason; ``shape`` is the
    ``read_image`` shape of an ``"ok"`` file.
    """

    name: str
    write: Callable[[Path], None]
    expected: str
    shape: tuple[int, ...] | None = None


def _bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _encoded(array: np.ndarray, file_format: str, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(array)
    (image.convert(mode) if mode else image).save(buffer, format=file_format)
    return buffer.getvalue()


def write_dicom(
    path: Path, pixels: np.ndarray | None, photometric: str = "MONOCHROME2", bits_stored: int | None = None, **elements
) -> Path:
    """A Secondary Capture DICOM file with ``pixels`` (``None``: no pixel data at all) and extra data elements."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    if pixels is not None:
        ds.set_pixel_data(pixels, photometric, bits_stored or pixels.dtype.itemsize * 8)
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    ds.save_as(path, enforce_file_format=True)
    return path


def _write_jpeg_ls_dicom(path: Path) -> None:
    write_dicom(path, np.zeros((8, 8), np.uint16))
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = JPEGLSLossless
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xf7" + bytes(60)])  # not a real JPEG-LS stream either
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)


def _jpeg_ls_reason() -> str:
    if get_decoder(JPEGLSLossless).is_available:  # a plugin is installed: the fake stream fails to decode
        return "truncated or corrupt DICOM pixel data"
    return "no decoder for compressed DICOM"


def _write_nifti(path: Path, keep: float = 1.0) -> None:
    """An uncompressed single-file NIfTI, whatever ``path`` ends with; only its first ``keep`` share."""
    volume = np.random.default_rng(_RNG_SEED).random((8, 8, 8)).astype(np.float32)
    data = nib.Nifti1Image(volume, np.eye(4)).to_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@functools.cache
def bomb_png(side: int = BOMB_SIDE) -> bytes:
    """A valid ``side`` x ``side`` 8-bit greyscale PNG of zeros, about 400 KB, written without its pixels in memory.

    Its deflate stream is one compressed block of rows repeated: after a full flush the
    compressor forgets what it saw, so the same rows compress to the same bytes again. Only the
    final Adler-32 checksum then covers more than was compressed, and is computed separately.
    """
    rows_per_block = 400
    if side % rows_per_block:
        raise ValueError(f"side must be a multiple of {rows_per_block}, got {side}.")
    block = bytes((side + 1) * rows_per_block)  # each row: filter type 0, then its pixels
    compressor = zlib.compressobj(9)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)  # with the 2-byte zlib header
    repeated = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush()[:-4]  # the final empty block, without the checksum of two blocks only
    checksum = 1
    for _ in range(side // rows_per_block):
        checksum = zlib.adler32(block, checksum)
    stream = first + repeated * (side // rows_per_block - 1) + end + struct.pack(">I", checksum)
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", stream) + _png_chunk(b"IEND", b"")


def _link(target: str) -> Callable[[Path], None]:
    return lambda path: path.symlink_to(target)


def _loop(other: str) -> Callable[[Path], None]:
    """``path -> other -> path``: writes both links (the one that is missing, in an archive)."""

    def write(path: Path) -> None:
        for link, target in ((path, other), (path.parent / other, path.name)):
            if not os.path.lexists(link):
                link.symlink_to(target)

    return write


def _folder_named_like_an_image(path: Path) -> None:
    path.mkdir()
    (path / "notes.txt").write_text("a folder whose name ends in .png\n")


_JPEG = _encoded(np.random.default_rng(_RNG_SEED).integers(0, 256, (128, 128, 3), dtype=np.uint8), "JPEG")
_PNG = _encoded(np.random.default_rng(_RNG_SEED).integers(0, 256, (128, 128, 3), dtype=np.uint8), "PNG")

#: Every bad input of issue 11, keyed by its description: each must be skipped with ``expected`` in its reason.
BAD_CASES: dict[str, Case] = {
    "empty file": Case("empty.png", _bytes(b""), "empty file"),
    "random bytes with an image extension": Case(
        "random-bytes.jpg", _bytes(np.random.default_rng(_RNG_SEED).bytes(700)), "not a JPEG image"),
    "truncated JPEG": Case("truncated.jpg", _bytes(_JPEG[: len(_JPEG) // 2]), "truncated or corrupt JPEG"),
    "truncated PNG": Case("truncated.png", _bytes(_PNG[: len(_PNG) // 2]), "truncated or corrupt PNG"),
    "DICOM without pixel data": Case("no-pixel-data.dcm", lambda path: write_dicom(path, None),
                                     "DICOM has no pixel data"),
    "DICOM with a compressed transfer syntax and no decoder": Case("jpeg-ls.dcm", _write_jpeg_ls_dicom,
                                                                   _jpeg_ls_reason()),
    "truncated NIfTI": Case("truncated.nii", lambda path: _write_nifti(path, keep=0.7), "truncated or corrupt NIfTI"),
    ".nii.gz that is not gzip": Case("not-gzip.nii.gz", _write_nifti, "not a gzip file"),
    "20,000 x 20,000 image": Case("bomb.png", lambda path: path.write_bytes(bomb_png()), "decompression bomb"),
    "symlink loop (first link)": Case("loop-a.png", _loop("loop-b.png"), "symbolic link loop"),
    "symlink loop (second link)": Case("loop-b.png", _loop("loop-a.png"), "symbolic link loop"),
    "dangling symlink": Case("dangling.png", _link("no-such-file.png"), "broken symbolic link"),
    "file that vanishes between listing and reading": Case(
        "vanishes.png", _bytes(_encoded(_PICTURE, "PNG")), VANISHED),
}

#: Valid images of unusual kinds: each must be read, as ``shape``.
UNUSUAL_CASES: dict[str, Case] = {
    "16-bit PNG": Case("deep-16bit.png", lambda path: Image.fromarray(
        (np.arange(600, dtype=np.uint16).reshape(20, 30) * 100)).save(path), OK, (1, 20, 30)),
    "palette PNG": Case("palette.png", lambda path: Image.fromarray(_PICTURE).quantize(colors=16).save(path), OK,
                        (3, 20, 30)),
    "CMYK JPEG": Case("cmyk.jpg", _bytes(_encoded(_PICTURE, "JPEG", "CMYK")), OK, (3, 20, 30)),
    "RGBA PNG": Case("rgba.png", _bytes(_encoded(_PICTURE, "PNG", "RGBA")), OK, (3, 20, 30)),
    "greyscale image in an RGB bundle": Case("grey.png", _bytes(_encoded(_PICTURE[..., 0], "PNG")), OK, (1, 20, 30)),
    "1 x 1 image": Case("tiny-1x1.png", _bytes(_encoded(_PICTURE[:1, :1], "PNG")), OK, (3, 1, 1)),
}

#: Entries that are not image files: never listed, so neither read nor skipped. The symbolic link
#: to a folder points back to the archive root, ``..`` from a class folder.
NOT_LISTED: dict[str, Case] = {
    "directory named like an image": Case("folder-named.png", _folder_named_like_an_image, "not listed"),
    "symlinked folder loop": Case("back-to-root", _link(".."), "not listed"),
}
_FLAT_LOOP = Case("back-to-root", _link("."), "not listed")


@dataclass
class BadArchive:
    """What :func:`make_bad_archive` wrote.

    Attributes:
        root: the archive folder.
        layout: ``"folder"`` (``glaucoma/`` and ``normal/`` class folders) or ``"flat"``.
        expected: ``{id: "ok" or a fragment of the skip reason}`` for every file the archive lists.
        shapes: ``read_image`` shape of each unusual image, by id.
        vanishing: the id of the file :meth:`vanish_after_listing` deletes.
        not_listed: paths (relative, POSIX) that must not be listed: a folder named like an image,
            a symbolic link to a folder that loops back.
    """

    root: Path
    layout: str
    expected: dict[str, str] = field(default_factory=dict)
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    vanishing: str = ""
    not_listed: list[str] = field(default_factory=list)

    @property
    def skipped_ids(self) -> list[str]:
        """Sorted ids that must be skipped."""
        return sorted(i for i, reason in self.expected.items() if reason != OK)

    @property
    def readable_ids(self) -> list[str]:
        """Sorted ids that must be read: the good images and the unusual ones."""
        return sorted(i for i, reason in self.expected.items() if reason == OK)

    def vanish(self) -> None:
        """Delete the vanishing file now (after the archive was listed)."""
        (self.root / self.vanishing).unlink()

    @contextmanager
    def vanish_after_listing(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        """Within the block, the first listing of this archive by ``scan_archive`` deletes the vanishing file.

        Works for anything that lists the archive in this process through
        :func:`~monai_debclust.data.archive.scan_archive` (``ImageArchive`` does).
        """
        scan_archive = archive_module.scan_archive

        def listing_then_vanish(root, *args, **kwargs):
            ids = scan_archive(root, *args, **kwargs)
            if Path(root).resolve() == self.root.resolve() and (self.root / self.vanishing).exists():
                self.vanish()
            return ids

        with monkeypatch.context() as patch:
            patch.setattr(archive_module, "scan_archive", listing_then_vanish)
            yield


def make_bad_archive(root: Path, layout: str = "folder", good_per_class: int = 6, image_size: int = 32) -> BadArchive:
    """Write an archive holding every bad case and every unusual image next to good synthetic fundus images.

    Args:
        root: the archive folder to create (absent or empty).
        layout: ``"folder"``: good images in ``glaucoma/`` and ``normal/``, the other cases in
            ``normal/``; ``"flat"``: everything in ``root`` itself, no class folders.
        good_per_class: good synthetic images of each class.
        image_size: side of the good images.
    """
    if layout not in ("folder", "flat"):
        raise ValueError(f"layout must be 'folder' or 'flat', got {layout!r}.")
    root = Path(root)
    make_fundus_cohort(root, counts={"glaucoma": good_per_class, "normal": good_per_class}, image_size=image_size,
                       seed=0)
    (root / "labels.csv").unlink()
    if layout == "flat":
        for image in sorted(root.glob("*/*.png")):
            image.rename(root / image.name)
        for folder in ("glaucoma", "normal"):
            shutil.rmtree(root / folder)
    result = BadArchive(root, layout)
    result.expected = {path.relative_to(root).as_posix(): OK for path in root.rglob("*.png")}
    folder = root / "normal" if layout == "folder" else root
    for case in (*BAD_CASES.values(), *UNUSUAL_CASES.values()):
        case.write(folder / case.name)
        image_id = (folder / case.name).relative_to(root).as_posix()
        result.expected[image_id] = case.expected
        if case.shape is not None:
            result.shapes[image_id] = case.shape
    not_listed = [NOT_LISTED["directory named like an image"],
                  NOT_LISTED["symlinked folder loop"] if layout == "folder" else _FLAT_LOOP]
    for case in not_listed:
        case.write(folder / case.name)
        result.not_listed.append((folder / case.name).relative_to(root).as_posix())
    vanishing = BAD_CASES["file that vanishes between listing and reading"]
    result.vanishing = (folder / vanishing.name).relative_to(root).as_posix()
    (root / "notes.txt").write_text("not an image, never listed\n")
    return result
