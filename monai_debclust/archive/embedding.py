"""Step 1 of archive clustering: embed every readable file into durable, resumable chunks.

The archive is streamed through the data layer (``GuardedDataset`` + the loading transform +
``skip_collate`` in a MONAI ``DataLoader``, :func:`~monai_debclust.data.archive_loader`), so
memory stays bounded however many files there are, and a file that cannot be read is recorded,
never fatal (a bug is: see :mod:`~monai_debclust.data.skips`). A file whose storage failed for
now (a network file system timing out) is reported but not recorded as done, so the next run
tries it again. Each batch becomes float input on the device (the training config's
``ToFloatd``) and its features (:func:`~monai_debclust.engines.embed_batch`) go to chunk files
(:class:`~monai_debclust.archive.chunks.ChunkStore`) whose fingerprint is the model and the
preprocessing (not the archive's folder: ids are relative to it), so a killed run resumes from the
last complete chunk.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from monai_debclust.archive.chunks import Chunk, ChunkStore
from monai_debclust.archive.sharding import shard_folder, shard_items
from monai_debclust.data import archive_loader, model_threads
from monai_debclust.engines.embedding import embed_batch
from monai_debclust.similarity import content_hash
from monai_debclust.utils import world

__all__ = ["COLUMN_KEYS", "PARTS_DIR", "PREPROCESSING_VERSION", "ArchiveEmbedder", "ShardResult", "batch_columns",
           "file_stat", "pending_items", "weights_digest"]

logger = logging.getLogger(__name__)

#: Folder inside ``output_dir`` holding the result chunks of the embedding pass.
PARTS_DIR = ".clustering-parts"
#: Version of the decoding (reduced-scale JPEG decode, uint8 pixels), part of the resume fingerprint:
#: chunks embedded from other pixels are never mixed with new ones (3: chunks record each file's stat).
PREPROCESSING_VERSION = 3


def weights_digest(network: nn.Module) -> str:
    """SHA-256 of the network's parameters and buffers, the identity of a trained model."""
    digest = hashlib.sha256()
    for name, tensor in sorted(network.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class ShardResult(NamedTuple):
    """What one rank's embedding pass left: its chunk ``folder``, the files it ``read`` this run (earlier
    runs accounted for the others), the images of those it ``embedded`` (the rest were skipped), its
    ``seconds`` and the files to ``retry``."""

    folder: Path
    read: int
    embedded: int
    seconds: float
    retry: list[tuple[str, str]]


class ArchiveEmbedder:
    """Embed archive items into chunk files with a trained network (its ``embed`` and ``clustering``).

    Args:
        network: the trained network.
        transform: the loading transform of one item (reads ``path`` into ``image``).
        batch_transform: turns a loaded batch, on the device, into the network's input (the
            training config's ``ToFloatd``: ``uint8`` pixels divided by 255).
        device: where the network runs.
        batch_size: images per forward pass.
        num_workers: decoding processes, which run ahead of the model.
        chunk_size: files per durable chunk: the most work a killed run loses.
        progress: show a progress bar.
    """

    def __init__(self, network: nn.Module, transform: Callable[[dict], dict], batch_transform: Callable[[dict], dict],
                 device: torch.device, batch_size: int, num_workers: int, chunk_size: int, progress: bool) -> None:
        self.network, self.transform, self.batch_transform = network, transform, batch_transform
        self.device, self.batch_size, self.num_workers = device, batch_size, num_workers
        self.chunk_size, self.progress = chunk_size, progress

    def embed_shard(self, items: list[dict], parts_dir: Path, fingerprint: Mapping[str, Any],
                    resume: bool) -> ShardResult:
        """Embed this rank's shard of ``items`` (all of them in a single process) into its chunk folder.

        Only new and changed files are read (:func:`pending_items`); the chunks of an earlier run
        with the same fingerprint (model, preprocessing) hold the others.
        """
        rank, world_size = world()
        shard = shard_items(items, rank, world_size)
        store = ChunkStore(shard_folder(parts_dir, rank, world_size), fingerprint)
        store.open(resume=resume)
        pending = pending_items(shard, store.entries())
        if len(pending) < len(shard):
            logger.info(f"resuming: {len(shard) - len(pending)} of {len(shard)} files already done in {store.folder}.")
        seconds, embedded, retry = self.embed_into(pending, store)
        return ShardResult(store.folder, len(pending), embedded, seconds, retry)

    def embed_into(self, pending: list[dict], store: ChunkStore) -> tuple[float, int, list[tuple[str, str]]]:
        """Embed ``pending`` items into chunks of ``store``.

        Returns:
            ``(seconds, embedded, retry)``: the time it took, the number of images embedded, and
            ``(id, reason)`` of the files whose storage failed for now; they are in no chunk, so a
            resumed run reads them again.
        """
        started, embedded, retry = time.perf_counter(), 0, []
        if not pending:
            return 0.0, embedded, retry
        dim = self.network.clustering.centres.shape[1]
        self.network.to(self.device).eval()
        on_cuda = self.device.type == "cuda"
        loader = archive_loader([{key: value for key, value in item.items() if key != "stat"} for item in pending],
                                self.transform, self.batch_size, self.num_workers, pin_memory=on_cuda)
        ids, features, skipped, columns = [], [], [], {}

        def flush() -> None:
            embeddings = np.concatenate(features) if features else np.empty((0, dim), np.float32)
            stats = {file_id: stat[file_id] for file_id in [*ids, *(row[0] for row in skipped)]}
            store.write(Chunk(ids, embeddings, skipped, {name: _joined(parts) for name, parts in columns.items()},
                              stats))
            ids.clear(), features.clear(), skipped.clear(), columns.clear()

        stat = {item["id"]: item["stat"] for item in pending}
        with torch.inference_mode(), model_threads(self.num_workers, self.device), \
                tqdm(total=len(pending), unit="img", desc="embedding", smoothing=0.1, disable=not self.progress) as bar:
            for batch in loader:
                bad = list(batch.get("skipped", []))
                transient = set(batch.get("transient", ()))
                skipped.extend(row for row in bad if row[0] not in transient)
                retry.extend(row for row in bad if row[0] in transient)
                if "image" in batch:
                    images = torch.as_tensor(batch["image"]).to(self.device, non_blocking=on_cuda)
                    features.append(self.embed_images(self.batch_transform({"image": images})["image"]))
                    ids.extend(batch["id"])
                    embedded += len(batch["id"])
                    for name, values in batch_columns(batch).items():
                        columns.setdefault(name, []).append(values)
                bar.update(len(batch.get("id", ())) + len(bad))
                if len(ids) + len(skipped) >= self.chunk_size:
                    flush()
            if ids or skipped:
                flush()
        return time.perf_counter() - started, embedded, retry

    def embed_images(self, images: torch.Tensor) -> np.ndarray:
        """The features of a batch, in the channels-last memory layout for 2-D and 3-D images.

        Channels last is the layout oneDNN's (CPU) and cuDNN's fastest convolutions use; the
        values are the same up to float rounding, the layout of the weights follows the input's.
        """
        layout = {4: torch.channels_last, 5: torch.channels_last_3d}.get(images.ndim)
        if layout is not None:
            self.network.to(memory_format=layout)
            images = images.contiguous(memory_format=layout)
        return embed_batch(self.network, images)["features"].cpu().numpy()


def file_stat(path: str | os.PathLike) -> str:
    """``"size:mtime_ns"`` of the file at ``path``, ``""`` when it cannot be read (so it is read again)."""
    try:
        status = os.stat(path)
    except OSError:
        return ""
    return f"{status.st_size}:{status.st_mtime_ns}"


def pending_items(items: list[dict], entries: Mapping[str, tuple[str, str]]) -> list[dict]:
    """The ``items`` to read (each with its ``"stat"``): those no chunk accounts for, and the changed ones.

    A file is unchanged when its relative id is in ``entries`` (``id -> (stat, content_hash)``
    of the earlier chunks) with the same stat (size and modification time), or, when the stat
    differs (a copied or touched archive), with the same SHA-256 of its bytes. A skipped file has
    no hash: it is read again once its stat changes.
    """
    pending = []
    for item in items:
        stat = file_stat(item["path"])
        known = entries.get(item["id"])
        if known is not None and stat and (known[0] == stat or (known[1] and _same_content(item["path"], known[1]))):
            continue
        pending.append({**item, "stat": stat})
    return pending


def _same_content(path: str | os.PathLike, digest: str) -> bool:
    try:
        return content_hash(path) == digest
    except OSError:
        return False


#: Per-file fields a curating transform adds to a sample (see :class:`~monai_debclust.curation.CurateArchiveImaged`).
COLUMN_KEYS = ("quality", "signature", "content_hash", "thumbnail")


def batch_columns(batch: Mapping[str, Any]) -> dict[str, Any]:
    """The per-file fields of a collated batch, as arrays (or lists of bytes); ``dicom`` becomes ``dicom_<name>``."""
    columns: dict[str, Any] = {}
    for key in COLUMN_KEYS:
        if key in batch:
            value = batch[key]
            columns[key] = list(value) if key == "thumbnail" else np.asarray(
                value.numpy() if isinstance(value, torch.Tensor) else value)
    for name, values in dict(batch.get("dicom", {})).items():
        columns[f"dicom_{name}"] = np.asarray(list(values), dtype=str)
    return columns


def _joined(parts: list[Any]) -> Any:
    return [blob for part in parts for blob in part] if isinstance(parts[0], list) else np.concatenate(parts)
