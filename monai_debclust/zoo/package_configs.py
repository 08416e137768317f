"""The configs the package writes for MONAI's functions that insist on a ``config_file``.

MONAI's ``ckpt_export``, ``verify_net_in_out`` and ``ConfigWorkflow`` build what they run from a
config file. The checks of a bundle (``verify``) and ``export`` never give them the bundle's own
configs: they get :data:`NETWORK_CONFIG`, whose ``network_def`` is the network that
``models/network.json`` describes, rebuilt by the package's validated builder
(:func:`~monai_debclust.bundle.load_trained_network`) with ``models/model.pt`` loaded
weights-only, or a temporary bundle holding the packaged template's inference config.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from monai.bundle import ckpt_export, verify_net_in_out

from monai_debclust.bundle.outputs import INPUT_FILE, MODEL_FILE, NETWORK_FILE
from monai_debclust.zoo.templates import EXPORTED, expected_files, template_folder

__all__ = ["NETWORK_CONFIG", "export_torchscript", "network_in_out", "write_inference_bundle"]

#: ``network_def`` (image -> soft assignment q) of the weights in ``<bundle_root>/models``; nothing else.
NETWORK_CONFIG: dict[str, Any] = {
    "bundle_root": ".",
    "ckpt_path": "$@bundle_root + '/models/model.pt'",
    "network": {"_target_": "monai_debclust.bundle.load_trained_network", "ckpt_path": "@ckpt_path"},
    "network_def": {"_target_": "monai_debclust.networks.SoftAssignmentNet", "network": "@network"},
}
_NETWORK_CONFIG_FILE = "network_def.json"


def _write_network_config(folder: Path) -> Path:
    path = folder / _NETWORK_CONFIG_FILE
    path.write_text(json.dumps(NETWORK_CONFIG, indent=4) + "\n", encoding="utf-8")
    return path


def export_torchscript(bundle_root: Path, meta_file: Path, filepath: Path) -> None:
    """Trace the network of ``bundle_root/models`` with MONAI's ``ckpt_export`` into ``filepath``.

    The TorchScript file carries ``meta_file`` and :data:`NETWORK_CONFIG` as its extra files.
    """
    with tempfile.TemporaryDirectory() as folder:
        ckpt_export(net_id="network_def", filepath=str(filepath), ckpt_file=str(bundle_root / "models" / MODEL_FILE),
                    meta_file=str(meta_file), config_file=str(_write_network_config(Path(folder))),
                    bundle_root=str(bundle_root.resolve()), use_trace=True)


def network_in_out(bundle_root: Path, meta_file: Path) -> None:
    """MONAI's ``verify_net_in_out`` on the network of ``bundle_root/models`` against ``meta_file``."""
    with tempfile.TemporaryDirectory() as folder:
        verify_net_in_out(net_id="network_def", meta_file=str(meta_file),
                          config_file=str(_write_network_config(Path(folder))), bundle_root=str(bundle_root.resolve()))


def write_inference_bundle(folder: Path, template: str, metadata: Mapping[str, Any], models: Path) -> Path:
    """Write a bundle into ``folder``: the template's exported inference config, ``metadata``, ``models``'s files.

    Args:
        folder: an empty folder.
        template: the packaged template whose ``configs/inference.json`` and ``logging.conf`` are written.
        metadata: the metadata to write (plain data: the config reads it through ``@_meta_``).
        models: the folder holding ``model.pt``, ``network.json`` and ``input.json`` (copied).

    Returns:
        The written ``configs/inference.json``.
    """
    files = expected_files(template_folder(template), EXPORTED)
    (folder / "configs").mkdir(parents=True)
    (folder / "models").mkdir()
    config = folder / "configs" / "inference.json"
    config.write_text(json.dumps(files["configs/inference.json"], indent=4) + "\n", encoding="utf-8")
    (folder / "configs" / "logging.conf").write_text(files["configs/logging.conf"], encoding="utf-8")
    (folder / "configs" / "metadata.json").write_text(json.dumps(dict(metadata), indent=4) + "\n", encoding="utf-8")
    for name in (MODEL_FILE, NETWORK_FILE, INPUT_FILE):
        if (models / name).is_file():
            shutil.copyfile(models / name, folder / "models" / name)
    return config
