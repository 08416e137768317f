"""Config gadgets an attacker may put in a downloaded bundle: `verify` and `cluster` refuse each, and none runs.

Each gadget changes a copy of the exported bundle so that running its configs (or loading its
logging set-up) would create a marker file. `verify` must report a FAIL naming the file and the
key, `cluster` must refuse with one line naming the key and `--trust`, and the marker must not
exist afterwards: neither the provenance check nor verify's later checks ran the bundle's code.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from monai_debclust.zoo import sha256_file, template_folder, zip_folder
from monai_debclust.zoo.index import IndexEntry, write_index

from .conftest import cli

pytestmark = pytest.mark.slow


class _Payload:
    """Unpickling it creates the file ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _edit(path: Path, change: Callable[[dict], None]) -> None:
    content = json.loads(path.read_text())
    change(content)
    path.write_text(json.dumps(content, indent=4))


def _first_initialize(expression: str) -> Callable[[Path, Path], tuple[str, str]]:
    def plant(bundle: Path, marker: Path) -> tuple[str, str]:
        text = expression.format(marker=marker, payload=marker.with_name("payload.pkl"))
        _edit(bundle / "configs" / "inference.json", lambda config: config["initialize"].insert(0, text))
        return "configs/inference.json", "initialize#0"
    return plant


def _eval_component(bundle: Path, marker: Path) -> tuple[str, str]:
    def change(config):
        config["evil"] = {"_target_": "eval", "_mode_": "callable"}
        config["initialize"].insert(0, f"$@evil(\"__import__('pathlib').Path('{marker}').touch()\")")
    _edit(bundle / "configs" / "inference.json", change)
    return "configs/inference.json", "evil"


def _builtin_target(bundle: Path, marker: Path) -> tuple[str, str]:
    def change(config):
        config["evil"] = {"_target_": "builtins.open", "file": str(marker), "mode": "w"}
        config["initialize"].insert(0, "@evil")
    _edit(bundle / "configs" / "inference.json", change)
    return "configs/inference.json", "evil"


def _target_override_key(bundle: Path, marker: Path) -> tuple[str, str]:
    # MONAI merges a top-level "a#b" key into a: this rewrites the clusterer into open(marker, "w")
    def change(config):
        config["clusterer#_target_"] = "builtins.open"
        config["clusterer#file"] = str(marker)
    _edit(bundle / "configs" / "inference.json", change)
    return "configs/inference.json", "clusterer#_target_"


def _disabled_changed(bundle: Path, marker: Path) -> tuple[str, str]:
    # the training handlers' conditions: an unchanged key set, a different _disabled_ expression
    handlers = json.loads((bundle / "configs" / "train.json").read_text())["train"]["handlers"]
    index = next(index for index, handler in enumerate(handlers) if "_disabled_" in handler)
    _edit(bundle / "configs" / "train.json",
          lambda config: config["train"]["handlers"][index].update(_disabled_=f"$open('{marker}', 'w') is None"))
    return "configs/train.json", f"train#handlers#{index}#_disabled_"


def _requires_added(bundle: Path, marker: Path) -> tuple[str, str]:
    _edit(bundle / "configs" / "inference.json",
          lambda config: config["network"].update(_requires_=f"$open('{marker}', 'w')"))
    return "configs/inference.json", "network#_requires_"


def _metadata_string(bundle: Path, marker: Path) -> tuple[str, str]:
    # the inference config reads "$@_meta_.get('name')": MONAI evaluates the metadata's "$" strings
    _edit(bundle / "configs" / "metadata.json", lambda meta: meta.update(name=f"$open('{marker}', 'w').name"))
    return "configs/metadata.json", "name"


def _macro_from_another_file(bundle: Path, marker: Path) -> tuple[str, str]:
    other = marker.with_name("other.json")
    other.write_text(json.dumps({"payload": f"$open('{marker}', 'w').name"}))
    _edit(bundle / "configs" / "inference.json", lambda config: config.update(batch_size=f"%{other}::payload"))
    return "configs/inference.json", "batch_size"


