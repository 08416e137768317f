"""A bundle's ``configs/metadata.json``: the offline schema check and what an export changes in it.

MONAI's ``verify_metadata`` downloads the JSON schema named by the metadata's ``"schema"`` URL
unless the file it is told to store it in already exists. The package ships its own schema,
:data:`SCHEMA_FILE` (written from the MONAI Bundle Specification and the Model Zoo's CI; see
its ``description``), and passes that file, so the check never touches the network.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping
from importlib import metadata as distributions
from pathlib import Path
from typing import Any

import jsonschema
from monai.bundle import verify_metadata

from monai_debclust.errors import UserError

__all__ = [
    "SCHEMA_FILE",
    "MetadataError",
    "check_metadata",
    "exported_metadata",
    "next_version",
    "schema_errors",
]

SCHEMA_FILE = Path(__file__).with_name("schema") / "meta_schema.json"
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
#: Distributions whose installed version an export records, by metadata key.
_ENVIRONMENT = {"monai_version": "monai", "pytorch_version": "torch", "numpy_version": "numpy"}


class MetadataError(UserError, ValueError):
    """Metadata that does not pass the schema or the Model Zoo's version rules; the message lists why."""


def schema_errors(meta: Mapping[str, Any]) -> list[str]:
    """Every way ``meta`` breaks :data:`SCHEMA_FILE`, each as ``path: message``; empty when it passes."""
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(meta), key=lambda error: list(map(str, error.absolute_path)))
    return [f"{'#'.join(map(str, error.absolute_path)) or '(top level)'}: {error.message}" for error in errors]


def check_metadata(meta_file: str | Path) -> None:
    """Check ``meta_file`` as the Model Zoo's CI does, offline.

    MONAI's ``verify_metadata`` with the shipped schema, then the Zoo's rule that ``changelog``
    holds ``version``.

    Raises:
        MetadataError: listing every schema error (with its key path) or the version problem.
    """
    meta = json.loads(Path(meta_file).read_text(encoding="utf-8"))
    if not isinstance(meta.get("schema"), str):
        raise MetadataError(f"{meta_file}: no 'schema' key (the URL of the bundle metadata schema).")
    try:
        with warnings.catch_warnings():  # the schema is this package's own file, not a download to hash-check
            warnings.filterwarnings("ignore", message="No hash value provided", category=UserWarning)
            verify_metadata(meta_file=str(meta_file), filepath=str(SCHEMA_FILE))
    except ValueError as exc:
        listing = "\n".join(f"  {error}" for error in schema_errors(meta)) or f"  {exc}"
        raise MetadataError(f"{meta_file} does not pass the bundle metadata schema:\n{listing}") from exc
    if meta["version"] not in meta["changelog"]:
        raise MetadataError(f"{meta_file}: version {meta['version']} has no entry in 'changelog'.")


def next_version(version: str) -> str:
    """``version`` with its patch number raised by one (``0.2.0`` -> ``0.2.1``)."""
    match = _VERSION.fullmatch(version)
    if match is None:
        raise MetadataError(f"version {version!r} is not of the form MAJOR.MINOR.PATCH.")
    major, minor, patch = map(int, match.groups())
    return f"{major}.{minor}.{patch + 1}"


def _installed(distribution: str) -> str | None:
    try:
        return distributions.version(distribution).split("+")[0]
    except distributions.PackageNotFoundError:
        return None


def exported_metadata(
    meta: Mapping[str, Any],
    version: str,
    change: str,
    input_settings: Mapping[str, Any],
    num_clusters: int,
    spatial_dims: int = 2,
    eval_metrics: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """The metadata of an exported bundle: ``meta`` with the new version, the exported model and this environment.

    Args:
        meta: the repository bundle's metadata.
        version: the exported version; must not be in ``meta``'s changelog yet.
        change: its changelog entry.
        input_settings: ``{"image_size", "in_channels"}`` the network was trained on.
        num_clusters: the number of clusters ``K`` (the output's channels).
        spatial_dims: 2 or 3.
        eval_metrics: numbers measured on the training run, if any.
    """
    if version in meta.get("changelog", {}):
        raise MetadataError(f"version {version} is already in the changelog; an export needs a new version.")
    if _VERSION.fullmatch(version) is None:
        raise MetadataError(f"version {version!r} is not of the form MAJOR.MINOR.PATCH.")
    exported = dict(meta)
    exported["version"] = version
    exported["changelog"] = {version: change, **meta.get("changelog", {})}
    for key, distribution in _ENVIRONMENT.items():
        exported[key] = _installed(distribution) or meta.get(key)
    exported["required_packages_version"] = {
        name: _installed(name) or pinned for name, pinned in meta.get("required_packages_version", {}).items()
    }
    data_format = meta["network_data_format"]
    image = data_format["inputs"]["image"]
    channels = input_settings.get("in_channels", image["num_channels"])
    size = input_settings.get("image_size")
    pred = data_format["outputs"]["pred"]
    exported["network_data_format"] = {
        **data_format,
        "inputs": {**data_format["inputs"], "image": {
            **image, "num_channels": channels,
            "spatial_shape": [size] * spatial_dims if size else image["spatial_shape"],
            "channel_def": image["channel_def"] if len(image["channel_def"]) == channels
            else {str(index): f"channel {index}" for index in range(channels)},
        }},
        "outputs": {**data_format["outputs"], "pred": {
            **pred, "num_channels": num_clusters, "spatial_shape": [num_clusters],
            "channel_def": {str(index): f"cluster {index}" for index in range(num_clusters)},
        }},
    }
    if eval_metrics:
        exported["eval_metrics"] = dict(eval_metrics)
    return exported
