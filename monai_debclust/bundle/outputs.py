"""What a training run leaves in its output folder, and how to find it again.

``checkpoints/checkpoint_epoch=<n>.pt`` (everything needed to resume), ``models/model.pt`` (the
final weights) beside ``models/network.json`` (the validated description that rebuilds the
network, :mod:`~monai_debclust.networks.description`, read by :func:`load_trained_network`) and
``models/input.json`` (the image size and channels the network was trained on, read by
:func:`trained_input`), and ``metrics.json``.

A model folder is untrusted input (it may come from a download): ``network.json`` is checked as
data and never evaluated, and ``model.pt`` is read with ``torch.load(..., weights_only=True)``.
Every file is written atomically (:func:`~monai_debclust.utils.atomic_write`).
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from monai_debclust.errors import UserError
from monai_debclust.networks.description import NetworkDescriptionError, build_network, describe_network
from monai_debclust.networks.size import DEFAULT_IMAGE_SIZE
from monai_debclust.utils import atomic_write, is_main_process, unwrap_network, write_json

__all__ = [
    "CheckpointError",
    "INPUT_FILE",
    "MODEL_FILE",
    "NETWORK_FILE",
    "latest_checkpoint",
    "load_trained_network",
    "resumable_checkpoint",
    "report_outputs",
    "save_trained_network",
    "trained_input",
    "training_command",
]

logger = logging.getLogger(__name__)

MODEL_FILE = "model.pt"
NETWORK_FILE = "network.json"
INPUT_FILE = "input.json"
#: What the last line of a training run points at, where it exists.
OUTPUTS = ("models/model.pt", "models/network.json", "models/input.json", "metrics.json", "checkpoints/", "tensorboard/", "skipped.csv")
#: How MONAI's ``CheckpointSaver(save_interval=1, epoch_level=True)`` names its checkpoints.
CHECKPOINT_PATTERN = re.compile(r"checkpoint_epoch=(\d+)\.pt")
#: A network description is a few hundred bytes; anything far larger is not one.
MAX_DESCRIPTION_BYTES = 1 << 20


def _checkpoints(checkpoint_dir: str | os.PathLike) -> list[Path]:
    """The checkpoints of ``checkpoint_dir``, the highest epoch first."""
    found = []
    for path in Path(checkpoint_dir).glob("checkpoint_epoch=*.pt"):
        match = CHECKPOINT_PATTERN.fullmatch(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found, reverse=True)]


def latest_checkpoint(checkpoint_dir: str | os.PathLike) -> str | None:
    """The path of the checkpoint of the highest epoch in ``checkpoint_dir``; None when there is none.

    A bundle resumes from it (MONAI's ``CheckpointLoader``) when re-run with the same output folder.
    """
    found = _checkpoints(checkpoint_dir)
    return str(found[0]) if found else None


def save_trained_network(
    network: nn.Module,
    model_dir: str | os.PathLike,
    network_args: dict[str, Any],
    input_settings: dict[str, Any] | None = None,
) -> Path:
    """Save the weights as ``model_dir/model.pt`` and the network's description as ``network.json``.

    ``network.json`` is the validated description of the network's class and ``network_args``
    (:func:`~monai_debclust.networks.describe_network`), so that :func:`load_trained_network`
    rebuilds exactly the architecture the run trained, whatever sizes the user chose, without
    evaluating anything. ``model.pt`` is the bare module's ``state_dict`` (no
    ``DistributedDataParallel`` prefix) on the CPU, loadable with ``torch.load(..., weights_only=True)``.

    Returns:
        the path of ``model.pt``.
    """
    module = unwrap_network(network)
    description = describe_network(module, network_args)
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(model_dir / MODEL_FILE, "wb") as handle:
        torch.save({key: value.detach().cpu() for key, value in module.state_dict().items()}, handle)
    write_json(description, model_dir / NETWORK_FILE)
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


def training_command(config_file: str, output_dir: str, dataset_dir: str | None = None) -> str:
    """The ``python -m monai.bundle run training`` command that writes a run into ``output_dir``.

    Example:
        >>> training_command("bundles/refuge/train.json", "runs/refuge")
        'python -m monai.bundle run training --config_file bundles/refuge/train.json --output_dir runs/refuge'
    """
    command = f"python -m monai.bundle run training --config_file {config_file} --output_dir {output_dir}"
    return command + (f" --dataset_dir {dataset_dir}" if dataset_dir else "")


def report_outputs(output_dir: str | os.PathLike, epoch: int) -> str:
    """Print (on the main process) and return the last line of a training run: where its outputs are."""
    output_dir = Path(output_dir)
    found = [name for name in OUTPUTS if (output_dir / name.rstrip("/")).exists()]
    line = f"Training finished after epoch {epoch}. Outputs in {output_dir.resolve()}: " + ", ".join(found)
    if is_main_process():
        print(line, flush=True)
    return line


class CheckpointError(UserError, RuntimeError):
    """The trained weights are missing or do not fit the network they are loaded into."""


def _listing(title: str, names: Sequence[str], limit: int = 10) -> str:
    more = f" ... and {len(names) - limit} more" if len(names) > limit else ""
    return f"\n  {title} ({len(names)}): " + ", ".join(names[:limit]) + more


def _differences(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> str:
    """The parameters of ``expected`` missing from ``state``, extra in it, or of another shape; "" when it fits."""
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    reshaped = [
        f"{key} {tuple(state[key].shape)} vs {tuple(value.shape)}"
        for key, value in expected.items()
        if key in state and tuple(state[key].shape) != tuple(value.shape)
    ]
    return ((_listing("missing from the checkpoint", missing) if missing else "")
            + (_listing("in the checkpoint but not in the network", unexpected) if unexpected else "")
            + (_listing("of another shape (checkpoint vs network)", reshaped) if reshaped else ""))


def _described_network(network_path: Path) -> nn.Module:
    """The network ``network_path`` describes, or a :class:`CheckpointError` saying what is wrong with the file."""
    if network_path.stat().st_size > MAX_DESCRIPTION_BYTES:
        raise CheckpointError(f"{network_path} is not a network description (over {MAX_DESCRIPTION_BYTES} bytes).")
    try:
        image_size = trained_input(network_path, "image_size", DEFAULT_IMAGE_SIZE)
        return build_network(json.loads(network_path.read_text(encoding="utf-8")), image_size=image_size)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{network_path} is not valid JSON: {exc}") from exc
    except NetworkDescriptionError as exc:
        raise CheckpointError(f"{network_path} is not a valid network description: {exc}") from exc


def _weights(ckpt_path: Path) -> dict[str, torch.Tensor]:
    """The state dict in ``ckpt_path``, read weights-only: a pickled object of any other kind is refused."""
    try:
        state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{ckpt_path} is not a weights-only checkpoint and was not loaded (it holds pickled objects "
            f"other than tensors, which could run code): {first_line}"
        ) from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(f"{ckpt_path} cannot be read as a PyTorch checkpoint: {exc}") from exc
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise CheckpointError(f"{ckpt_path} does not hold a state dict (parameter name -> tensor).")
    return state


def load_trained_network(
    ckpt_path: str | os.PathLike, network_path: str | os.PathLike | None = None, train_command: str | None = None
) -> nn.Module:
    """Rebuild the trained network from ``network.json`` and load the weights of ``model.pt`` into it.

    Args:
        ckpt_path: the state dict saved by training (``output_dir/models/model.pt``).
        network_path: the network's description (see :func:`save_trained_network`); by default
            the ``network.json`` beside ``ckpt_path``. It is validated as data, never evaluated.
        train_command: the command that produces the checkpoint, quoted when it is missing.

    Returns:
        The network, on the CPU, in evaluation mode.

    Raises:
        CheckpointError: naming the missing file and how to produce it, an invalid description,
            a file that is not a weights-only checkpoint, or listing the parameters that are
            missing, unexpected or of another shape.
    """
    ckpt_path = Path(ckpt_path)
    network_path = ckpt_path.with_name(NETWORK_FILE) if network_path is None else Path(network_path)
    for path, what in ((ckpt_path, "trained weights"), (network_path, "network description")):
        if not path.is_file():
            hint = f"\nTrain the bundle first:\n  {train_command}\n" if train_command else "\n"
            raise CheckpointError(
                f"no {what} at {path.resolve()}.{hint}or point --ckpt_path at the model.pt of a training run "
                f"(with its {NETWORK_FILE} beside it)."
            )
    network = _described_network(network_path)
    state = _weights(ckpt_path)
    differences = _differences(state, network.state_dict())
    if differences:
        raise CheckpointError(f"the weights in {ckpt_path} do not fit the network described by {network_path}:"
                              + differences)
    network.load_state_dict(state)
    return network.eval()


def resumable_checkpoint(checkpoint_dir: str | os.PathLike, network: nn.Module) -> str | None:
    """:func:`latest_checkpoint` of ``checkpoint_dir``, after checking that its model fits ``network``.

    A bundle resumes from it; a run re-started in the same output folder with another network
    setting (``num_clusters``, ``dim``, ``depth``, ...) gets a message naming the parameters
    that differ instead of a failure deep inside the checkpoint loader.

    A checkpoint cut short by a killed save is passed over (with a warning) for the one before it.

    Raises:
        CheckpointError: the checkpoint holds more than weights, or its ``model`` does not fit.
    """
    for candidate in _checkpoints(checkpoint_dir):
        path = str(candidate)
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise CheckpointError(f"cannot resume from {path}: it cannot be read as a weights-only checkpoint "
                                  f"({exc}). Remove it to resume from an earlier one, or pass a new --output_dir.") from exc
        except (RuntimeError, EOFError, OSError) as exc:
            # a save cut short (MONAI's CheckpointSaver writes in place): resume from the epoch before
            logger.warning("%s is incomplete (%s); resuming from the checkpoint before it", path, exc)
            continue
        break
    else:
        return None
    differences = _differences(checkpoint.get("model", {}), unwrap_network(network).state_dict())
    if differences:
        raise CheckpointError(
            f"cannot resume from {path}: it was trained with other network settings (num_clusters, dim, depth, "
            f"encoder, ...):{differences}\nRun with the settings of that run, or pass a new --output_dir."
        )
    return path


