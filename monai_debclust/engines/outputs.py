"""What a training run leaves in its output folder, and how to find it again.

``checkpoints/checkpoint_epoch=<n>.pt`` (everything needed to resume), ``models/model.pt`` (the
final weights) beside ``models/network.json`` (how to rebuild the network, read by
:func:`~monai_debclust.engines.inference.load_trained_network`) and ``models/input.json`` (the
image size and channels the network was trained on, read by :func:`trained_input`), and
``metrics.json``.
Every file is written atomically (:func:`~monai_debclust.engines.chunks.atomic_write`).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from monai_debclust.engines.chunks import atomic_write
from monai_debclust.engines.distributed import is_main_process, unwrap_network

__all__ = [
    "INPUT_FILE",
    "MODEL_FILE",
    "NETWORK_FILE",
    "latest_checkpoint",
    "report_outputs",
    "save_trained_network",
    "trained_input",
    "write_json",
]

MODEL_FILE = "model.pt"
NETWORK_FILE = "network.json"
INPUT_FILE = "input.json"
#: What the last line of a training run points at, where it exists.
OUTPUTS = ("models/model.pt", "models/network.json", "models/input.json", "metrics.json", "checkpoints/", "tensorboard/", "skipped.csv")
#: How MONAI's ``CheckpointSaver(save_interval=1, epoch_level=True)`` names its checkpoints.
CHECKPOINT_PATTERN = re.compile(r"checkpoint_epoch=(\d+)\.pt")


def latest_checkpoint(checkpoint_dir: str | os.PathLike) -> str | None:
    """The path of the checkpoint of the highest epoch in ``checkpoint_dir``; None when there is none.

    A bundle resumes from it (MONAI's ``CheckpointLoader``) when re-run with the same output folder.
    """
    found = []
    for path in Path(checkpoint_dir).glob("checkpoint_epoch=*.pt"):
        match = CHECKPOINT_PATTERN.fullmatch(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return str(max(found)[1]) if found else None


def write_json(content: Any, path: str | os.PathLike) -> Path:
    """Write ``content`` as indented JSON to ``path``, atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, encoding="utf-8") as handle:
        handle.write(json.dumps(content, indent=2) + "\n")
    return path


def save_trained_network(
    network: nn.Module,
    model_dir: str | os.PathLike,
    network_args: dict[str, Any],
    input_settings: dict[str, Any] | None = None,
) -> Path:
    """Save the weights as ``model_dir/model.pt`` and the network's MONAI config as ``network.json``.

    ``network.json`` is ``{"_target_": <the network's class>, **network_args}``, so that
    ``monai.bundle.ConfigParser`` rebuilds exactly the architecture the run trained, whatever
    sizes the user chose. ``model.pt`` is the bare module's ``state_dict`` (no
    ``DistributedDataParallel`` prefix) on the CPU, loadable with ``torch.load(..., weights_only=True)``.

    Returns:
        the path of ``model.pt``.
    """
    module = unwrap_network(network)
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(model_dir / MODEL_FILE, "wb") as handle:
        torch.save({key: value.detach().cpu() for key, value in module.state_dict().items()}, handle)
    target = f"{type(module).__module__}.{type(module).__qualname__}"
    write_json({"_target_": target, **network_args}, model_dir / NETWORK_FILE)
    if input_settings is not None:
        write_json(input_settings, model_dir / INPUT_FILE)
    return model_dir / MODEL_FILE


def trained_input(ckpt_path: str | os.PathLike, key: str, default: Any) -> Any:
    """The input setting ``key`` recorded beside the weights ``ckpt_path`` (``input.json``), else ``default``.

    Bundle configs use it as the default of ``image_size`` and ``in_channels``, so that
    ``--output_dir X`` on training and then on evaluation or inference just works; a value given
    on the command line still wins.
    """
    path = Path(ckpt_path).with_name(INPUT_FILE)
    if not path.is_file():
        return default
    return json.loads(path.read_text(encoding="utf-8")).get(key, default)


def report_outputs(output_dir: str | os.PathLike, epoch: int) -> str:
    """Print (on the main process) and return the last line of a training run: where its outputs are."""
    output_dir = Path(output_dir)
    found = [name for name in OUTPUTS if (output_dir / name.rstrip("/")).exists()]
    line = f"Training finished after epoch {epoch}. Outputs in {output_dir.resolve()}: " + ", ".join(found)
    if is_main_process():
        print(line, flush=True)
    return line
