"""Each dataset layout recognised from a tiny fake tree and its label tables."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from monai_debclust.data.archive import ImageArchive
from monai_debclust.data.layouts import ISIC2018_CLASSES, LAYOUTS, register_layout

HAS_OPENPYXL = importlib.util.find_spec("openpyxl") is not None


def _tree(root: Path, ids) -> Path:
    for image_id in ids:
        (root / image_id).parent.mkdir(parents=True, exist_ok=True)
        (root / image_id).write_bytes(b"x")  # layouts go by names and tables; nothing is decoded
    return root


def _labels(archive: ImageArchive) -> dict[str, str | None]:
    return {item["id"]: archive.class_names[item["label"]] if item["label"] >= 0 else None for item in archive.items}


# ---------------------------------------------------------------------------------- folder


def test_folder_layout_uses_the_parent_folder_with_spaces(tmp_path):
    _tree(tmp_path, ["Train/basal cell carcinoma/1.jpg", "Train/nevus/2.jpg", "Test/nevus/3.jpg", "loose.jpg"])
    archive = ImageArchive(tmp_path, layout="folder")
    assert _labels(archive) == {
        "Test/nevus/3.jpg": "nevus",
        "Train/basal cell carcinoma/1.jpg": "basal cell carcinoma",
        "Train/nevus/2.jpg": "nevus",
        "loose.jpg": None,
    }


def test_folder_layout_without_subfolders_is_an_error(tmp_path):
    _tree(tmp_path, ["a.png", "b.png"])
    with pytest.raises(ValueError, match=r"one sub-folder per class \(root/<class>/<image>\)"):
        ImageArchive(tmp_path, layout="folder")


# ------------------------------------------------------------------------------------- csv


def test_csv_layout_matches_relative_paths_stems_and_windows_paths(tmp_path):
    _tree(tmp_path, ["g/a.png", "n/b.png", "n/c.png", "d.png"])
    (tmp_path / "labels.csv").write_text("id,label\ng/a.png,glaucoma\nb,normal\nn\\c.jpg,normal\nmissing.png,normal\n")
    archive = ImageArchive(tmp_path, layout="csv")
    assert archive.class_names == ["glaucoma", "normal"]
    assert _labels(archive) == {"d.png": None, "g/a.png": "glaucoma", "n/b.png": "normal", "n/c.png": "normal"}


def test_csv_layout_one_hot_columns_give_the_argmax_name(tmp_path):
    _tree(tmp_path, ["x.jpg", "y.jpg", "z.jpg"])
    (tmp_path / "labels.csv").write_text("image,cat,dog,fox\nx,1.0,0.0,0.0\ny,0,0,1\nz,0,0,0\n")
    archive = ImageArchive(tmp_path, layout="csv")
    assert archive.class_names == ["cat", "dog", "fox"]
    assert _labels(archive) == {"x.jpg": "cat", "y.jpg": "fox", "z.jpg": None}
    assert archive.class_counts() == {"cat": 1, "dog": 0, "fox": 1}


def test_csv_layout_with_named_columns_and_an_outside_table(tmp_path):
    _tree(tmp_path / "images", ["p1.png", "p2.png"])
    (tmp_path / "meta.csv").write_text("subject,scan,finding\ns1,p1,tumour\ns2,p2,clear\n")
    table = tmp_path / "meta.csv"
    archive = ImageArchive(tmp_path / "images", labels_csv=table, id_column="scan", label_column="finding")
    assert _labels(archive) == {"p1.png": "tumour", "p2.png": "clear"}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (None, r"expects a label table: .*labels.csv does not exist"),
        ("label\nx\n", r"has no id column \(looked for id, path"),
        ("id,notes\na,fine\n", r"cannot tell the labels of .*no column named label"),
        ("id,label\nzzz,cat\n", r"none of the 1 rows of .* names an image"),
    ],
)
def test_csv_layout_errors_name_what_was_expected(tmp_path, table, message):
    _tree(tmp_path, ["a.png"])
    if table is not None:
        (tmp_path / "labels.csv").write_text(table)
    with pytest.raises(ValueError, match=message):
        ImageArchive(tmp_path, layout="csv")


# ---------------------------------------------------------------------------------- refuge

REFUGE_TREE = [
    "REFUGE-Training400/Training400/Glaucoma/g0001.jpg",
    "REFUGE-Training400/Training400/Non-Glaucoma/n0001.jpg",
    "REFUGE-Training400/Training400/Non-Glaucoma/n0002.jpg",
    "Annotation-Training400/Disc_Cup_Masks/Glaucoma/g0001.bmp",
    "Annotation-Training400/Disc_Cup_Fovea_Illustration/g0001.jpg",
    "REFUGE-Validation400/V0001.jpg",
    "REFUGE-Validation400/V0002.jpg",
    "REFUGE-Validation400-GT/Disc_Cup_Masks/V0001.bmp",
    "REFUGE-Test400/Test400/T0001.jpg",
]


def test_refuge_layout_reads_training_folders_and_a_csv_sheet(tmp_path):
    _tree(tmp_path, REFUGE_TREE)
    sheet = "ID,ImgName,Fovea_X,Fovea_Y,Glaucoma Label\n1,V0001.jpg,1,2,1\n2,V0002.jpg,3,4,0\n"
    (tmp_path / "REFUGE-Validation400-GT" / "Glaucoma_labels.csv").write_text(sheet)
    archive = ImageArchive(tmp_path, layout="refuge")
    assert archive.class_names == ["glaucoma", "normal"]
    assert _labels(archive) == {  # masks and illustrations are not photographs of the set
        "REFUGE-Test400/Test400/T0001.jpg": None,
        "REFUGE-Training400/Training400/Glaucoma/g0001.jpg": "glaucoma",
        "REFUGE-Training400/Training400/Non-Glaucoma/n0001.jpg": "normal",
        "REFUGE-Training400/Training400/Non-Glaucoma/n0002.jpg": "normal",
        "REFUGE-Validation400/V0001.jpg": "glaucoma",
        "REFUGE-Validation400/V0002.jpg": "normal",
    }


def test_refuge_layout_with_an_explicit_sheet_and_no_folders(tmp_path):
    _tree(tmp_path, ["Test400/T0001.jpg", "Test400/T0002.jpg"])
    (tmp_path / "gt.csv").write_text("ImgName,Label(Glaucoma=1)\nT0001.jpg,1.0\nT0002.jpg,0.0\n")
    archive = ImageArchive(tmp_path / "Test400", layout="refuge", labels_csv=tmp_path / "gt.csv")
    assert _labels(archive) == {"T0001.jpg": "glaucoma", "T0002.jpg": "normal"}


def test_refuge_xlsx_sheet_without_openpyxl_says_what_to_do(tmp_path, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "openpyxl" else real_find_spec(name, *args))
    _tree(tmp_path, REFUGE_TREE)
    (tmp_path / "REFUGE-Test-GT").mkdir()
    (tmp_path / "REFUGE-Test-GT" / "Glaucoma_label_and_Fovea_location.xlsx").write_bytes(b"PK")
    with pytest.raises(ImportError, match="needs openpyxl: pip install openpyxl, or save the sheet as CSV"):
        ImageArchive(tmp_path, layout="refuge")


@pytest.mark.skipif(not HAS_OPENPYXL, reason="openpyxl is not installed")
def test_refuge_xlsx_sheet_is_read_with_openpyxl(tmp_path):
    import openpyxl

    _tree(tmp_path, ["REFUGE-Test400/Test400/T0001.jpg", "REFUGE-Test400/Test400/T0002.jpg"])
    workbook = openpyxl.Workbook()
    workbook.active.append(("ID", "ImgName", "Fovea_X", "Fovea_Y", "Label(Glaucoma=1)"))
    workbook.active.append((1, "T0001.jpg", 1.5, 2.5, 0))
    workbook.active.append((2, "T0002.jpg", 3, 4, 1))
    (tmp_path / "REFUGE-Test-GT").mkdir()
    workbook.save(tmp_path / "REFUGE-Test-GT" / "Glaucoma_label_and_Fovea_location.xlsx")
    archive = ImageArchive(tmp_path, layout="refuge")
    assert [item["label"] for item in archive.items] == [1, 0]  # T0001 normal, T0002 glaucoma


def test_refuge_layout_without_labels_names_the_folders_it_wanted(tmp_path):
    _tree(tmp_path, ["photos/a.jpg"])
    with pytest.raises(ValueError, match="expects Training400/Glaucoma and Training400/Non-Glaucoma folders or a"):
        ImageArchive(tmp_path, layout="refuge")


# -------------------------------------------------------------------------------- isic2018


def test_isic2018_layout_reads_the_one_hot_ground_truth(tmp_path):
    ids = ["ISIC_0024306", "ISIC_0024307", "ISIC_0024308"]
    _tree(tmp_path / "ISIC2018_Task3_Training_Input", [f"{i}.jpg" for i in ids] + ["ATTRIBUTION.txt"])
    gt = tmp_path / "ISIC2018_Task3_Training_GroundTruth"
    gt.mkdir()
    (gt / "ISIC2018_Task3_Training_GroundTruth.csv").write_text(
        "image,MEL,NV,BCC,AKIEC,BKL,DF,VASC\n"
        "ISIC_0024306,0.0,1.0,0.0,0.0,0.0,0.0,0.0\n"
        "ISIC_0024307,0.0,0.0,0.0,0.0,0.0,0.0,1.0\n"
        "ISIC_0024308,1,0,0,0,0,0,0\n"
    )
    (gt / "unrelated.csv").write_text("a,b\n1,2\n")
    archive = ImageArchive(tmp_path, layout="isic2018")
    assert archive.class_names == sorted(ISIC2018_CLASSES)
    assert [archive.class_names[item["label"]] for item in archive.items] == ["NV", "VASC", "MEL"]
    assert sum(archive.class_counts().values()) == 3 and archive.class_counts()["BCC"] == 0


def test_isic2018_layout_without_ground_truth_is_an_error(tmp_path):
    _tree(tmp_path, ["ISIC2018_Task3_Training_Input/ISIC_0024306.jpg"])
    with pytest.raises(ValueError, match="expects a ground-truth CSV .* image,MEL,NV,BCC,AKIEC,BKL,DF,VASC"):
        ImageArchive(tmp_path, layout="isic2018")


# ------------------------------------------------------------------------- ham10000, acrima


def test_ham10000_layout_reads_dx_by_image_id(tmp_path):
    _tree(tmp_path, ["HAM10000_images_part_1/ISIC_0027419.jpg", "HAM10000_images_part_2/ISIC_0031633.jpg"])
    (tmp_path / "HAM10000_metadata.csv").write_text(
        "lesion_id,image_id,dx,dx_type,age,sex,localization\n"
        "HAM_0000118,ISIC_0027419,bkl,histo,80.0,male,scalp\n"
        "HAM_0002761,ISIC_0031633,mel,histo,75.0,male,ear\n"
    )
    archive = ImageArchive(tmp_path, layout="ham10000")
    assert archive.class_names == ["bkl", "mel"]
    assert [item["label"] for item in archive.items] == [0, 1]


def test_ham10000_layout_without_metadata_is_an_error(tmp_path):
    _tree(tmp_path, ["ISIC_0027419.jpg"])
    with pytest.raises(ValueError, match=r"expects HAM10000_metadata.csv \(columns image_id, dx\)"):
        ImageArchive(tmp_path, layout="ham10000")


def test_acrima_layout_reads_the_file_name(tmp_path):
    _tree(tmp_path, ["Im001_g_ACRIMA.jpg", "Im002_ACRIMA.jpg", "sub/Im310_g_ACRIMA.JPG"])
    archive = ImageArchive(tmp_path, layout="acrima")
    expected = {"Im001_g_ACRIMA.jpg": "glaucoma", "Im002_ACRIMA.jpg": "normal", "sub/Im310_g_ACRIMA.JPG": "glaucoma"}
    assert _labels(archive) == expected


def test_registered_layout_is_usable_by_name(tmp_path, monkeypatch):
    monkeypatch.setitem(LAYOUTS, "by_size", None)  # restored (removed) after the test

    @register_layout("by_size")
    def by_size(root, ids):
        return {i: "big" if (root / i).stat().st_size > 1 else "small" for i in ids}, ["big", "small"]

    _tree(tmp_path, ["a.png"])
    (tmp_path / "b.png").write_bytes(b"xx")
    assert _labels(ImageArchive(tmp_path, layout="by_size")) == {"a.png": "small", "b.png": "big"}


def test_auto_layout_reads_class_folders_and_leaves_a_flat_folder_unlabelled(tmp_path, caplog):
    from PIL import Image

    from monai_debclust.data import ImageArchive, choose_layout

    for name in ("a/1.png", "b/2.png", "3.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 4)).save(tmp_path / name)
    with caplog.at_level("INFO"):
        archive = ImageArchive(tmp_path, layout="auto")
    assert archive.layout == "folder" and archive.class_names == ["a", "b"]
    assert "read as 2 classes (a, b)" in caplog.text
    assert ImageArchive(tmp_path, layout="None").class_names is None
    assert ImageArchive(tmp_path / "a", layout="auto").class_names is None  # flat
    assert choose_layout(["x/1.png", "2.png"]) is None  # one sub-folder is no labelling
    assert choose_layout([f"patient{i}/scan.dcm" for i in range(500)]) is None  # folders per patient
