"""Dataset layouts: where the labels of an archive come from, one small function per layout.

A layout is called with the archive root, the sorted relative ids of its images and the options
it declares (``labels_csv``, ``label_column``, ``id_column``), and returns
``(labels, class_names)``: ``labels`` maps the id of every image that belongs to the dataset to
its class name, or to ``None`` where the class is unknown; ``class_names`` lists every class.

Rows of a label table are matched to files by the relative path without extension
(``glaucoma/g0001``) or else by the file stem (``g0001``): a table may name ``ISIC_0024306``,
``g0001.jpg`` or ``train\\g0001.png`` alike. A stem shared by several files labels them all.

Layouts (register more with :func:`register_layout`):

* ``folder``: the class is the name of the image's parent folder (``root/<class>/<image>``).
* ``csv``: a table (``labels_csv``, default ``root/labels.csv``) with an id column and a label
  column, or with one-hot columns (the label is the column holding the largest value). The ids
  listed in ``excluded.txt`` beside the table (one a line, as ``monai-debclust labels`` writes
  it) are not part of the dataset: left out of training and evaluation, not unlabelled.
* ``refuge``: REFUGE fundus photographs; ``Training400/Glaucoma`` and ``Training400/Non-Glaucoma``
  folders and/or the validation/test label sheets (``ImgName`` plus a column naming
  glaucoma, 1 = glaucoma). Masks and illustrations (folders named ``*Mask*``,
  ``*Annotation*``, ``*Illustration*``) are not part of the dataset. Classes ``glaucoma``,
  ``normal``. Sheets in ``.xlsx`` need ``openpyxl``.
* ``isic2018``: ISIC 2018 Task 3; every CSV under the root with the columns
  ``image,MEL,NV,BCC,AKIEC,BKL,DF,VASC`` (the ground-truth files) labels the images by name.
* ``ham10000``: ``HAM10000_metadata.csv`` (``image_id``, ``dx``) anywhere under the root.
* ``acrima``: the ACRIMA file name says it: ``_g_`` means glaucoma, anything else normal.
"""

from __future__ import annotations

import csv
import importlib.util
import inspect
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

from monai_debclust.data.readers import IMAGE_EXTENSIONS
from monai_debclust.errors import SettingError

__all__ = ["LAYOUTS", "ISIC2018_CLASSES", "EXCLUDED_LIST", "register_layout", "get_layout", "apply_layout",
           "read_table"]

LayoutLabels = tuple[dict[str, str | None], list[str]]
Layout = Callable[..., LayoutLabels]

#: Layout functions by name.
LAYOUTS: dict[str, Layout] = {}

#: Beside a ``csv`` layout's table: the ids left out of the dataset, one a line.
EXCLUDED_LIST = "excluded.txt"
ISIC2018_CLASSES = ("MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC")
_ID_COLUMNS = ("id", "path", "file", "filename", "file_name", "image", "image_id", "image_name", "imgname", "name")
_LABEL_COLUMNS = ("label", "class", "target", "diagnosis", "dx", "category")
_REFUGE_FOLDERS = {"glaucoma": "glaucoma", "non-glaucoma": "normal"}
_REFUGE_NOT_PHOTOS = ("mask", "annotation", "illustration")
_EXTENSIONS_LONGEST_FIRST = sorted(IMAGE_EXTENSIONS, key=len, reverse=True)


def register_layout(name: str) -> Callable[[Layout], Layout]:
    """Decorator registering ``fn(root, ids, **options) -> (labels, class_names)`` as ``name``."""

    def register(fn: Layout) -> Layout:
        LAYOUTS[name] = fn
        return fn

    return register


def get_layout(name: str) -> Layout:
    """The layout function registered as ``name``."""
    if name not in LAYOUTS:
        raise SettingError(
            f"unknown layout {name!r}; expected one of {sorted(LAYOUTS)}, 'auto' (class sub-folders "
            "when there are some) or 'none' (unlabelled)."
        )
    return LAYOUTS[name]


def apply_layout(name: str, root: Path, ids: Sequence[str], **options) -> LayoutLabels:
    """Run the layout ``name``; ``options`` must be ones the layout takes."""
    fn = get_layout(name)
    unused = sorted(set(options) - set(inspect.signature(fn).parameters))
    if unused:
        raise ValueError(f"layout {name!r} does not take {', '.join(unused)}.")
    return fn(Path(root), list(ids), **options)


# ---------------------------------------------------------------------------- label tables


