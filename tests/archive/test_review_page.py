"""The interactive page's data: map, thumbnails from the originals, the curation outputs when present."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest
from PIL import Image

from monai_debclust.data import make_fundus_cohort
from monai_debclust.evaluation.report import render_report_sections
from monai_debclust.review.embedding_map import embedding_map_2d
from monai_debclust.review.page import FLAG_BITS, NEIGHBOURS, render_review_page, review_page_data
from monai_debclust.review.thumbnails import ensure_thumbnails, thumbnail


def test_thumbnail_long_side_and_volumes():
    picture = thumbnail(np.random.default_rng(0).random((1, 300, 120), dtype=np.float32))
    assert picture.size == (51, 128) and picture.mode == "RGB"
    volume = np.zeros((1, 5, 40, 80), dtype=np.float32)
    volume[:, 2] = 1.0  # the middle slice is white
    assert np.asarray(thumbnail(volume)).min() == 255


def test_ensure_thumbnails_makes_only_the_missing_ones(tmp_path):
    root = make_fundus_cohort(tmp_path / "cohort", counts={"glaucoma": 1, "normal": 2}, image_size=200, seed=0)
    paths = sorted(str(p) for p in root.rglob("*.png")) + [str(tmp_path / "gone.png")]
    assert ensure_thumbnails(tmp_path / "thumbs", paths) == 3  # the missing file gets none
    assert not (tmp_path / "thumbs" / "3.jpg").exists()
    with Image.open(tmp_path / "thumbs" / "0.jpg") as first:
        assert first.size == (128, 128)
    assert ensure_thumbnails(tmp_path / "thumbs", paths) == 0


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_map_separates_two_groups(method):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.05, (30, 8)) + 1.0, rng.normal(0, 0.05, (30, 8)) - 1.0])
    x[:30, 0] += 4.0
    points, used = embedding_map_2d(x, method)
    assert used == method and points.shape == (60, 2)
    a, b = points[:30].mean(axis=0), points[30:].mean(axis=0)
    spread = max(points[:30].std(axis=0).max(), points[30:].std(axis=0).max())
    assert np.linalg.norm(a - b) > 3 * spread


def _run_folder(tmp_path, curation: bool):
    root = make_fundus_cohort(tmp_path / "cohort", counts={"glaucoma": 3, "normal": 5}, image_size=64, seed=0)
    ids = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    folder = tmp_path / "clustering"
    folder.mkdir()
    np.save(folder / "embeddings.npy", np.random.default_rng(0).normal(size=(len(ids), 6)).astype(np.float32))
    header = ["id", "cluster", "confidence", "outlier", "label"] + (["dark", "light", "blurry", "low_information",
                                                                     "modality"] if curation else [])
    with open(folder / "assignments.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for k, image_id in enumerate(ids):
            extra = [int(k == 1), 0, int(k == 2), 0, "OP"] if curation else []
            writer.writerow([image_id, k % 2, "0.75", int(k == 0), image_id.split("/")[0], *extra])
    if curation:
        (folder / "duplicates.csv").write_text(  # a group without a conflict first: the page lists conflicts first
            f"group,id,kind,similarity,label,conflict\n5,{ids[5]},exact,1.0,normal,0\n"
            f"5,{ids[6]},near,0.9993,normal,0\n0,{ids[3]},exact,1.0,x,1\n0,{ids[4]},exact,1.0,y,1\n")
        (folder / "neighbours.csv").write_text("row,id,rank,neighbour_row,neighbour,similarity\n"
                                               f"0,{ids[0]},2,7,{ids[7]},0.5\n0,{ids[0]},1,5,{ids[5]},0.9\n")
    return root, ids, folder


def test_page_data_without_curation_outputs(tmp_path):
    root, ids, folder = _run_folder(tmp_path, curation=False)
    data = review_page_data(folder, root, map_method="pca")
    assert data["ids"] == ids and data["thumbnails_made"] == len(ids)
    assert data["flags"][0] == FLAG_BITS["outlier"] | FLAG_BITS["thumbnail"]
    assert data["confidence"][0] == 750 and data["label_names"] == ["glaucoma", "normal"]
    assert min(data["x"]) == 0 and max(data["x"]) == 10_000
    neighbours = np.array(data["neighbours"]).reshape(len(ids), NEIGHBOURS)
    assert (neighbours[:, : len(ids) - 1] >= 0).all() and (neighbours != np.arange(len(ids))[:, None]).all()
    assert data["dicom"] == {} and data["map_method"].startswith("PCA") and data["duplicates"] is None


def test_page_data_reads_the_curation_outputs(tmp_path):
    root, ids, folder = _run_folder(tmp_path, curation=True)
    (folder / "thumbnails").mkdir()
    Image.new("RGB", (160, 120)).save(folder / "thumbnails" / "0.jpg")  # made by the clustering pass
    data = review_page_data(folder, root, map_method="pca")
    assert data["thumbnails_made"] == len(ids) - 1
    assert data["flags"][1] & FLAG_BITS["dark"] and data["flags"][2] & FLAG_BITS["blurry"]
    assert data["flags"][3] & FLAG_BITS["duplicate"] and data["flags"][3] & FLAG_BITS["label_conflict"]
    assert data["duplicate_group"][:7] == [-1, -1, -1, 0, 0, 5, 5]
    groups = data["duplicates"]
    assert groups["rows"] == [3, 4, 5, 6]  # the conflicting group before the other
    assert [groups["kinds"][k] for k in groups["kind"]] == ["exact", "exact", "exact", "near"]
    assert groups["similarity"] == [1.0, 1.0, 1.0, 0.9993]
    assert not data["flags"][5] & FLAG_BITS["label_conflict"]
    assert data["neighbours"][:3] == [5, 7, -1]  # by rank, from neighbours.csv
    assert data["dicom"]["modality"] == ["OP"] * len(ids)
    summary = _summary(new=3, from_earlier_run=5)
    summary["curation"] = {"quality": {"dark": 1, "light": 0, "blurry": 1, "low_information": 0}}
    page = render_review_page(data, 2, "archive </script>", render_report_sections(summary, []))
    block = re.search(r"id='report-data'>(.*?)</script>", page, re.S).group(1)
    assert json.loads(block.replace("<\\/", "</"))["num_clusters"] == 2
    assert "archive &lt;/script&gt;" in page and "Download review.json" in page
    assert "<section id=\"duplicates-section\" hidden>" in page  # the script shows it when there are groups
    assert "3 new or changed images embedded in this run, 5 files kept from the last run" in page
    assert "quality flags: 1 dark, 0 light, 1 blurry, 0 low information" in page
    assert "<th>patients</th>" not in page  # no DICOM columns


def _summary(**images) -> dict:
    """A ``summary.json`` of an older run: no ``images.new``, no ``curation``; ``images`` adds to its counts."""
    return {"archive": "archive", "bundle": {}, "created": "2024-01-01T00:00:00+00:00",
            "images": {"found": 8, "clustered": 8, "skipped": 0, "outliers": 1, **images},
            "clusters": {"source": "head", "num_clusters": 3, "counts": [4, 4, 0], "mean_confidence": [0.8, 0.7, None],
                         "outliers": [1, 0, 0], "imbalance_ratio": None},
            "outlier_rule": {"percentile": 95.0, "max_distance": 1.0, "min_confidence": 0.5,
                             "fixed_min_confidence": False},
            "settings": {}, "timings": {}}


def test_summary_shows_new_images_quality_counts_and_patients_only_where_the_run_has_them():
    older = render_report_sections(_summary(), [])
    assert "class='facts'" not in older and "patients" not in older and "quality flags" not in older
    summary = _summary(new=0, from_earlier_run=8)
    summary["curation"] = {"quality": {"dark": 2, "light": 0, "blurry": 1, "low_information": 4}, "patients": 3,
                           "patients_per_cluster": [2, 1]}  # the list ends at the last non-empty cluster
    sections = render_report_sections(summary, [])
    assert "<li>0 new or changed images embedded in this run, 8 files kept from the last run</li>" in sections
    assert "quality flags: 2 dark, 0 light, 1 blurry, 4 low information" in sections
    assert "3 patients" in sections and "<th>outliers</th><th>patients</th>" in sections
    cells = re.findall(r"<tr><td class='num'>(\d)</td>.*?<td class='num'>(\d)</td></tr>", sections)
    assert cells == [("0", "2"), ("1", "1"), ("2", "0")]  # patients per cluster, the empty cluster 0


@pytest.mark.slow
def test_umap_places_the_points_it_was_not_fitted_on_with_their_neighbours(monkeypatch):
    pytest.importorskip("umap", reason="umap-learn is not installed")
    from monai_debclust.review import embedding_map

    monkeypatch.setattr(embedding_map, "UMAP_MAX_POINTS", 150)
    rng = np.random.default_rng(0)
    group = rng.integers(0, 3, 600)
    x = (rng.normal(size=(3, 16))[group] * 4 + rng.normal(size=(600, 16))).astype(np.float32)
    points, used = embedding_map_2d(x, "auto")
    assert used == "umap" and np.isfinite(points).all()
    centres = [points[group == k].mean(axis=0) for k in range(3)]
    spread = max(points[group == k].std(axis=0).max() for k in range(3))
    assert min(np.linalg.norm(centres[a] - centres[b]) for a in range(3) for b in range(a + 1, 3)) > 3 * spread
