"""An archive: a folder tree of images, optionally labelled by a dataset layout.

A file's identifier everywhere is its path relative to the archive root, with ``/``
separators (``glaucoma/g0001.jpg``). Hidden files and folders (``.name``) are skipped, and so
is everything that is not an image by :func:`~monai_debclust.data.readers.image_format`
(``labels.csv``, ``LICENSE.txt``, a ``DICOMDIR`` index, ...), and a folder named like an image
(``x.png/``). Symbolic links to folders are followed, each real folder scanned once, so a link
that loops back to an ancestor ends the descent instead of recursing forever. A symbolic link to
a file is listed like the file; a broken or looping one is listed too, and skipped with its
reason when it is read.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath

from monai_debclust.data.layouts import apply_layout, get_layout
from monai_debclust.errors import EmptyArchiveError
from monai_debclust.data.readers import IMAGE_EXTENSIONS, image_format

__all__ = ["AUTO_LAYOUT", "scan_archive", "choose_layout", "ImageArchive"]

logger = logging.getLogger(__name__)

#: The layout that looks at the archive: class sub-folders when there are some, unlabelled otherwise.
AUTO_LAYOUT = "auto"
#: Names that mean "no labels" (``--layout none`` on a command line, ``null`` in a config).
NO_LAYOUT = ("", "none", "null", "unlabelled", "unlabeled")
#: ``auto`` reads sub-folders as classes only up to this many distinct names (more are not classes).
MAX_AUTO_CLASSES = 100


def _extensions(extensions: Iterable[str] | None) -> tuple[str, ...] | None:
    if extensions is None:
        return None
    wanted = tuple(("" if e.startswith(".") else ".") + e.lower() for e in extensions)
    unsupported = [e for e in wanted if e not in IMAGE_EXTENSIONS]
    if unsupported:
        raise ValueError(f"unsupported extensions {unsupported}; supported: {', '.join(IMAGE_EXTENSIONS)}.")
    return wanted


def _walk(root: Path) -> Iterator[tuple[str, list[str]]]:
    """``(folder, file names)`` of every folder under ``root``, following links to folders, each real folder once."""
    seen: set[tuple[int, int]] = set()

    def unlisted(error: OSError) -> None:
        logger.warning("cannot list %s, its images are left out: %s", error.filename, error.strerror or error)

    for folder, subfolders, files in os.walk(root, onerror=unlisted, followlinks=True):
        try:
            status = os.stat(folder)
        except OSError as error:
            unlisted(error)
            subfolders[:] = []
            continue
        if (status.st_dev, status.st_ino) in seen:  # a link back to a folder already scanned
            logger.warning("not scanning %s again: it links to a folder already scanned.", folder)
            subfolders[:] = []
            continue
        seen.add((status.st_dev, status.st_ino))
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        yield folder, files


def scan_archive(root: str | os.PathLike, extensions: Iterable[str] | None = None) -> list[str]:
    """Sorted relative POSIX ids of the images under ``root``, searched recursively.

    Args:
        root: archive folder.
        extensions: restrict to these endings (``".png"`` or ``"png"``, any case), a subset of
            :data:`~monai_debclust.data.readers.IMAGE_EXTENSIONS`. ``None``: every supported
            ending, plus extension-less DICOM files recognised by their ``DICM`` preamble.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"archive root {root} is not a folder.")
    wanted = _extensions(extensions)
    ids = []
    for folder, files in _walk(root):
        for name in files:
            if name.startswith(".") or name.upper() == "DICOMDIR":
                continue
            if wanted is not None and not name.lower().endswith(wanted):
                continue
            path = Path(folder, name)
            if image_format(path) is not None:
                ids.append(path.relative_to(root).as_posix())
    return sorted(ids)


def choose_layout(ids: Sequence[str]) -> str | None:
    """What :data:`AUTO_LAYOUT` means for an archive of ``ids``: ``"folder"`` or ``None`` (unlabelled).

    ``"folder"`` when the images lie in sub-folders of at least two (and at most
    :data:`MAX_AUTO_CLASSES`) distinct names, the names then being the classes; ``None`` for a
    flat folder, a single sub-folder, or a tree of many folders (one per patient or study).
    """
    classes = {PurePosixPath(image_id).parent.name for image_id in ids} - {""}
    return "folder" if 2 <= len(classes) <= MAX_AUTO_CLASSES else None


