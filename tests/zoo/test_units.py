"""The parts of the zoo package on their own: safe zips, the metadata schema, the index."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

import pytest

from monai_debclust.zoo import ArchiveError, safe_extract, schema_errors, zip_folder
from monai_debclust.zoo.index import ZooIndexError, find_entry, read_index
from monai_debclust.zoo.metadata import MetadataError, next_version

from .conftest import REPO

BUNDLES = ("refuge", "glaucoma1", "isic2018")


def _zip(path: Path, entries: dict[str, str], links: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in entries.items():
            archive.writestr(name, text)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize(("entry", "reason"), [
    ("refuge/../evil.txt", "contains '..'"),
    ("/etc/evil.txt", "absolute path"),
    ("C:/evil.txt", "absolute path"),
    ("refuge\\..\\evil.txt", "backslashes"),
    ("evil.txt", "outside a bundle folder"),
])
def test_safe_extract_refuses_entries_that_escape_the_target(tmp_path, entry, reason):
    archive = _zip(tmp_path / "b.zip", {"refuge/LICENSE": "x", entry: "y"})
    with pytest.raises(ArchiveError, match=reason):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "refuge").exists()


def test_safe_extract_refuses_symbolic_links_and_a_second_top_folder(tmp_path):
    with pytest.raises(ArchiveError, match="symbolic link"):
        safe_extract(_zip(tmp_path / "l.zip", {"refuge/LICENSE": "x"}, links=("refuge/models/model.pt",)), tmp_path)
    with pytest.raises(ArchiveError, match="2 top-level folders"):
        safe_extract(_zip(tmp_path / "t.zip", {"refuge/LICENSE": "x", "other/LICENSE": "y"}), tmp_path)
    with pytest.raises(ArchiveError, match="holds the bundle folder 'refuge', not 'spleen'"):
        safe_extract(_zip(tmp_path / "n.zip", {"refuge/LICENSE": "x"}), tmp_path, expected_folder="spleen")


def test_zip_folder_is_reproducible_and_round_trips(tmp_path):
    folder = tmp_path / "refuge"
    (folder / "configs").mkdir(parents=True)
    (folder / "configs" / "metadata.json").write_text("{}")
    (folder / "LICENSE").write_text("licence")
    first = zip_folder(folder, tmp_path / "a.zip").read_bytes()
    assert zip_folder(folder, tmp_path / "b.zip").read_bytes() == first
    extracted = safe_extract(tmp_path / "a.zip", tmp_path / "out")
    assert (extracted / "LICENSE").read_text() == "licence" and extracted == tmp_path / "out" / "refuge"


@pytest.mark.parametrize("bundle", BUNDLES)
def test_repository_metadata_passes_the_schema_and_both_copies_agree(bundle):
    folder = REPO / "bundles" / bundle
    meta = json.loads((folder / "configs" / "metadata.json").read_text())
    assert json.loads((folder / "metadata.json").read_text()) == meta
    assert schema_errors(meta) == []
    assert meta["version"] in meta["changelog"]


def test_schema_errors_name_the_key_path():
    meta = json.loads((REPO / "bundles" / "refuge" / "configs" / "metadata.json").read_text())
    del meta["copyright"]
    meta["network_data_format"]["inputs"]["image"]["num_channels"] = "three"
    assert schema_errors(meta) == ["(top level): 'copyright' is a required property",
                                   "network_data_format#inputs#image#num_channels: 'three' is not of type 'integer'"]


def test_next_version_raises_the_patch():
    assert next_version("0.2.9") == "0.2.10"
    with pytest.raises(MetadataError, match="MAJOR.MINOR.PATCH"):
        next_version("1.0")


def test_index_entries_are_checked_and_the_highest_version_is_found(tmp_path):
    entry = {"name": "refuge", "version": "0.2.1", "url": "a.zip", "sha256": "0" * 64, "description": "d"}
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"bundles": [entry, {**entry, "version": "0.10.0"}]}))
    assert find_entry(read_index(index), "refuge").version == "0.10.0"
    with pytest.raises(ZooIndexError, match="has no bundle spleen; it has: refuge 0.10.0, refuge 0.2.1"):
        find_entry(read_index(index), "spleen")
    index.write_text(json.dumps({"bundles": [{**entry, "sha256": "abc"}]}))
    with pytest.raises(ZooIndexError, match="sha256 'abc' is not 64"):
        read_index(index)
