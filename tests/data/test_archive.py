"""scan_archive and ImageArchive: which files are images, their ids, labels and counts."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from PIL import Image

from monai_debclust.data.archive import ImageArchive, scan_archive

TREE = [
    "top.PNG",
    "a/one.JpG",
    "a/b/two.tiff",
    "a/b/scan.nii.gz",
    "c d/three.dcm",
]
NOT_IMAGES = ["labels.csv", "a/notes.txt", "a/b/scan.nii.bak", ".hidden.png", ".git/obj.png", "a/.cache/x.jpg"]


def _tree(root, ids):
    for image_id in ids:
        (root / image_id).parent.mkdir(parents=True, exist_ok=True)
        (root / image_id).write_bytes(b"x")  # scanning goes by name; nothing is decoded
    return root


def _dicom_named(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(128) + b"DICM" + bytes(16))


def test_scan_finds_images_recursively_by_case_insensitive_extension(tmp_path):
    _tree(tmp_path, TREE + NOT_IMAGES)
    assert scan_archive(tmp_path) == sorted(TREE)


def test_scan_sniffs_extensionless_dicom_and_skips_dicomdir(tmp_path):
    _dicom_named(tmp_path / "study" / "IM000001")
    _dicom_named(tmp_path / "DICOMDIR")
    (tmp_path / "study" / "README").write_text("text without a preamble")
    assert scan_archive(tmp_path) == ["study/IM000001"]


@pytest.mark.parametrize(
    ("extensions", "expected"), [(["png"], ["top.PNG"]), ([".JPG", ".dcm"], ["a/one.JpG", "c d/three.dcm"])]
)
def test_scan_restricts_to_given_extensions(tmp_path, extensions, expected):
    _tree(tmp_path, TREE)
    assert scan_archive(tmp_path, extensions) == expected


def test_scan_rejects_unsupported_extension_and_missing_root(tmp_path):
    with pytest.raises(ValueError, match="unsupported extensions"):
        scan_archive(tmp_path, [".gif"])
    with pytest.raises(FileNotFoundError, match="not a folder"):
        scan_archive(tmp_path / "absent")


def test_unlabelled_archive_items(tmp_path):
    archive = ImageArchive(_tree(tmp_path, TREE + NOT_IMAGES))
    assert len(archive) == len(TREE)
    assert archive.class_names is None and archive.class_counts() == {}
    assert archive.items[0] == {"id": "a/b/scan.nii.gz", "path": str(tmp_path / "a" / "b" / "scan.nii.gz"), "label": -1}
    assert {item["label"] for item in archive.items} == {-1}


def test_labelled_archive_counts_and_label_indices(tmp_path):
    archive = ImageArchive(_tree(tmp_path, ["normal/1.png", "normal/2.png", "glaucoma/3.png"]), layout="folder")
    assert archive.class_names == ["glaucoma", "normal"]
    assert archive.class_counts() == {"glaucoma": 1, "normal": 2}
    labels = [(item["id"], item["label"]) for item in archive.items]
    assert labels == [("glaucoma/3.png", 0), ("normal/1.png", 1), ("normal/2.png", 1)]


def test_labels_csv_without_layout_means_csv(tmp_path, caplog):
    _tree(tmp_path, ["x.png", "y.png", "z.png"])
    (tmp_path / "table.csv").write_text("filename,diagnosis\nx.png,benign\ny,malignant\n")
    with caplog.at_level(logging.WARNING):
        archive = ImageArchive(tmp_path, labels_csv=tmp_path / "table.csv")
    assert archive.layout == "csv"
    assert [item["label"] for item in archive.items] == [0, 1, -1]  # z.png is not in the table
    assert "1 of 3 images" in caplog.text


def test_archive_of_real_images_has_decodable_paths(tmp_path):
    (tmp_path / "k").mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "k" / "a.bmp")
    [item] = ImageArchive(tmp_path, layout="folder").items
    assert Image.open(item["path"]).size == (4, 4)


def test_empty_archive_unknown_layout_and_unused_option_are_errors(tmp_path):
    (tmp_path / "labels.csv").write_text("id,label\n")
    with pytest.raises(ValueError, match=r"no images under .* \(looked for \.png"):
        ImageArchive(tmp_path)
    with pytest.raises(ValueError, match="unknown layout 'imagenet'; expected one of .*'acrima'.*'folder'"):
        ImageArchive(tmp_path / "absent", layout="imagenet")
    _tree(tmp_path, ["k/a.png"])
    with pytest.raises(ValueError, match="layout 'folder' does not take label_column"):
        ImageArchive(tmp_path, layout="folder", label_column="dx")