def _logging_conf(bundle: Path, marker: Path) -> tuple[str, str]:
    # logging.config.fileConfig evaluates a handler's args
    conf = bundle / "configs" / "logging.conf"
    conf.write_text(conf.read_text().replace("args=(sys.stdout,)",
                                             f"args=(__import__('os').system('touch {marker}') or sys.stdout,)"))
    return "configs/logging.conf", "line 18"


def _scripts_package(bundle: Path, marker: Path) -> tuple[str, str]:
    (bundle / "scripts").mkdir()
    (bundle / "scripts" / "__init__.py").write_text(f"open({str(marker)!r}, 'w')\n")
    _edit(bundle / "configs" / "inference.json", lambda config: config["imports"].append("$import scripts"))
    return "configs/inference.json", "imports#3"


GADGETS = {
    "eval through _target_ then $@evil(...)": _eval_component,
    "optional_import('os')[0].system": _first_initialize("$monai.utils.optional_import('os')[0].system('touch {marker}')"),
    "torch.load weights_only=False": _first_initialize("$torch.load('{payload}', weights_only=False)"),
    "numpy.load allow_pickle=True": _first_initialize("$__import__('numpy').load('{payload}', allow_pickle=True)"),
    "builtins.open through _target_": _builtin_target,
    "module attribute walk to __builtins__": _first_initialize("$monai.__builtins__['open']('{marker}', 'w')"),
    "lambda attribute walk to __builtins__": _first_initialize(
        "$(lambda: 0).__globals__['__builtins__'].__dict__['exec'](\"open('{marker}', 'w')\")"),
    "unpickling through torch's pickle": _first_initialize("$torch.serialization.pickle.load(open('{payload}', 'rb'))"),
    "top-level key#path override": _target_override_key,
    "changed _disabled_": _disabled_changed,
    "added _requires_": _requires_added,
    "metadata string read through @_meta_": _metadata_string,
    "% macro from another file": _macro_from_another_file,
    "logging.conf handler args": _logging_conf,
    "scripts package imported": _scripts_package,
}


