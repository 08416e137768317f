"""Cluster an image archive with a trained model: stream, embed, assign, report; resumable.

:class:`ArchiveClusterer` is what a bundle's ``configs/inference.json`` runs (and with it the
``monai-debclust cluster`` command). It

1. streams the archive through the data layer (``GuardedDataset`` + the bundle's loading
   transform + ``skip_collate`` in a MONAI ``DataLoader``), so memory stays bounded however
   many files there are, and a file that cannot be read is recorded, never fatal (a bug is: see
   :mod:`~monai_debclust.data.skips`). A file whose storage failed for now (a network file
   system timing out) is reported but not recorded as done, so the next run tries it again;
2. embeds every readable image (``network.embed``) and writes the embeddings chunk by chunk
   to durable chunk files (:class:`~monai_debclust.engines.chunks.ChunkStore`); a run that is
   killed resumes from the last complete chunk, and a later run with the same model and
   preprocessing re-assigns and re-reports without embedding again;
3. assigns clusters with the trained DEC head (or with the centres of a k-means re-clustering
   of the embeddings for another K), flags outliers, and writes ``assignments.csv``,
   ``embeddings.npy`` + ``embeddings_index.csv``, ``skipped.csv``, ``summary.json``, the
   plots, ``metrics.json`` when labels are known, and the self-contained ``report.html``;
4. counts the skipped files per reason (``summary.json``, the printed summary, the report) and,
   once every output is written, fails with
   :class:`~monai_debclust.data.skips.TooManySkippedError` when more than
   ``max_skipped_fraction`` of the files were skipped.

Every output file is written atomically (temporary name, ``fsync``, rename), in archive order.

Outlier rule: an image is flagged when it is far from every centre, its distance to the nearest
centre being above the ``outlier_percentile``-th percentile of this run's distances, *or* when
the model is unsure of it, its confidence (largest soft assignment ``q``) being below
``min_confidence``, by default the ``(100 - outlier_percentile)``-th percentile of this run's
confidences. Both thresholds come from the run's own distribution because the scale of ``q``
depends on the model (a Student-t ``q`` over K clusters in a wide feature space can be flat
for every image): with the default 99 about 1 % of the images are flagged by each rule.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from monai_debclust.data import GuardedDataset, archive_loader, default_num_workers, model_threads, write_skipped_csv
from monai_debclust.data.skips import DEFAULT_MAX_SKIPPED_FRACTION, check_skipped, skipped_by_reason
from monai_debclust.engines.chunks import Chunk, ChunkStore, atomic_write
from monai_debclust.engines.outputs import CheckpointError, load_trained_network, write_json
from monai_debclust.engines.sharding import gather_to_main, shard_folder, shard_items, world
from monai_debclust.evaluation.kmeans import kmeans
from monai_debclust.evaluation.metrics import cluster_report
from monai_debclust.errors import EmptyArchiveError
from monai_debclust.evaluation.report import render_html_report, report_figures, summary_text
from monai_debclust.networks import ClusteringHead

__all__ = ["CheckpointError", "load_trained_network", "ArchiveClusterer"]

logger = logging.getLogger(__name__)

#: Folder inside ``output_dir`` holding the result chunks of the embedding pass.
PARTS_DIR = ".clustering-parts"
#: Version of the decoding (reduced-scale JPEG decode, uint8 pixels), part of the resume fingerprint:
#: chunks embedded from other pixels are never mixed with new ones.
PREPROCESSING_VERSION = 2
#: Rows of embeddings handled at once when assigning and writing: bounds the memory (the
#: Student-t head holds a rows x K x D difference tensor, 30 MB for K = 7 and D = 256).
BLOCK_ROWS = 4096
#: Skipped files listed in the HTML report (all of them are in skipped.csv).
REPORT_SKIPPED_ROWS = 50


def _weights_digest(network: nn.Module) -> str:
    """SHA-256 of the network's parameters and buffers, the identity of a trained model."""
    digest = hashlib.sha256()
    for name, tensor in sorted(network.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _intensities(images: torch.Tensor) -> torch.Tensor:
    """Loaded images as float32 in ``[0, 1]``: ``uint8`` ones (as training stores them) divided by 255."""
    return images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()


def _display_slice(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """A loaded image as a 2-D channel-first float array: a volume ``(C, D, H, W)`` gives its middle slice."""
    array = _intensities(torch.as_tensor(image)).numpy()
    return array[:, array.shape[1] // 2] if array.ndim == 4 else array


class ArchiveClusterer:
    """Embed, cluster and report every image of an archive with a trained network.

    Args:
        archive: an ``ImageArchive`` (its ``items`` are ``dict(id, path, label)`` in archive
            order, ``class_names`` names the labels or is ``None``).
        network: a trained network with ``embed(x) -> h`` and a ``clustering`` head
            (:class:`~monai_debclust.networks.ClusteringHead`), e.g. from
            :func:`load_trained_network`.
        transform: the loading transform applied to each item (reads ``path`` into ``image``);
            ``uint8`` images (``LoadArchiveImaged(dtype=torch.uint8)``, the pixels training
            stores) are divided by 255, others taken as they are.
        output_dir: where the results go (usually the training run's ``output_dir``).
        device: where the network runs.
        batch_size: images per forward pass.
        num_workers: decoding processes, which run ahead of the model (see
            :func:`~monai_debclust.data.archive_loader`); ``None`` chooses from the cores
            available (:func:`~monai_debclust.data.default_num_workers`).
        chunk_size: files per durable chunk: the most work a killed run loses.
        recluster: ``None`` for the trained head's clusters, or K to re-cluster the embeddings
            with k-means into K clusters.
        recluster_seed: k-means seed.
        recluster_max_points: k-means trains on at most this many embeddings (a uniform random
            sample) and then assigns all of them, so its memory stays bounded.
        outlier_percentile: images farther from their nearest centre than this percentile of
            the run's distances are outliers, and so are those less confident than the
            ``100 - outlier_percentile`` percentile of the confidences (see ``min_confidence``).
        min_confidence: a fixed confidence below which an image is an outlier, instead of the
            percentile; ``None`` for the percentile.
        map_points: the 2-D map shows (and its PCA is fitted on) at most this many images.
        montage_size: typical and atypical images shown per cluster.
        max_skipped_fraction: the run fails (after writing its results) when more than this
            share of the files could not be read; ``1.0`` never fails.
        load_settings: the settings of ``transform`` (image size, channels, ...); recorded in the
            summary and part of the resume fingerprint, so changing them starts the embedding over.
        bundle: description of the bundle and checkpoint (name, version, ckpt path) for the summary.
        resume: continue from the chunks of an earlier run with the same fingerprint.
        progress: show a progress bar.
    """

    def __init__(
        self,
        archive: Any,
        network: nn.Module,
        transform: Callable[[dict], dict],
        output_dir: str | os.PathLike,
        device: str | torch.device = "cpu",
        batch_size: int = 32,
        num_workers: int | None = None,
        chunk_size: int = 1024,
        recluster: int | None = None,
        recluster_seed: int = 0,
        recluster_max_points: int = 250_000,
        outlier_percentile: float = 99.0,
        min_confidence: float | None = None,
        map_points: int = 20_000,
        montage_size: int = 6,
        max_skipped_fraction: float = DEFAULT_MAX_SKIPPED_FRACTION,
        load_settings: Mapping[str, Any] | None = None,
        bundle: Mapping[str, Any] | None = None,
        resume: bool = True,
        progress: bool = True,
    ) -> None:
        if not callable(getattr(network, "embed", None)) or not isinstance(getattr(network, "clustering", None),
                                                                            ClusteringHead):
            raise TypeError(f"the network needs embed(x) and a ClusteringHead `clustering`, got {type(network)}.")
        if recluster is not None and recluster < 1:
            raise ValueError(f"recluster must be a number of clusters >= 1, got {recluster}.")
        if not 50.0 <= outlier_percentile <= 100.0:
            raise ValueError(f"outlier_percentile must be in [50, 100], got {outlier_percentile}.")
        if not 0.0 <= max_skipped_fraction <= 1.0:
            raise ValueError(f"max_skipped_fraction must be in [0, 1], got {max_skipped_fraction}.")
        self.archive, self.network, self.transform = archive, network, transform
        self.output_dir = Path(output_dir)
        self.device = torch.device(device)
        self.num_workers = default_num_workers(self.device) if num_workers is None else num_workers
        self.batch_size, self.chunk_size = batch_size, max(chunk_size, batch_size)
        self.recluster, self.recluster_seed, self.recluster_max_points = recluster, recluster_seed, recluster_max_points
        self.outlier_percentile, self.min_confidence = outlier_percentile, min_confidence
        self.map_points, self.montage_size = map_points, montage_size
        self.max_skipped_fraction = max_skipped_fraction
        self.load_settings = dict(load_settings or {})
        self.bundle = dict(bundle or {})
        self.resume, self.progress = resume, progress

    # -- embedding pass -------------------------------------------------------------------------

    def _embed(self, pending: list[dict], store: ChunkStore) -> tuple[float, list[tuple[str, str]]]:
        """Embed ``pending`` items into chunks of ``store``.

        Returns:
            ``(seconds, retry)``: the time it took, and ``(id, reason)`` of the files whose
            storage failed for now; they are in no chunk, so a resumed run reads them again.
        """
        started = time.perf_counter()
        retry: list[tuple[str, str]] = []
        if not pending:
            return 0.0, retry
        dim = self.network.clustering.centres.shape[1]
        self.network.to(self.device).eval()
        on_cuda = self.device.type == "cuda"
        loader = archive_loader(pending, self.transform, self.batch_size, self.num_workers, pin_memory=on_cuda)
        ids: list[str] = []
        features: list[np.ndarray] = []
        skipped: list[tuple[str, str]] = []

        def flush() -> None:
            store.write(Chunk(ids, np.concatenate(features) if features else np.empty((0, dim), np.float32), skipped))
            ids.clear(), features.clear(), skipped.clear()

        with torch.inference_mode(), model_threads(self.num_workers, self.device), \
                tqdm(total=len(pending), unit="img", desc="embedding", smoothing=0.1, disable=not self.progress) as bar:
            for batch in loader:
                bad = list(batch.get("skipped", []))
                transient = set(batch.get("transient", ()))
                skipped.extend(row for row in bad if row[0] not in transient)
                retry.extend(row for row in bad if row[0] in transient)
                if "image" in batch:
                    images = _intensities(torch.as_tensor(batch["image"]).to(self.device, non_blocking=on_cuda))
                    features.append(self._embed_batch(images))
                    ids.extend(batch["id"])
                bar.update(len(batch.get("id", ())) + len(bad))
                if len(ids) + len(skipped) >= self.chunk_size:
                    flush()
            if ids or skipped:
                flush()
        return time.perf_counter() - started, retry

    def _embed_batch(self, images: torch.Tensor) -> np.ndarray:
        """``network.embed`` of a batch, in the channels-last memory layout for 2-D and 3-D images.

        Channels last is the layout oneDNN's (CPU) and cuDNN's fastest convolutions use; the
        values are the same up to float rounding, the layout of the weights follows the input's.
        """
        layout = {4: torch.channels_last, 5: torch.channels_last_3d}.get(images.ndim)
        if layout is not None:
            self.network.to(memory_format=layout)
            images = images.contiguous(memory_format=layout)
        return self.network.embed(images).float().cpu().numpy()

    # -- gathering the chunks in archive order ----------------------------------------------------

    def _embed_shard(self, items: list[dict]) -> dict:
        """Embed this rank's shard of ``items`` (all of them in a single process) into its chunk folder.

        Returns:
            ``dict(folder, embedded, seconds, retry)``: the shard's chunk folder, how many of its
            files this run read (earlier runs accounted for the others), the time it took and the
            files to try again (see :meth:`_embed`).
        """
        rank, world_size = world()
        shard = shard_items(items, rank, world_size)
        store = ChunkStore(shard_folder(self.output_dir / PARTS_DIR, rank, world_size), {
            "weights_sha256": _weights_digest(self.network),
            "archive": str(Path(getattr(self.archive, "root", "")).resolve()),
            "load_settings": self.load_settings,
            "preprocessing_version": PREPROCESSING_VERSION,
        })
        store.open(resume=self.resume)
        done = store.done_ids()
        pending = [item for item in shard if item["id"] not in done]
        if done:
            logger.info(f"resuming: {len(shard) - len(pending)} of {len(shard)} files already done in {store.folder}.")
        seconds, retry = self._embed(pending, store)
        return {"folder": store.folder, "embedded": len(pending), "seconds": seconds, "retry": retry}

    def _assemble(self, items: list[dict], folders: list[Path], dim: int) -> tuple[np.ndarray, np.ndarray, list]:
        """Write ``embeddings.npy`` and its index in archive order from the chunks in ``folders``.

        Returns:
            ``(embeddings, positions, skipped)``: the embeddings as a read-only memory map, the
            archive position of each row, and ``(id, reason)`` of the skipped files in archive order.
        """
        position = {item["id"]: i for i, item in enumerate(items)}
        paths = [path for folder in folders for path in ChunkStore(folder, {}).paths()]
        chunk_positions, skipped = [], []
        for path in paths:
            ids, bad = ChunkStore.read_index(path)
            chunk_positions.append(np.array([position.get(i, -1) for i in ids], dtype=np.int64))
            skipped += [(position[i], i, reason) for i, reason in bad if i in position]
        positions = np.unique(np.concatenate(chunk_positions)) if chunk_positions else np.empty(0, np.int64)
        positions = positions[positions >= 0]

        final = self.output_dir / "embeddings.npy"
        temporary = final.with_name(".embeddings.npy.tmp")
        embeddings = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.float32, shape=(len(positions), dim))
        for path, chunk_position in zip(paths, chunk_positions):
            keep = chunk_position >= 0
            if keep.any():
                embeddings[np.searchsorted(positions, chunk_position[keep])] = ChunkStore.read(path).embeddings[keep]
        embeddings.flush()
        del embeddings
        os.replace(temporary, final)
        with atomic_write(self.output_dir / "embeddings_index.csv", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "id"])
            writer.writerows((row, items[p]["id"]) for row, p in enumerate(positions))
        skipped.sort()
        return np.load(final, mmap_mode="r"), positions, [(i, reason) for _, i, reason in skipped]

    # -- assignment -------------------------------------------------------------------------------

    def _head(self, embeddings: np.ndarray) -> tuple[ClusteringHead, str]:
        """A CPU copy of the trained head, or a head on k-means centres when re-clustering; and its name."""
        trained = self.network.clustering
        if self.recluster is None:
            centres, source = trained.centres.detach().cpu().numpy(), "head"
        else:
            rows = np.arange(len(embeddings))
            if len(rows) > self.recluster_max_points:
                rng = np.random.default_rng(self.recluster_seed)
                rows = np.sort(rng.choice(len(rows), self.recluster_max_points, replace=False))
            centres, _ = kmeans(embeddings[rows], self.recluster, seed=self.recluster_seed)
            source = "kmeans"
        head = ClusteringHead(centres.shape[1], len(centres), alpha=trained.alpha)
        with torch.no_grad():
            head.centres.copy_(torch.from_numpy(centres))
        return head, source

    @staticmethod
    def _assign(embeddings: np.ndarray, head: ClusteringHead) -> tuple[np.ndarray, np.ndarray]:
        """Soft assignments ``q`` (N, K) and distance to the nearest centre (N,), block by block."""
        q = np.empty((len(embeddings), head.num_clusters), dtype=np.float32)
        distance = np.empty(len(embeddings), dtype=np.float32)
        with torch.no_grad():
            for start in range(0, len(embeddings), BLOCK_ROWS):
                block = torch.from_numpy(np.array(embeddings[start : start + BLOCK_ROWS], dtype=np.float32))
                q[start : start + len(block)] = head(block).numpy()
                # exact differences, not |x|^2 - 2 x.c + |c|^2, which loses small distances in float32
                pairwise = torch.cdist(block, head.centres, compute_mode="donot_use_mm_for_euclid_dist")
                distance[start : start + len(block)] = pairwise.min(dim=1).values.numpy()
        return q, distance

    # -- outputs ----------------------------------------------------------------------------------

    def _write_assignments(self, ids: list[str], q: np.ndarray, distance: np.ndarray, outlier: np.ndarray,
                           labels: np.ndarray) -> None:
        class_names = self.archive.class_names
        header = ["id", "cluster", "confidence", *(f"q_{k}" for k in range(q.shape[1])), "distance", "outlier"]
        with atomic_write(self.output_dir / "assignments.csv", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header + (["label"] if class_names is not None else []))
            for start in range(0, len(ids), BLOCK_ROWS):
                stop = start + BLOCK_ROWS
                for i, row_q, d, flag, label in zip(ids[start:stop], q[start:stop], distance[start:stop],
                                                    outlier[start:stop], labels[start:stop]):
                    row = [i, int(row_q.argmax()), f"{row_q.max():.6f}", *(f"{v:.6f}" for v in row_q), f"{d:.6g}",
                           int(flag)]
                    if class_names is not None:
                        row.append(class_names[label] if label >= 0 else "")
                    writer.writerow(row)

    def _load_rows(self, rows: np.ndarray, items: list[dict], positions: np.ndarray) -> list[np.ndarray]:
        """The images of embedding ``rows`` as 2-D channel-first arrays, those still readable."""
        dataset = GuardedDataset([items[positions[row]] for row in rows], self.transform)
        return [_display_slice(sample["image"]) for sample in dataset if "error" not in sample]

    # -- the whole run ----------------------------------------------------------------------------

    def run(self) -> dict | None:
        """Cluster the archive and write every output; return the summary (also ``summary.json``).

        Under ``torchrun`` with several ranks (see :mod:`~monai_debclust.engines.sharding`) each
        rank embeds its own shard and rank 0 gathers the embeddings of all, clusters them and
        writes the outputs; the other ranks return ``None`` once their shard is embedded.

        Raises:
            EmptyArchiveError: no file could be read (``skipped.csv`` says why).
            TooManySkippedError: more than ``max_skipped_fraction`` of the files were skipped;
                raised after every output is written, so the results stay on disk.
        """
        started = time.perf_counter()
        self.output_dir.mkdir(parents=True, exist_ok=True)
        items = list(self.archive.items)
        if not items:
            raise FileNotFoundError(f"no image files in the archive {getattr(self.archive, 'root', '')}.")
        shards = gather_to_main(self._embed_shard(items))
        if shards is None:  # another rank: rank 0 clusters every shard's embeddings
            return None
        retry = [row for shard in shards for row in shard["retry"]]
        embedded, embed_seconds = sum(shard["embedded"] for shard in shards), max(shard["seconds"] for shard in shards)
        if retry:
            logger.warning(f"{len(retry)} files could not be read for now (storage errors); they are listed in "
                           "skipped.csv and read again by the next run.")

        assign_started = time.perf_counter()
        dim = self.network.clustering.centres.shape[1]
        embeddings, positions, skipped = self._assemble(items, [shard["folder"] for shard in shards], dim)
        position = {item["id"]: i for i, item in enumerate(items)}
        skipped = sorted(skipped + retry, key=lambda row: position[row[0]])
        skipped_csv = write_skipped_csv(skipped, self.output_dir / "skipped.csv")
        if len(embeddings) == 0:
            raise EmptyArchiveError(f"none of the {len(items)} files could be read; see {skipped_csv}.")
        head, source = self._head(embeddings)
        q, distance = self._assign(embeddings, head)
        clusters, confidence = q.argmax(axis=1), q.max(axis=1)
        max_distance = float(np.percentile(distance, self.outlier_percentile))
        min_confidence = (float(np.percentile(confidence, 100.0 - self.outlier_percentile))
                          if self.min_confidence is None else float(self.min_confidence))
        outlier = (distance > max_distance) | (confidence < min_confidence)
        ids = [items[p]["id"] for p in positions]
        labels = np.array([items[p]["label"] for p in positions], dtype=np.int64)
        self._write_assignments(ids, q, distance, outlier, labels)
        assign_seconds = time.perf_counter() - assign_started

        report_started = time.perf_counter()
        metrics = None
        if self.archive.class_names is not None and (labels >= 0).any():
            metrics = cluster_report(labels, clusters, self.archive.class_names)
            write_json(metrics, self.output_dir / "metrics.json")
        num_clusters = head.num_clusters
        counts = np.bincount(clusters, minlength=num_clusters)
        summary = {
            "archive": str(getattr(self.archive, "root", "")),
            "output_dir": str(self.output_dir),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "bundle": self.bundle,
            "images": {
                "found": len(items), "clustered": len(ids), "skipped": len(skipped),
                "skipped_by_reason": skipped_by_reason(skipped), "retry_next_run": len(retry),
                "outliers": int(outlier.sum()), "from_earlier_run": len(items) - embedded,
            },
            "clusters": {
                "source": source,
                "num_clusters": num_clusters,
                "counts": counts.tolist(),
                "mean_confidence": [float(confidence[clusters == k].mean()) if counts[k] else None
                                    for k in range(num_clusters)],
                "outliers": np.bincount(clusters[outlier], minlength=num_clusters).tolist(),
                "empty": np.flatnonzero(counts == 0).tolist(),
                "imbalance_ratio": float(counts.max() / counts.min()) if counts.min() > 0 else None,
            },
            "labels": None if metrics is None else {
                "class_names": list(self.archive.class_names), "labelled": metrics["num_labelled"]},
            "outlier_rule": {"percentile": self.outlier_percentile, "max_distance": max_distance,
                             "min_confidence": min_confidence, "fixed_min_confidence": self.min_confidence is not None},
            "settings": {
                "device": str(self.device), "ranks": len(shards), "batch_size": self.batch_size,
                "num_workers": self.num_workers,
                "chunk_size": self.chunk_size, "recluster": self.recluster, "recluster_seed": self.recluster_seed,
                "max_skipped_fraction": self.max_skipped_fraction, **self.load_settings,
            },
            "timings": {"embed_s": round(embed_seconds, 3),
                        "images_per_s": round(embedded / embed_seconds, 2) if embed_seconds else None,
                        "assign_s": round(assign_seconds, 3)},
        }
        figures = report_figures(
            embeddings, clusters, confidence, summary, metrics, labels, self.archive.class_names,
            lambda rows: self._load_rows(rows, items, positions), self.map_points, self.montage_size,
        )
        (self.output_dir / "plots").mkdir(exist_ok=True)
        for figure in figures:
            with atomic_write(self.output_dir / "plots" / f"{figure.key}.png", "wb") as handle:
                handle.write(figure.png)
        summary["timings"]["report_s"] = round(time.perf_counter() - report_started, 3)
        summary["timings"]["total_s"] = round(time.perf_counter() - started, 3)
        write_json(summary, self.output_dir / "summary.json")
        with atomic_write(self.output_dir / "report.html", encoding="utf-8") as handle:
            handle.write(render_html_report(summary, figures, metrics, skipped[:REPORT_SKIPPED_ROWS]))
        print(summary_text(summary, metrics), flush=True)
        check_skipped(skipped, len(items), self.max_skipped_fraction, skipped_csv)
        return summary
