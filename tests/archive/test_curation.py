"""Curation in the one archive pass: duplicate groups and conflicts, neighbours, quality flags, incremental runs."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from monai_debclust.archive import ArchiveClusterer, similar_images
from monai_debclust.archive.clusterer import KMEANS_FILE
from monai_debclust.archive.embedding import PARTS_DIR, weights_digest
from monai_debclust.bundle import save_trained_network
from monai_debclust.cli import main
from monai_debclust.curation import CurateArchiveImaged, quality_flags, quality_scores
from monai_debclust.data import ImageArchive, make_fundus_cohort
from monai_debclust.networks import DebClustNet

from .helpers import NETWORK_ARGS


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _texture(seed: int, size: int = 96) -> np.ndarray:
    """A sharp random RGB texture (blocks of 4 px) in [0, 255]."""
    rng = np.random.default_rng(seed)
    return np.kron(rng.integers(0, 256, (size // 4, size // 4, 3)), np.ones((4, 4, 1))).astype(np.uint8)


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    """12 synthetic fundus photographs, copies of four of them (lossless renamed, JPEG re-encoded, two under the
    other class), and four images made to be dark, light, blurry and near-constant."""
    root = make_fundus_cohort(tmp_path_factory.mktemp("planted") / "fundus", counts={"glaucoma": 4, "normal": 8},
                              image_size=96, seed=0)
    normal = sorted((root / "normal").glob("*.png"))
    glaucoma = sorted((root / "glaucoma").glob("*.png"))
    shutil.copy(normal[0], root / "normal" / "copy_lossless.png")
    Image.open(normal[1]).convert("RGB").save(root / "normal" / "copy_reencoded.jpg", quality=90)
    shutil.copy(normal[2], root / "glaucoma" / "filed_wrong.png")  # a normal eye filed as glaucoma
    Image.open(glaucoma[0]).convert("RGB").save(root / "normal" / "filed_wrong_too.jpg", quality=92)
    quality = root / "quality"
    quality.mkdir()
    Image.fromarray((_texture(1) * 0.12).astype(np.uint8)).save(quality / "dark.png")
    Image.fromarray((242 + _texture(2) // 20).astype(np.uint8)).save(quality / "light.png")
    Image.fromarray(_texture(3)).filter(ImageFilter.GaussianBlur(6)).save(quality / "blurry.png")
    Image.fromarray(np.full((96, 96, 3), 120, np.uint8)).save(quality / "constant.png")
    Image.fromarray(_texture(4)).save(quality / "sharp.png")
    return root


def _run(archive_root: Path, output_dir: Path, secret: Path, curation: bool = True, **settings) -> dict:
    torch.manual_seed(0)
    network = DebClustNet(**NETWORK_ARGS).eval()
    transform = CurateArchiveImaged(image_size=32, curation=curation, dicom_secret=secret)
    archive = ImageArchive(archive_root, layout="folder")
    return ArchiveClusterer(archive, network, transform, output_dir, batch_size=4, num_workers=0, chunk_size=8,
                            progress=False, curation=curation, **settings).run()


@pytest.fixture(scope="module")
def planted_run(planted, tmp_path_factory) -> tuple[Path, dict]:
    output = tmp_path_factory.mktemp("planted_run")
    return output, _run(planted, output, output.parent / "secret")


def test_every_copy_is_grouped_with_its_original_and_cross_class_copies_are_conflicts(planted_run):
    output, summary = planted_run
    rows = _rows(output / "duplicates.csv")
    assert list(rows[0]) == ["group", "id", "kind", "similarity", "label", "conflict"]
    groups: dict[str, set[str]] = {}
    for row in rows:
        groups.setdefault(row["group"], set()).add(row["id"])
    members = sorted(sorted(group) for group in groups.values())
    assert members == [
        ["glaucoma/filed_wrong.png", "normal/normal_00002.png"],
        ["glaucoma/glaucoma_00000.png", "normal/filed_wrong_too.jpg"],
        ["normal/copy_lossless.png", "normal/normal_00000.png"],
        ["normal/copy_reencoded.jpg", "normal/normal_00001.png"],
    ]
    conflicts = {row["id"] for row in rows if row["conflict"] == "1"}
    assert conflicts == {"glaucoma/filed_wrong.png", "normal/normal_00002.png", "glaucoma/glaucoma_00000.png",
                         "normal/filed_wrong_too.jpg"}
    assert [row["conflict"] for row in rows] == sorted((row["conflict"] for row in rows), reverse=True)
    kinds = {row["id"]: row["kind"] for row in rows}
    assert kinds["normal/copy_lossless.png"] == "exact" and kinds["normal/normal_00001.png"] == "near"
    assert summary["curation"]["duplicates"] == {"groups": 4, "merged_images": 8, "conflict_groups": 2,
                                                 "conflict_images": 4}


def test_quality_flags_neighbours_thumbnails_and_columns(planted_run):
    output, summary = planted_run
    rows = _rows(output / "assignments.csv")
    flags = {row["id"]: [name for name in ("dark", "light", "blurry", "low_information") if row[name] == "1"]
             for row in rows}
    assert flags["quality/dark.png"] == ["dark"]
    assert "light" in flags["quality/light.png"] and "dark" not in flags["quality/light.png"]
    assert "blurry" in flags["quality/blurry.png"]
    assert "low_information" in flags["quality/constant.png"]
    assert flags["quality/sharp.png"] == [] and flags["normal/normal_00000.png"] == []
    assert summary["curation"]["quality"]["dark"] == 1 and summary["images"]["new"] == len(rows)
    assert rows[0]["patient"] == "" and "study_year" in rows[0]
    neighbours = _rows(output / "neighbours.csv")
    assert len(neighbours) == 5 * len(rows)
    first_of_copy = next(r for r in neighbours if r["id"] == "normal/copy_lossless.png" and r["rank"] == "1")
    assert first_of_copy["neighbour"] == "normal/normal_00000.png" and float(first_of_copy["similarity"]) > 0.999
    assert len(list((output / "thumbnails").glob("*.jpg"))) == len(rows)
    with Image.open(output / "thumbnails" / "0.jpg") as thumbnail:
        assert max(thumbnail.size) == 96  # long side min(128, the image's)


def test_quality_scores_of_planted_arrays():
    grey = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(1, 64, 64)
    scores = np.stack([quality_scores(grey * 0.2), quality_scores(0.97 + grey * 0.03), quality_scores(grey),
                       quality_scores(np.full((3, 64, 64), 0.5, np.float32))])
    flagged = quality_flags(scores)
    assert flagged[0, 0] == 1 and flagged[1, 1] == 1 and flagged[3, 3] == 1
    assert flagged[2, :2].tolist() == [0, 0]


def test_incremental_run_embeds_only_the_new_files_and_keeps_earlier_clusters(planted, tmp_path):
    archive = tmp_path / "archive"
    shutil.copytree(planted, archive)
    extra = [*sorted(archive.glob("normal/normal_0000[3-7].png")),
             *sorted(archive.glob("glaucoma/glaucoma_0000[1-3].png"))]
    held = tmp_path / "held"
    for path in extra:
        target = held / path.relative_to(archive)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)
    (held / "quality").mkdir()
    for seed in (10, 11):
        Image.fromarray(_texture(seed)).save(held / "quality" / f"new_{seed}.png")
    output = tmp_path / "run"
    first = _run(archive, output, tmp_path / "secret", recluster=2)
    before = {row["id"]: row["cluster"] for row in _rows(output / "assignments.csv")}
    shutil.copytree(held, archive, dirs_exist_ok=True)
    second = _run(archive, output, tmp_path / "secret", recluster=2)
    after = {row["id"]: row["cluster"] for row in _rows(output / "assignments.csv")}
    added = len(list(held.rglob("*.png")))
    assert added == 10
    assert second["images"]["new"] == 10 and first["images"]["new"] == len(before)
    assert {i: after[i] for i in before} == before
    (archive / "normal" / "copy_lossless.png").unlink()
    Image.fromarray(_texture(99)).save(archive / "quality" / "dark.png")  # changed content, same name
    third = _run(archive, output, tmp_path / "secret", recluster=2)
    assert third["images"]["new"] == 1
    ids = [row["id"] for row in _rows(output / "assignments.csv")]
    assert "normal/copy_lossless.png" not in ids and len(ids) == len(after) - 1
    torch.manual_seed(1)  # another model: everything again
    other = DebClustNet(**NETWORK_ARGS).eval()
    fourth = ArchiveClusterer(ImageArchive(archive, layout="folder"), other,
                              CurateArchiveImaged(32, dicom_secret=tmp_path / "secret"), output, batch_size=4,
                              num_workers=0, progress=False, recluster=2).run()
    assert fourth["images"]["new"] == len(ids)
    with np.load(output / PARTS_DIR / KMEANS_FILE) as centres:  # refitted for the other model, not reused
        assert str(centres["model"]) == weights_digest(other)
    assert json.loads((output / "summary.json").read_text())["images"]["new"] == len(ids)


def test_skipped_file_is_retried_once_its_content_changes(planted, tmp_path):
    archive = tmp_path / "archive"
    shutil.copytree(planted, archive)
    broken = archive / "quality" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))  # a PNG signature and no image
    output = tmp_path / "run"
    first = _run(archive, output, tmp_path / "secret")
    assert [row["id"] for row in _rows(output / "skipped.csv")] == ["quality/broken.png"]
    assert first["images"]["skipped"] == 1 and first["images"]["read"] == first["images"]["found"]
    assert first["images"]["new"] == first["images"]["found"] - 1  # the skipped file is read, not embedded
    unchanged = _run(archive, output, tmp_path / "secret")  # same bytes, same stat: not read again
    assert unchanged["images"]["new"] == 0 and unchanged["images"]["skipped"] == 1
    Image.fromarray(_texture(12)).save(broken)  # repaired: valid bytes and a new mtime
    later = broken.stat().st_mtime_ns + 10**9
    os.utime(broken, ns=(later, later))
    second = _run(archive, output, tmp_path / "secret")
    assert second["images"]["new"] == 1 and second["images"]["skipped"] == 0
    assert _rows(output / "skipped.csv") == []
    assert "quality/broken.png" in {row["id"] for row in _rows(output / "assignments.csv")}


def test_similar_on_an_id_and_on_a_file(planted, planted_run, tmp_path, capsys):
    output, _ = planted_run
    torch.manual_seed(0)  # the network of planted_run, saved as a training run saves it
    ckpt = save_trained_network(DebClustNet(**NETWORK_ARGS).eval(), tmp_path / "models", NETWORK_ARGS)
    assert main(["similar", str(output), "normal/copy_lossless.png", "-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].split()[2] == "normal/normal_00000.png"
    outside = tmp_path / "query.jpg"
    Image.open(planted / "normal" / "normal_00001.png").convert("RGB").save(outside, quality=95)
    found = similar_images(output, outside, k=3, ckpt_path=ckpt)
    assert {found[0]["id"], found[1]["id"]} == {"normal/normal_00001.png", "normal/copy_reencoded.jpg"}
    assert found[0]["similarity"] > 0.99 and [f["rank"] for f in found] == [1, 2, 3]
    assert main(["similar", str(output), "no/such/image.png"]) == 2
