"""Synthetic fundus and dermoscopy cohorts: layout, labels, reproducibility and class signal."""

from __future__ import annotations

import csv
import importlib.util
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monai_debclust.data.synthetic import preview_sheet, read_labels_csv
from monai_debclust.data.synthetic.dermoscopy import (
    DERMOSCOPY_CLASSES,
    DERMOSCOPY_COUNTS,
    dermoscopy_counts,
    make_dermoscopy_cohort,
    render_dermoscopy,
)
from monai_debclust.data.synthetic.fundus import fundus_counts, make_fundus_cohort, render_fundus

REPO = Path(__file__).resolve().parents[2]
FUNDUS_SMALL = {"glaucoma": 2, "normal": 4}


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _pale_cup_area(image: np.ndarray) -> int:
    """Pixels as pale as the cup (blue at least 0.68 of red), far paler than retina or rim."""
    red, blue = image[..., 0].astype(float), image[..., 2].astype(float)
    return int(((blue > 0.68 * red) & (red > 50)).sum())


def test_fundus_cohort_layout_labels_and_images(tmp_path):
    out = make_fundus_cohort(tmp_path / "fundus", FUNDUS_SMALL, image_size=64, seed=1)
    rows = read_labels_csv(out)
    assert Counter(label for _, label in rows) == FUNDUS_SMALL
    assert [image_id for image_id, _ in rows][:2] == ["glaucoma/glaucoma_00000.png", "glaucoma/glaucoma_00001.png"]
    with open(out / "labels.csv", newline="") as handle:
        assert next(csv.reader(handle)) == ["id", "label"]
    assert sorted(p.as_posix() for p in out.rglob("*.png")) == sorted((out / i).as_posix() for i, _ in rows)
    for image_id, _ in rows:
        with Image.open(out / image_id) as image:
            assert image.mode == "RGB" and image.size == (64, 64)


def test_cohort_is_byte_reproducible_for_a_seed(tmp_path):
    first = _files(make_fundus_cohort(tmp_path / "a", FUNDUS_SMALL, image_size=48, seed=5))
    assert first == _files(make_fundus_cohort(tmp_path / "b", FUNDUS_SMALL, image_size=48, seed=5))
    other = _files(make_fundus_cohort(tmp_path / "c", FUNDUS_SMALL, image_size=48, seed=6))
    assert first["glaucoma/glaucoma_00000.png"] != other["glaucoma/glaucoma_00000.png"]


def test_growing_one_class_keeps_the_others_images(tmp_path):
    small = _files(make_fundus_cohort(tmp_path / "a", {"glaucoma": 1, "normal": 2}, image_size=48))
    large = _files(make_fundus_cohort(tmp_path / "b", {"glaucoma": 3, "normal": 2}, image_size=48))
    assert all(large[name] == data for name, data in small.items() if name.endswith(".png"))


def test_cohort_refuses_a_non_empty_folder_and_overwrites_only_a_cohort(tmp_path):
    out = make_fundus_cohort(tmp_path / "c", {"normal": 1}, image_size=32)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        make_fundus_cohort(out, {"glaucoma": 1}, image_size=32)
    make_fundus_cohort(out, {"glaucoma": 1}, image_size=32, overwrite=True)
    assert read_labels_csv(out) == [("glaucoma/glaucoma_00000.png", "glaucoma")]
    assert not (out / "normal").exists()
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="not a cohort"):
        make_fundus_cohort(precious, {"normal": 1}, image_size=32, overwrite=True)
    assert (precious / "notes.txt").read_text() == "keep"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left


@pytest.mark.parametrize(
    "counts, message",
    [({"cataract": 1}, "unknown classes"), ({"normal": -1}, "non-negative"), ({"normal": 0}, "no images")],
)
def test_cohort_rejects_bad_counts(tmp_path, counts, message):
    with pytest.raises(ValueError, match=message):
        make_fundus_cohort(tmp_path / "x", counts, image_size=32)
    assert not (tmp_path / "x").exists()


