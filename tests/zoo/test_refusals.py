"""What verify and download refuse, each with a message that names the reason."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from monai_debclust.zoo import sha256_file
from monai_debclust.zoo.index import IndexEntry, write_index

from .conftest import cli

pytestmark = pytest.mark.slow


def _index(tmp_path: Path, zip_path: Path, sha256: str) -> Path:
    return write_index(tmp_path / "index.json", [IndexEntry("refuge", "0.2.1", zip_path.name, sha256, "test")])


def test_a_tampered_zip_is_refused_and_nothing_is_extracted(exported, tmp_path, capsys):
    tampered = tmp_path / exported["zip"].name
    shutil.copy(exported["zip"], tampered)
    with zipfile.ZipFile(tampered, "a") as archive:
        archive.writestr("refuge/configs/extra.json", '{"run": "$print(1)"}')
    index = _index(tmp_path, tampered, sha256_file(exported["zip"]))
    status, _, err = cli(capsys, "download", "refuge", "--index", str(index), "--bundle_dir", str(tmp_path / "zoo"))
    assert status == 2
    assert f"the index says {sha256_file(exported['zip'])}" in err and "refused, nothing extracted" in err
    assert list((tmp_path / "zoo").iterdir()) == []  # no bundle folder, no temporary file left


def test_a_zip_with_a_parent_entry_is_refused_even_with_the_right_sha256(exported, tmp_path, capsys):
    evil = tmp_path / "refuge_v0.2.1.zip"
    shutil.copy(exported["zip"], evil)
    with zipfile.ZipFile(evil, "a") as archive:
        archive.writestr("refuge/../../escaped.txt", "outside the target")
    index = _index(tmp_path, evil, sha256_file(evil))
    target = tmp_path / "deep" / "zoo"
    status, _, err = cli(capsys, "download", "refuge", "--index", str(index), "--bundle_dir", str(target))
    assert status == 2 and "contains '..' and would escape the target folder" in err
    assert not (tmp_path / "escaped.txt").exists() and not (target / "refuge").exists()


def test_verify_fails_a_config_that_runs_os_system_and_runs_nothing(bundle_copy, tmp_path, capsys):
    marker = tmp_path / "PWNED"
    config = bundle_copy / "configs" / "inference.json"
    content = json.loads(config.read_text())
    content["initialize"] = [f"$__import__('os').system('touch {marker}')", *content.get("initialize", [])]
    config.write_text(json.dumps(content, indent=4))
    status, out, _ = cli(capsys, "verify", str(bundle_copy))
    assert status == 1
    assert "FAIL  provenance: 1 difference(s) from the template refuge" in out
    assert f"configs/inference.json#initialize#0: \"$__import__('os').system('touch {marker}')\" (the template's list" in out
    assert "PASS  inference: the template refuge's inference workflow" in out  # the package's config, not the bundle's
    assert not marker.exists()


def test_verify_names_the_keys_of_weights_from_another_network_configuration(bundle_copy, capsys):
    description_file = bundle_copy / "models" / "network.json"
    description = json.loads(description_file.read_text())
    description["arguments"]["encoder_kwargs"]["dim"] = 12
    description_file.write_text(json.dumps(description))
    status, out, _ = cli(capsys, "verify", str(bundle_copy))
    assert status == 1
    assert "FAIL  weights: CheckpointError: the weights in" in out
    assert "of another shape (checkpoint vs network)" in out and "encoder.patch_embedding.0.weight" in out
    assert "SKIP  inference: not run: the weights check failed" in out


def test_verify_reports_each_missing_file_and_metadata_error(bundle_copy, capsys):
    (bundle_copy / "LICENSE").unlink()
    meta_file = bundle_copy / "configs" / "metadata.json"
    meta = json.loads(meta_file.read_text())
    del meta["network_data_format"]["outputs"]["pred"]["modality"]
    meta_file.write_text(json.dumps(meta))
    status, out, _ = cli(capsys, "verify", str(bundle_copy))
    assert status == 1
    assert "FAIL  files: missing: LICENSE" in out
    assert "network_data_format#outputs#pred: 'modality' is a required property" in out