@pytest.fixture(params=list(GADGETS), ids=list(GADGETS))
def gadget(request, bundle_copy, tmp_path) -> tuple[Path, Path, str, str]:
    """The bundle copy with one gadget planted: ``(bundle, marker, file, key)``."""
    marker = tmp_path / "PWNED"
    marker.with_name("payload.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    file, key = GADGETS[request.param](bundle_copy, marker)
    return bundle_copy, marker, file, key


def test_verify_fails_the_gadget_and_runs_nothing(gadget, capsys):
    bundle, marker, file, key = gadget
    status, out, _ = cli(capsys, "verify", str(bundle))
    assert status == 1, out
    assert "FAIL  provenance:" in out and f"{file}#{key}" in out
    assert "PASS  weights:" in out  # the later checks ran the package's code ...
    assert not marker.exists()  # ... and nothing of the bundle's


def test_cluster_refuses_the_gadget_in_one_line_and_runs_nothing(gadget, tmp_path, capsys):
    bundle, marker, file, key = gadget
    status, _, err = cli(capsys, "cluster", str(tmp_path), "--bundle", str(bundle), "--output", str(tmp_path / "run"))
    message = err.splitlines()[0]  # one line; the error hook's hint on tracebacks follows
    assert status == 2 and message.startswith("monai-debclust: error: ")
    assert f"{file}#{key}" in message and "pass --trust" in message, err
    assert not marker.exists() and not (tmp_path / "run").exists()


def test_train_and_download_refuse_a_gadget(bundle_copy, tmp_path, capsys):
    marker = tmp_path / "PWNED"
    file, key = _disabled_changed(bundle_copy, marker)
    status, _, err = cli(capsys, "train", "--bundle", str(bundle_copy), "--output", str(tmp_path / "run"))
    assert status == 2 and f"{file}#{key}" in err and "pass --trust" in err
    assert not marker.exists() and not (tmp_path / "run").exists()

    zip_path = zip_folder(bundle_copy, tmp_path / "served" / "refuge_v0.2.1.zip")
    index = write_index(tmp_path / "index.json", [IndexEntry("refuge", "0.2.1", "served/refuge_v0.2.1.zip",
                                                             sha256_file(zip_path), "a gadget")])
    status, out, err = cli(capsys, "download", "refuge", "--index", str(index), "--bundle_dir", str(tmp_path / "zoo"))
    assert status == 2 and out == "" and f"{file}#{key}" in err and "The downloaded folder was removed." in err
    assert list((tmp_path / "zoo").iterdir()) == []
    status, out, err = cli(capsys, "download", "refuge", "--index", str(index), "--bundle_dir", str(tmp_path / "zoo"),
                           "--trust")
    assert status == 0 and f"  {file}#{key}: " in out and (tmp_path / "zoo" / "refuge" / file).is_file()
    assert not marker.exists()


def test_a_code_change_runs_only_with_trust(bundle_copy, training_run, tmp_path, capsys):
    _edit(bundle_copy / "configs" / "inference.json",
          lambda config: config.update(results_dir="$@output_dir + '/elsewhere'"))
    options = ["cluster", str(training_run / "demo_cohort"), "--bundle", str(bundle_copy), "--output",
               str(tmp_path / "run"), "--device", "cpu", "--num_workers", "0"]
    status, _, err = cli(capsys, *options)
    assert status == 2 and "configs/inference.json#results_dir: \"$@output_dir + '/elsewhere'\"" in err
    status, _, err = cli(capsys, *options, "--trust")
    assert status == 0, err
    assert (tmp_path / "run" / "elsewhere" / "assignments.csv").is_file()


def test_plain_setting_changes_pass_verify(bundle_copy, capsys):
    _edit(bundle_copy / "configs" / "inference.json",
          lambda config: config.update(batch_size=8, output_dir="/data/r", min_confidence=0.5))
    status, out, _ = cli(capsys, "verify", str(bundle_copy))
    assert status == 0, out
    assert ("plain settings changed: configs/inference.json#output_dir, configs/inference.json#batch_size, "
            "configs/inference.json#min_confidence;") in out
    assert re.search(r"; \d+ plain metadata value\(s\) differ \(an export sets", out)  # values, never code


def test_an_unknown_template_fails_unless_trusted(bundle_copy, tmp_path, capsys):
    _edit(bundle_copy / "configs" / "metadata.json", lambda meta: meta.update(monai_debclust_template="spleen"))
    status, out, _ = cli(capsys, "verify", str(bundle_copy))
    assert status == 1 and "configs/metadata.json#monai_debclust_template: 'spleen' (names no template" in out
    status, out, _ = cli(capsys, "verify", str(bundle_copy), "--trust")
    assert status == 0, out
    assert "WARN  provenance:" in out and "SKIP  inference: not run: no packaged template" in out
    assert "PASS  TorchScript:" in out and "model.ts max |q - q_eager|" in out  # --trust loads the shipped model.ts


def test_the_exported_configs_are_the_templates_in_exported_form(exported):
    folder = template_folder("refuge")
    inference = json.loads((exported["folder"] / "configs" / "inference.json").read_text())
    template = json.loads((folder / "configs" / "inference.json").read_text())
    assert {key for key in template if template[key] != inference[key]} == {"bundle_dir", "ckpt_path", "train_config"}


def test_export_refuses_a_bundle_with_changed_code_unless_trusted(training_run, tmp_path, capsys):
    bundle = Path(shutil.copytree(template_folder("refuge"), tmp_path / "refuge"))
    marker = tmp_path / "PWNED"
    file, key = _first_initialize("$monai.utils.optional_import('os')[0].system('touch {marker}')")(bundle, marker)
    status, _, err = cli(capsys, "export", str(training_run), "--bundle", str(bundle), "--out", str(tmp_path / "out"))
    assert status == 2 and f"{file}#{key}" in err and "pass --trust" in err
    assert not (tmp_path / "out").exists() and not marker.exists()
    status, out, err = cli(capsys, "export", str(training_run), "--bundle", str(bundle), "--out", str(tmp_path / "out"),
                           "--trust")
    assert status == 0, err
    assert not marker.exists()  # export traces the package's own network config, not the bundle's