def read_table(path: str | Path) -> list[dict[str, str]]:
    """Rows of a ``.csv`` (UTF-8, comma-separated) or ``.xlsx`` (first sheet; needs ``openpyxl``)."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
        return [{key.strip(): (value or "").strip() for key, value in row.items() if key} for row in rows]
    if importlib.util.find_spec("openpyxl") is None:
        raise ImportError(
            f"reading the label sheet {path} needs openpyxl: pip install openpyxl, "
            "or save the sheet as CSV and pass labels_csv=<the .csv file>."
        )
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        header, *rows = workbook.worksheets[0].iter_rows(values_only=True)
    finally:
        workbook.close()
    names = ["" if cell is None else str(cell).strip() for cell in header]
    return [
        {name: "" if cell is None else str(cell).strip() for name, cell in zip(names, row) if name}
        for row in rows
        if any(cell is not None for cell in row)
    ]


def _column(rows: list[dict[str, str]], wanted: Sequence[str], table: Path, role: str) -> str:
    """The first column of ``table`` named like one of ``wanted`` (case-insensitive)."""
    header = list(rows[0]) if rows else []
    by_lower = {name.lower(): name for name in header}
    for name in wanted:
        if name.lower() in by_lower:
            return by_lower[name.lower()]
    found = ", ".join(header) or "no rows"
    raise ValueError(f"{table} has no {role} column (looked for {', '.join(wanted)}; found {found}).")


def _strip_extension(name: str) -> str:
    lower = name.lower()
    for extension in _EXTENSIONS_LONGEST_FIRST:
        if lower.endswith(extension):
            return name[: -len(extension)]
    return name


class _FileIndex:
    """Finds the ids a table entry names: by relative path without extension, else by stem."""

    def __init__(self, ids: Sequence[str]) -> None:
        self.by_path: dict[str, list[str]] = defaultdict(list)
        self.by_stem: dict[str, list[str]] = defaultdict(list)
        for image_id in ids:
            key = _strip_extension(image_id)
            self.by_path[key].append(image_id)
            self.by_stem[PurePosixPath(key).name].append(image_id)

    def find(self, entry: str) -> list[str]:
        key = _strip_extension(entry.strip().replace("\\", "/").removeprefix("./"))
        return self.by_path.get(key) or self.by_stem.get(PurePosixPath(key).name, [])


def _label_rows(
    table: Path, rows: list[dict[str, str]], id_column: str, index: _FileIndex, label_of: Callable[[dict], str | None]
) -> dict[str, str | None]:
    """Label of every file named by a row of ``table``; raises when no row names a file."""
    labels: dict[str, str | None] = {}
    for row in rows:
        for image_id in index.find(row[id_column]):
            labels[image_id] = label_of(row)
    if not labels:
        raise ValueError(
            f"none of the {len(rows)} rows of {table} names an image of the archive "
            f"(column {id_column!r} is matched to relative paths or file stems)."
        )
    return labels


def _is_binary(rows: list[dict[str, str]], column: str) -> bool:
    try:
        return all(float(row[column]) in (0.0, 1.0) for row in rows)
    except ValueError:
        return False


def _value_of(column: str) -> Callable[[dict], str | None]:
    """Label of a row: the text of ``column``, ``None`` where empty."""

    def label_of(row: dict) -> str | None:
        return row[column] or None

    return label_of


def _argmax(columns: Sequence[str]) -> Callable[[dict], str | None]:
    """Label of a one-hot row: the column holding the largest value, ``None`` for all zeros."""

    def label_of(row: dict) -> str | None:
        values = [float(row[column] or 0) for column in columns]
        best = max(range(len(columns)), key=values.__getitem__)
        return columns[best] if values[best] > 0 else None

    return label_of


# --------------------------------------------------------------------------------- layouts


@register_layout("folder")
def folder_layout(root: Path, ids: list[str]) -> LayoutLabels:
    labels = {image_id: PurePosixPath(image_id).parent.name or None for image_id in ids}
    if not any(labels.values()):
        raise ValueError(
            f"layout 'folder' expects one sub-folder per class (root/<class>/<image>), "
            f"but all {len(ids)} images lie directly in {root}."
        )
    return labels, sorted({name for name in labels.values() if name})


@register_layout("csv")
def csv_layout(
    root: Path,
    ids: list[str],
    labels_csv: str | Path | None = None,
    label_column: str | None = None,
    id_column: str | None = None,
) -> LayoutLabels:
    table = Path(labels_csv) if labels_csv is not None else root / "labels.csv"
    if not table.is_file():
        raise ValueError(f"layout 'csv' expects a label table: {table} does not exist (pass labels_csv=...).")
    rows = read_table(table)
    if not rows:
        raise ValueError(f"layout 'csv': the label table {table} has no rows.")
    id_column = _column(rows, [id_column] if id_column else _ID_COLUMNS, table, "id")
    named = label_column or next((c for c in rows[0] if c.lower() in _LABEL_COLUMNS), None)
    if named is not None:
        classes = None
        label_of = _value_of(_column(rows, [named], table, "label"))
    else:
        classes = [c for c in rows[0] if c != id_column and _is_binary(rows, c)]
        if len(classes) < 2:
            raise ValueError(
                f"cannot tell the labels of {table}: no column named {', '.join(_LABEL_COLUMNS)} and no one-hot "
                f"columns of 0/1 (found {', '.join(rows[0])}); pass label_column=..."
            )
        label_of = _argmax(classes)
    index = _FileIndex(ids)
    labels = _label_rows(table, rows, id_column, index, label_of)
    excluded = _excluded_ids(table.parent / EXCLUDED_LIST, index)
    kept = {image_id: labels.get(image_id) for image_id in ids if image_id not in excluded}
    return kept, classes or sorted({v for v in labels.values() if v})


def _excluded_ids(listing: Path, index: _FileIndex) -> set[str]:
    """The archive ids ``listing`` names (none when it does not exist)."""
    if not listing.is_file():
        return set()
    entries = [line.strip() for line in listing.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {image_id for entry in entries for image_id in index.find(entry)}


@register_layout("ham10000")
def ham10000_layout(
    root: Path,
    ids: list[str],
    labels_csv: str | Path | None = None,
    label_column: str = "dx",
    id_column: str = "image_id",
) -> LayoutLabels:
    if labels_csv is None:
        labels_csv = next(iter(sorted(root.rglob("HAM10000_metadata*.csv"))), None)
        if labels_csv is None:
            raise ValueError(
                f"layout 'ham10000' expects HAM10000_metadata.csv (columns image_id, dx) under {root}; found none."
            )
    return csv_layout(root, ids, labels_csv, label_column, id_column)


@register_layout("isic2018")
def isic2018_layout(root: Path, ids: list[str], labels_csv: str | Path | None = None) -> LayoutLabels:
    wanted = {"image", *ISIC2018_CLASSES}
    candidates = [Path(labels_csv)] if labels_csv is not None else sorted(root.rglob("*.csv"))
    tables = []
    for table in candidates:
        rows = read_table(table)
        if rows and wanted <= set(rows[0]):
            tables.append((table, rows))
    if not tables:
        raise ValueError(
            f"layout 'isic2018' expects a ground-truth CSV (ISIC2018_Task3_Training_GroundTruth.csv) with the columns "
            f"image,{','.join(ISIC2018_CLASSES)} under {root}; found none."
        )
    index, labels = _FileIndex(ids), {}
    for table, rows in tables:
        labels.update(_label_rows(table, rows, "image", index, _argmax(ISIC2018_CLASSES)))
    return {image_id: labels.get(image_id) for image_id in ids}, list(ISIC2018_CLASSES)


def _refuge_annotation(image_id: str) -> bool:
    """Whether the file lies in a mask/annotation/illustration folder."""
    return any(word in folder.lower() for folder in PurePosixPath(image_id).parts[:-1] for word in _REFUGE_NOT_PHOTOS)


def _refuge_folder_label(image_id: str) -> str | None:
    for folder in reversed(PurePosixPath(image_id).parts[:-1]):
        if folder.lower() in _REFUGE_FOLDERS:
            return _REFUGE_FOLDERS[folder.lower()]
    return None


def _refuge_sheet_label(column: str) -> Callable[[dict], str | None]:
    def label_of(row: dict) -> str | None:
        return None if not row[column] else "glaucoma" if float(row[column]) >= 0.5 else "normal"

    return label_of


@register_layout("refuge")
def refuge_layout(root: Path, ids: list[str], labels_csv: str | Path | None = None) -> LayoutLabels:
    photos = [image_id for image_id in ids if not _refuge_annotation(image_id)]
    labels = {image_id: _refuge_folder_label(image_id) for image_id in photos}
    sheets = [Path(labels_csv)] if labels_csv is not None else sorted(
        path for path in root.rglob("*") if path.suffix.lower() in (".csv", ".xlsx") and not path.name.startswith(".")
    )
    index = _FileIndex(photos)
    for sheet in sheets:
        rows = read_table(sheet)
        glaucoma = [column for column in (rows[0] if rows else ()) if "glaucoma" in column.lower()]
        if labels_csv is None and not (glaucoma and "imgname" in map(str.lower, rows[0])):
            continue  # some other table
        name = _column(rows, ["ImgName", *_ID_COLUMNS], sheet, "image name")
        label = _column(rows, glaucoma or ["Glaucoma Label"], sheet, "glaucoma label")
        labels.update(_label_rows(sheet, rows, name, index, _refuge_sheet_label(label)))
    if not any(labels.values()):
        raise ValueError(
            f"layout 'refuge' expects Training400/Glaucoma and Training400/Non-Glaucoma folders or a label sheet "
            f"(ImgName and 'Glaucoma Label' columns, .csv or .xlsx) under {root}; found neither."
        )
    return labels, sorted(set(_REFUGE_FOLDERS.values()))


@register_layout("acrima")
def acrima_layout(root: Path, ids: list[str]) -> LayoutLabels:
    labels = {image_id: "glaucoma" if "_g_" in PurePosixPath(image_id).name.lower() else "normal" for image_id in ids}
    return labels, ["glaucoma", "normal"]
