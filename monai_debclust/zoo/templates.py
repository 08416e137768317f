"""The bundle templates the package ships, and the form ``monai-debclust export`` writes them in.

Each template is a folder of package data, ``monai_debclust/bundles/<name>/`` (the repository's
``bundles/<name>`` links to it), whose ``metadata.json`` names it under :data:`TEMPLATE_KEY`.
A bundle folder comes in one of two layouts:

* ``template``: the template's own files (``train.json``, ``metadata.json``, ``logging.conf`` at
  the top, ``configs/...``), as in the repository;
* ``exported``: the Model Zoo layout export writes, every config under ``configs/`` and the
  top-level keys of :data:`CONFIG_OVERRIDES` rewritten by :func:`exported_config`.

:func:`expected_files` gives, for a template and a layout, every config file and its content in
that layout: what export writes, and what :mod:`~monai_debclust.zoo.provenance` compares a
bundle with. There is one rewriting, used by both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from monai_debclust.errors import UserError

__all__ = [
    "CONFIG_OVERRIDES",
    "CONFIG_SOURCES",
    "EXPORTED",
    "TEMPLATE",
    "TEMPLATE_KEY",
    "ExportError",
    "bundle_layout",
    "expected_files",
    "exported_config",
    "template_folder",
    "template_names",
]

#: Metadata key naming the packaged template a bundle was made from.
TEMPLATE_KEY = "monai_debclust_template"
#: The two bundle layouts.
TEMPLATE, EXPORTED = "template", "exported"
#: Exported config -> where the template keeps it (first found), and whether it is required.
CONFIG_SOURCES: dict[str, tuple[tuple[str, ...], bool]] = {
    "metadata.json": (("configs/metadata.json", "metadata.json"), True),
    "train.json": (("configs/train.json", "train.json"), True),
    "inference.json": (("configs/inference.json",), True),
    "evaluate.json": (("configs/evaluate.json",), True),
    "multi_gpu_train.json": (("configs/multi_gpu_train.json",), False),
    "logging.conf": (("configs/logging.conf", "logging.conf"), True),
}
_BUNDLE_ROOT = {"bundle_root": "."}
#: Top-level keys each exported config sets (each one a key of the template's config).
CONFIG_OVERRIDES: dict[str, dict[str, Any]] = {
    "train.json": _BUNDLE_ROOT,
    "inference.json": {
        **_BUNDLE_ROOT,
        "bundle_dir": "@bundle_root",
        "ckpt_path": "$@bundle_dir + '/models/model.pt'",
        "train_config": "$@bundle_dir + '/configs/train.json'",
    },
    "evaluate.json": {"ckpt_path": "$@bundle_root + '/models/model.pt'"},
}


class ExportError(UserError, ValueError):
    """A training run or bundle folder that cannot be exported; the message names the file at fault."""


def _templates_root() -> Path:
    return Path(str(resources.files("monai_debclust") / "bundles"))


def template_names() -> tuple[str, ...]:
    """The names of the packaged templates, sorted."""
    return tuple(sorted(path.name for path in _templates_root().iterdir() if (path / "metadata.json").is_file()))


def template_folder(name: str) -> Path | None:
    """The packaged template ``name``, or None when the package ships none of that name (never a path)."""
    return _templates_root() / name if name in template_names() else None


def exported_config(name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The exported copy of the template config ``name``: the keys of :data:`CONFIG_OVERRIDES` replaced.

    Raises:
        ExportError: the config lacks a key the export sets.
    """
    overrides = CONFIG_OVERRIDES.get(name, {})
    missing = sorted(set(overrides) - set(config))
    if missing:
        raise ExportError(f"the bundle's {name} has no {', '.join(missing)}, which the exported copy sets.")
    return {key: overrides.get(key, value) for key, value in config.items()}


def bundle_layout(bundle_dir: Path) -> str:
    """:data:`EXPORTED` when ``bundle_dir`` keeps ``train.json`` under ``configs/``, else :data:`TEMPLATE`."""
    return EXPORTED if (bundle_dir / "configs" / "train.json").is_file() else TEMPLATE


def _content(path: Path) -> Any:
    """A JSON config as data, any other config file (``logging.conf``) as its text."""
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else text


def expected_files(template: Path, layout: str) -> dict[str, Any]:
    """Every config file of ``template`` in ``layout``: relative path -> content (JSON as data, else text)."""
    expected: dict[str, Any] = {}
    for name, (candidates, _) in CONFIG_SOURCES.items():
        found = [candidate for candidate in candidates if (template / candidate).is_file()]
        if layout == TEMPLATE:
            expected.update({candidate: _content(template / candidate) for candidate in found})
        elif found:
            content = _content(template / found[0])
            expected[f"configs/{name}"] = exported_config(name, content) if name.endswith(".json") else content
    return expected
