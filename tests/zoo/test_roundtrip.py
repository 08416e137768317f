"""A bundle travels: train (toy) -> export -> verify -> serve over HTTP -> MONAI download -> inference elsewhere.

The downloaded bundle, run with MONAI's own command from another folder, must assign every image
of the demo archive exactly as the original bundle (the repository's configs on the training
run's folder) does.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from monai_debclust.zoo import sha256_file

from .conftest import BUNDLE, LARGE_FILE_MB, cli, run

pytestmark = pytest.mark.slow


def assignments(results_dir: Path) -> dict[str, tuple[str, str]]:
    """``{id: (cluster, confidence)}`` of an ``assignments.csv``."""
    with open(results_dir / "clustering" / "assignments.csv", newline="", encoding="utf-8") as handle:
        return {row["id"]: (row["cluster"], row["confidence"]) for row in csv.DictReader(handle)}


def test_export_writes_a_zoo_folder_zip_and_sha256(exported):
    folder, zip_path = exported["folder"], exported["zip"]
    for name in ("configs/metadata.json", "configs/inference.json", "configs/evaluate.json", "configs/train.json",
                 "configs/logging.conf", "models/model.pt", "models/model.ts", "docs/README.md", "LICENSE"):
        assert (folder / name).is_file(), name
    assert zip_path.name == "refuge_v0.2.1.zip"  # the repository bundle is 0.2.0: the patch is raised
    digest = sha256_file(zip_path)
    assert f"sha256: {digest}" in exported["stdout"]
    assert zip_path.with_name(zip_path.name + ".sha256").read_text() == f"{digest}  {zip_path.name}\n"
    with zipfile.ZipFile(zip_path) as archive:
        assert {name.split("/")[0] for name in archive.namelist()} == {"refuge"}
    meta = json.loads((folder / "configs" / "metadata.json").read_text())
    assert meta["version"] == "0.2.1" and "0.2.1" in meta["changelog"] and "0.2.0" in meta["changelog"]
    assert meta["network_data_format"]["inputs"]["image"]["spatial_shape"] == [16, 16]  # the trained size
    assert meta["monai_debclust_template"] == "refuge"  # the packaged template it came from


def test_export_lists_files_over_the_size_limit_with_their_sha256(exported):
    listed = yaml.safe_load((exported["folder"] / "large_files.yml").read_text())["large_files"]
    by_path = {entry["path"]: entry for entry in listed}
    folder, limit = exported["folder"], LARGE_FILE_MB * 1e6
    over_limit = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.stat().st_size > limit}
    assert set(by_path) == over_limit and {"models/model.pt", "models/model.ts"} <= over_limit
    assert by_path["models/model.pt"]["hash_type"] == "sha256"
    assert by_path["models/model.pt"]["hash_val"] == sha256_file(exported["folder"] / "models" / "model.pt")


def test_exported_configs_are_the_repository_configs_plus_the_bundle_root_keys(exported):
    for name, source in (("train.json", "train.json"), ("inference.json", "configs/inference.json"),
                         ("evaluate.json", "configs/evaluate.json")):
        original = json.loads((BUNDLE / source).read_text())
        copy = json.loads((exported["folder"] / "configs" / name).read_text())
        changed = {key for key in copy if original.get(key) != copy[key]}
        assert changed <= {"bundle_root", "bundle_dir", "ckpt_path", "train_config"}, name
        assert list(original) == list(copy)  # the same keys in the same order: the same code paths
    inference = json.loads((exported["folder"] / "configs" / "inference.json").read_text())
    assert inference["ckpt_path"] == "$@bundle_dir + '/models/model.pt'" and inference["bundle_dir"] == "@bundle_root"


def test_verify_passes_the_exported_bundle(exported, capsys):
    status, out, _ = cli(capsys, "verify", str(exported["folder"]))
    assert status == 0, out
    for check in ("files", "metadata", "provenance", "large files", "weights", "network in/out", "TorchScript",
                  "inference"):
        assert f"PASS  {check}:" in out, check
    assert "the configs hold only the code of the packaged template refuge (exported layout)" in out


def test_monai_download_over_http_then_inference_assigns_as_the_original_bundle(
        exported, training_run, http_root, tmp_path, capsys):
    served, base_url = http_root
    shutil.copy(exported["zip"], served)
    url = f"{base_url}/{exported['zip'].name}"
    downloaded = tmp_path / "elsewhere"
    result = run([sys.executable, "-m", "monai.bundle", "download", "--name", "refuge", "--url", url,
                  "--bundle_dir", str(downloaded)])
    assert result.returncode == 0, result.stderr[-3000:]
    bundle = downloaded / "refuge"
    archive = training_run / "demo_cohort"

    options = ["--device", "cpu", "--num_workers", "0"]
    result = run([sys.executable, "-m", "monai.bundle", "run", "inference", "--config_file",
                  str(bundle / "configs" / "inference.json"), "--bundle_root", str(bundle), "--dataset_dir",
                  str(archive), "--output_dir", str(tmp_path / "downloaded_run"), *options])
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    status, _, err = cli(capsys, "cluster", str(archive), "--bundle", str(BUNDLE), "--output", str(training_run),
                         *options)
    assert status == 0, err

    original, travelled = assignments(training_run), assignments(tmp_path / "downloaded_run")
    assert len(original) == 24 and travelled == original


def test_zoo_index_download_checks_the_sha256_then_runs(exported, http_root, tmp_path, capsys):
    served, base_url = http_root
    shutil.copy(exported["zip"], served)
    index = tmp_path / "index.json"
    status, _, err = cli(capsys, "publish", str(exported["zip"]), "--index", str(index), "--url",
                         f"{base_url}/{exported['zip'].name}")
    assert status == 0, err
    status, out, _ = cli(capsys, "list", "--index", str(index))
    assert status == 0 and out.startswith("refuge") and "0.2.1" in out
    status, out, err = cli(capsys, "download", "refuge", "--index", str(index), "--bundle_dir", str(tmp_path / "zoo"))
    assert status == 0, err
    assert "sha256 checked" in out and "its configs hold only the code of the packaged template refuge" in out
    assert sha256_file(tmp_path / "zoo" / "refuge" / "models" / "model.pt") == sha256_file(
        exported["folder"] / "models" / "model.pt")