def _resolve_layout(layout: str | None, ids: Sequence[str], root: Path) -> str | None:
    """``layout`` with :data:`AUTO_LAYOUT` and the spellings of :data:`NO_LAYOUT` resolved; logs what ``auto`` chose."""
    if layout is None or layout.strip().lower() in NO_LAYOUT:
        return None
    if layout.strip().lower() != AUTO_LAYOUT:
        return layout
    chosen = choose_layout(ids)
    if chosen is None:
        logger.info("layout 'auto': no class sub-folders under %s, so the %d images are unlabelled "
                    "(pass --layout folder, csv, ... to read labels).", root, len(ids))
    else:
        classes = sorted({PurePosixPath(image_id).parent.name for image_id in ids} - {""})
        logger.info("layout 'auto': the sub-folders of %s are read as %d classes (%s); pass --layout none "
                    "to treat the archive as unlabelled.", root, len(classes), ", ".join(classes))
    return chosen


class ImageArchive:
    """The images of a folder tree as items ``dict(id, path, label)``, labelled by a layout.

    Args:
        root: archive folder.
        layout: ``None`` or ``"none"`` (unlabelled, label ``-1`` everywhere), ``"auto"``
            (``"folder"`` when the images lie in class sub-folders, else unlabelled; see
            :func:`choose_layout`) or a layout name of :mod:`~monai_debclust.data.layouts`:
            ``"folder"``, ``"csv"``, ``"refuge"``, ``"isic2018"``, ``"ham10000"``, ``"acrima"``.
            ``None`` with ``labels_csv``, ``label_column`` or ``id_column`` given means ``"csv"``.
        labels_csv: label table for ``csv`` (default ``root/labels.csv``), ``ham10000``,
            ``isic2018`` or ``refuge`` (instead of the tables they look for).
        label_column: the label column of a ``csv``/``ham10000`` table; for ``csv`` without
            it, a column named ``label``/``class``/... or else one-hot 0/1 columns.
        id_column: the column naming the image (relative path or file stem).
        extensions: restrict the scan, see :func:`scan_archive`.

    Attributes:
        items: ``dict(id, path, label)`` per image, sorted by id; ``label`` indexes
            ``class_names`` and is ``-1`` where unknown.
        class_names: sorted class names, ``None`` for an unlabelled archive.

    Raises:
        ValueError: no images, an unknown layout, or a layout that finds no labels (the
            message names the folders or tables it looked for).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        layout: str | None = None,
        labels_csv: str | os.PathLike | None = None,
        label_column: str | None = None,
        id_column: str | None = None,
        extensions: Iterable[str] | None = None,
    ) -> None:
        self.root = Path(root)
        if layout is not None and layout.strip().lower() not in (AUTO_LAYOUT, *NO_LAYOUT):
            get_layout(layout)  # an unknown name fails before a long scan
        ids = scan_archive(self.root, extensions)
        if not ids:
            looked_for = ", ".join(_extensions(extensions) or IMAGE_EXTENSIONS)
            raise EmptyArchiveError(f"no images under {self.root} (looked for {looked_for}).")
        layout = _resolve_layout(layout, ids, self.root)
        options = {
            key: value
            for key, value in dict(labels_csv=labels_csv, label_column=label_column, id_column=id_column).items()
            if value is not None
        }
        self.layout = "csv" if layout is None and options else layout
        if self.layout is None:
            labels, self.class_names = dict.fromkeys(ids), None
        else:
            labels, class_names = apply_layout(self.layout, self.root, ids, **options)
            self.class_names = sorted(class_names)
        index = {name: k for k, name in enumerate(self.class_names or ())}
        self.items = [
            {"id": image_id, "path": str(self.root / image_id), "label": index.get(labels[image_id], -1)}
            for image_id in ids
            if image_id in labels
        ]
        unlabelled = sum(item["label"] < 0 for item in self.items)
        if self.layout is not None and unlabelled:
            total, root = len(self.items), self.root
            logger.warning("%d of %d images under %s have no label (layout %r).", unlabelled, total, root, self.layout)

    def __len__(self) -> int:
        return len(self.items)

    def class_counts(self) -> dict[str, int]:
        """Images per class, in ``class_names`` order (unlabelled images are not counted)."""
        counts = Counter(item["label"] for item in self.items)
        return {name: counts[k] for k, name in enumerate(self.class_names or ())}
