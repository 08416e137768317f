"""The provenance comparison on its own: what may differ from a packaged template, and what may not (no training)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from monai_debclust.zoo import config_differences, is_plain, read_provenance, template_folder, template_names
from monai_debclust.zoo.templates import EXPORTED, expected_files

from .conftest import REPO

BUNDLES = ("refuge", "glaucoma1", "isic2018")


@pytest.fixture()
def template_copy(tmp_path) -> Path:
    """A copy of the packaged REFUGE template (template layout) that a test may change."""
    return Path(shutil.copytree(template_folder("refuge"), tmp_path / "refuge"))


def _edit(path: Path, change) -> None:
    content = json.loads(path.read_text())
    change(content)
    path.write_text(json.dumps(content, indent=4))


def test_the_package_ships_the_three_templates_and_the_repository_links_to_them():
    assert template_names() == tuple(sorted(BUNDLES))
    for name in BUNDLES:
        assert (REPO / "bundles" / name).resolve() == template_folder(name).resolve()
    assert template_folder("../refuge") is None and template_folder("/etc") is None


@pytest.mark.parametrize("bundle", BUNDLES)
def test_each_template_matches_itself_in_both_layouts(bundle, tmp_path):
    provenance = read_provenance(REPO / "bundles" / bundle)
    assert (provenance.template, provenance.layout, provenance.differences) == (bundle, "template", [])
    exported = tmp_path / bundle
    for file, content in expected_files(template_folder(bundle), EXPORTED).items():
        (exported / file).parent.mkdir(parents=True, exist_ok=True)
        (exported / file).write_text(content if isinstance(content, str) else json.dumps(content))
    provenance = read_provenance(exported)
    assert (provenance.template, provenance.layout, provenance.differences) == (bundle, "exported", [])


@pytest.mark.parametrize(("value", "plain"), [
    (3, True), (None, True), (True, True), ("runs/x", True), ("a@b", True), ([1, "x", {"k": 2.5}], True),
    ("$1", False), ("@x", False), ("%m", False), ({"_target_": "x"}, False), ({"_disabled_": True}, False),
    ({"a#b": 1}, False), ({"a::b": 1}, False), ({"_new_": 1}, False), ([1, ["@x"]], False),
])
def test_is_plain(value, plain):
    assert is_plain(value) is plain


def test_plain_settings_may_differ_and_are_listed():
    expected = {"epochs": 20, "out": "runs/a", "net": {"_target_": "x.Y", "dim": 8, "opts": {"a": 1}}, "l": ["$1", 2]}
    actual = {"epochs": 1, "out": "/data/runs", "net": {"_target_": "x.Y", "dim": 16, "opts": {"a": 1, "b": [2]}},
              "l": ["$1", 3]}
    settings: list[str] = []
    assert config_differences(expected, actual, "c.json", settings=settings) == []
    assert settings == ["c.json#epochs", "c.json#out", "c.json#net#dim", "c.json#net#opts#b", "c.json#l#1"]


@pytest.mark.parametrize(("actual", "key", "reason"), [
    ({"a": 1, "net": {"_target_": "x.Z"}}, "net#_target_", "the template has 'x.Y'"),
    ({"a": 1, "net": {"_target_": "x.Y", "_disabled_": True}}, "net#_disabled_", "a key the template does not have"),
    ({"a": 1, "net": {"_target_": "x.Y"}, "b": 2}, "b", "a key the template does not have"),
    ({"a": 1, "net": {"_target_": "x.Y"}, "net#_target_": "os.system"}, "net#_target_", "a key the template"),
    ({"a": "$1", "net": {"_target_": "x.Y"}}, "a", "code where the template has a plain setting"),
    ({"a": {"k": "@net"}, "net": {"_target_": "x.Y"}}, "a#k", "code where the template has a plain setting"),
    ({"a": {"_target_": "eval"}, "net": {"_target_": "x.Y"}}, "a#_target_", "code where the template"),
    ({"a": 1, "net": "cpu"}, "net", "the template has"),
    ({"a": 1}, "net", "missing"),
    ({"a": 1, "net": {"_target_": "x.Y"}, "l": ["$1", "$3", 2]}, "l#1", "the template's list has 2 items here, this one 3"),
])
def test_code_that_is_not_the_templates_is_named(actual, key, reason):
    expected = {"a": 1, "net": {"_target_": "x.Y"}, **({"l": ["$1", 2]} if "l" in actual else {})}
    found = config_differences(expected, actual, "c.json")
    assert [difference.key for difference in found] == [key]
    assert reason in found[0].reason and found[0].file == "c.json"


def test_a_changed_expression_names_the_file_the_key_and_the_text(template_copy):
    def change(config):
        config["initialize"][1] = "$monai.utils.optional_import('os')[0].system('id')"
    _edit(template_copy / "configs" / "inference.json", change)
    differences = read_provenance(template_copy).differences
    assert [str(d) for d in differences] == [
        "configs/inference.json#initialize#1: \"$monai.utils.optional_import('os')[0].system('id')\" "
        "(the template has '$monai_debclust.errors.install_error_hook()')"]


def test_metadata_may_change_its_plain_values_but_hold_no_code(template_copy):
    meta_file = template_copy / "configs" / "metadata.json"
    _edit(meta_file, lambda meta: meta.update(version="9.9.9", eval_metrics={"accuracy": 0.5}))
    assert read_provenance(template_copy).differences == []
    _edit(meta_file, lambda meta: meta.update(name="$open('x', 'w')"))
    assert [d.key for d in read_provenance(template_copy).differences] == ["name"]


def test_an_unknown_template_id_is_a_difference(template_copy):
    _edit(template_copy / "configs" / "metadata.json", lambda meta: meta.update(monai_debclust_template="../x"))
    provenance = read_provenance(template_copy)
    assert provenance.template is None
    assert "names no template this monai-debclust ships (glaucoma1, isic2018, refuge)" in str(provenance.differences[0])


def test_logging_conf_extra_files_python_and_duplicate_keys_are_differences(template_copy):
    conf = template_copy / "configs" / "logging.conf"
    conf.write_text(conf.read_text().replace("args=(sys.stdout,)", "args=(__import__('os').getpid(),)"))
    (template_copy / "configs" / "extra.json").write_text("{}")
    (template_copy / "scripts").mkdir()
    (template_copy / "scripts" / "__init__.py").write_text("")
    (template_copy / "configs" / "evaluate.json").write_text('{"a": 1, "a": 2}')
    found = {(d.file, d.key) for d in read_provenance(template_copy).differences}
    assert found == {("configs/logging.conf", "line 18"), ("configs/extra.json", ""), ("scripts/__init__.py", ""),
                     ("configs/evaluate.json", "")}


def test_large_files_listing_must_be_plain_data(template_copy):
    (template_copy / "large_files.yml").write_text("large_files:\n  - path: models/model.pt\n    url: '$open(1)'\n")
    assert [(d.file, d.key) for d in read_provenance(template_copy).differences] == [("large_files.yml", "large_files#0#url")]