def test_fundus_corners_outside_field_of_view_are_black():
    for i in range(8):
        image = render_fundus(("glaucoma", "normal")[i % 2], 96, np.random.default_rng(i))
        for corner in (image[:8, :8], image[:8, -8:], image[-8:, :8], image[-8:, -8:]):
            assert corner.max() == 0


def test_glaucoma_cups_are_larger_than_normal_cups():
    area = {
        label: np.mean([_pale_cup_area(render_fundus(label, 128, np.random.default_rng([3, i]))) for i in range(16)])
        for label in ("glaucoma", "normal")
    }
    assert area["glaucoma"] > 3.0 * area["normal"] > 0


def test_fundus_counts_give_one_to_ratio():
    assert fundus_counts(900, 9) == {"normal": 900, "glaucoma": 100}


def test_dermoscopy_cohort_default_counts_cover_seven_classes(tmp_path):
    assert set(DERMOSCOPY_COUNTS) == set(DERMOSCOPY_CLASSES)
    assert max(DERMOSCOPY_COUNTS.values()) == DERMOSCOPY_COUNTS["NV"]
    counts = {name: 1 for name in DERMOSCOPY_CLASSES}
    out = make_dermoscopy_cohort(tmp_path / "isic", counts, image_size=48, seed=0)
    assert Counter(label for _, label in read_labels_csv(out)) == counts
    with Image.open(out / "VASC" / "VASC_00000.png") as image:
        assert image.mode == "RGB" and image.size == (48, 48)


def test_dermoscopy_counts_follow_ham10000_frequency_order():
    counts = dermoscopy_counts(120, 40)
    assert counts["NV"] == 120 and counts["DF"] == 3
    assert list(counts) == ["NV", "MEL", "BKL", "BCC", "AKIEC", "VASC", "DF"]


def test_dermoscopy_classes_differ_in_lesion_colour():
    centre = {
        label: np.mean(
            [render_dermoscopy(label, 64, np.random.default_rng([1, i]))[24:40, 24:40] / 255.0 for i in range(10)],
            axis=(0, 1, 2),
        )
        for label in DERMOSCOPY_CLASSES
    }
    brightness = {label: rgb.mean() for label, rgb in centre.items()}
    redness = {label: rgb[0] - rgb[1] for label, rgb in centre.items()}
    assert min(brightness, key=brightness.get) == "MEL"
    assert max(redness, key=redness.get) == "VASC"
    distances = [np.linalg.norm(centre[a] - centre[b]) for a in centre for b in centre if a < b]
    assert min(distances) > 0.03


def test_renderers_reject_unknown_class():
    with pytest.raises(ValueError, match="unknown fundus class"):
        render_fundus("cataract", 64, np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown dermoscopy class"):
        render_dermoscopy("SCC", 64, np.random.default_rng(0))


def test_render_time_per_128px_image():
    rng = np.random.default_rng(0)
    for render, label in ((render_fundus, "normal"), (render_dermoscopy, "MEL")):
        render(label, 128, rng)
        start = time.perf_counter()
        for _ in range(10):
            render(label, 128, rng)
        ms = 100.0 * (time.perf_counter() - start)
        print(f"{render.__name__}: {ms:.1f} ms per 128 px image")
        assert ms < 100.0  # a few ms on one idle core; generous for a shared machine


def test_preview_sheet_has_one_row_per_class(tmp_path):
    out = make_fundus_cohort(tmp_path / "f", FUNDUS_SMALL, image_size=32)
    sheet = preview_sheet(out, tmp_path / "sheet.png", per_class=3, tile=40)
    with Image.open(sheet) as image:
        assert image.size == (3 * 40, 2 * 40)


def test_demo_cohort_script_writes_a_ratio_cohort(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("make_demo_cohort", REPO / "scripts" / "make_demo_cohort.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    argv = ["fundus", str(tmp_path / "demo"), "--ratio", "4", "--n-max", "4", "--image-size", "32"]
    assert script.main(argv + ["--preview", str(tmp_path / "p.png")]) == 0
    assert Counter(label for _, label in read_labels_csv(tmp_path / "demo")) == {"normal": 4, "glaucoma": 1}
    assert (tmp_path / "p.png").is_file()
    assert "ms per image" in capsys.readouterr().out
