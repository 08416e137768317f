"""Cluster an image archive with a trained model: embed, assemble, assign, report; resumable.

:class:`ArchiveClusterer` is what a bundle's ``configs/inference.json`` runs (and with it the
``monai-debclust cluster`` command). Its :meth:`~ArchiveClusterer.run` is the pipeline's steps:

1. embed every readable file into durable chunk files, each ``torchrun`` rank its own shard
   (:mod:`~monai_debclust.archive.embedding`); a killed run resumes from the last complete chunk,
   and a later run with the same model and preprocessing embeds only the files that are new or
   changed (relative id, stat, content hash; ``summary.json`` ``images.new`` counts the images embedded in this run,
   ``images.read`` the files read, skipped ones too),
   drops the removed ones and assigns with the same head or k-means centres, so the earlier images
   keep their clusters (the outlier thresholds are recomputed over the whole archive);
2. gather the chunks into ``embeddings.npy`` + ``embeddings_index.csv`` in archive order, and
   list the skipped files in ``skipped.csv`` (:mod:`~monai_debclust.archive.assembly`);
3. assign clusters with the trained DEC head (or the centres of a k-means re-clustering for
   another K) and flag outliers (:mod:`~monai_debclust.archive.assignment`);
4. write ``assignments.csv``, ``metrics.json`` when labels are known, the plots,
   ``summary.json`` and the self-contained ``report.html``
   (:mod:`~monai_debclust.archive.outputs`); once every output is written, fail with
   :class:`~monai_debclust.data.skips.TooManySkippedError` when more than
   ``max_skipped_fraction`` of the files were skipped.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from monai_debclust.archive.assembly import assemble_embeddings
from monai_debclust.archive.assignment import assign_clusters, clustering_head, flag_outliers
from monai_debclust.archive.curation import CurationSettings, write_curation
from monai_debclust.archive.embedding import (
    PARTS_DIR,
    PREPROCESSING_VERSION,
    ArchiveEmbedder,
    ShardResult,
    weights_digest,
)
from monai_debclust.archive.outputs import cluster_statistics, write_assignments, write_plots, write_report
from monai_debclust.data import DEFAULT_MAX_SKIPPED_FRACTION, GuardedDataset, ToFloatd, default_num_workers
from monai_debclust.data import check_skipped, skipped_by_reason, write_skipped_csv
from monai_debclust.errors import EmptyArchiveError
from monai_debclust.evaluation.metrics import cluster_report
from monai_debclust.evaluation.report import ReportFigure, report_figures
from monai_debclust.networks import ClusteringHead
from monai_debclust.utils import atomic_write, gather_to_main, write_json

__all__ = ["KMEANS_FILE", "ArchiveClusterer", "Assignment"]

#: The k-means centres of a re-clustering, kept in the chunk folder for the next (incremental) run.
KMEANS_FILE = "kmeans.npz"

logger = logging.getLogger(__name__)


class Assignment(NamedTuple):
    """Step 3's result: the embeddings in archive order and what the clustering made of them."""

    embeddings: np.ndarray
    positions: np.ndarray
    ids: list[str]
    labels: np.ndarray
    q: np.ndarray
    distance: np.ndarray
    outlier: np.ndarray
    max_distance: float
    min_confidence: float
    num_clusters: int
    source: str
    skipped: list[tuple[str, str]]
    curation: dict | None = None

    @property
    def clusters(self) -> np.ndarray:
        return self.q.argmax(axis=1)

    @property
    def confidence(self) -> np.ndarray:
        return self.q.max(axis=1)


class ArchiveClusterer:
    """Embed, cluster and report every image of an archive with a trained network.

    Args:
        archive: an ``ImageArchive`` (its ``items`` are ``dict(id, path, label)`` in archive
            order, ``class_names`` names the labels or is ``None``).
        network: a trained network with ``embed(x) -> h`` and a ``clustering`` head
            (:class:`~monai_debclust.networks.ClusteringHead`), e.g. from
            :func:`load_trained_network`.
        transform: the loading transform applied to each item (reads ``path`` into ``image``),
            e.g. ``LoadArchiveImaged(dtype=torch.uint8)``, the pixels training stores.
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
        batch_transform: turns a loaded batch (on the device) into the network's input; default
            the training config's :class:`~monai_debclust.data.ToFloatd` (``uint8`` / 255).
        curation: write the curation outputs (``duplicates.csv``, ``neighbours.csv``, the quality and
            DICOM columns; see :mod:`~monai_debclust.archive.curation`) from what ``transform``
            (a :class:`~monai_debclust.curation.CurateArchiveImaged`) adds to each sample.
        curation_settings: their :class:`~monai_debclust.archive.curation.CurationSettings` (or its fields).
        refit: with ``recluster``, fit the k-means centres again; by default an incremental run
            assigns with the centres the first run fitted (``.clustering-parts/kmeans.npz``).
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
        batch_transform: Callable[[dict], dict] | None = None,
        curation: bool = True,
        curation_settings: CurationSettings | Mapping[str, Any] | None = None,
        refit: bool = False,
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
        self.batch_transform = ToFloatd(keys="image") if batch_transform is None else batch_transform
        self.curation, self.refit = curation, refit
        self.curation_settings = curation_settings if isinstance(curation_settings, CurationSettings) \
            else CurationSettings(**dict(curation_settings or {}))

    # -- the whole run ----------------------------------------------------------------------------

    def run(self) -> dict | None:
        """Cluster the archive and write every output; return the summary (also ``summary.json``).

        Under ``torchrun`` with several ranks (see :mod:`~monai_debclust.archive.sharding`) each
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
        shards = gather_to_main(self.embed(items))
        if shards is None:  # another rank: rank 0 clusters every shard's embeddings
            return None
        retry = [row for shard in shards for row in shard.retry]
        if retry:
            logger.warning(f"{len(retry)} files could not be read for now (storage errors); they are listed in "
                           "skipped.csv and read again by the next run.")
        assign_started = time.perf_counter()
        result = self.assign(items, shards, retry)
        timings = {"assign_s": round(time.perf_counter() - assign_started, 3)}
        report_started = time.perf_counter()
        summary, metrics, figures = self.report(items, shards, result, len(retry), timings)
        summary["timings"]["report_s"] = round(time.perf_counter() - report_started, 3)
        summary["timings"]["total_s"] = round(time.perf_counter() - started, 3)
        write_report(self.output_dir, summary, figures, metrics, result.skipped)
        check_skipped(result.skipped, len(items), self.max_skipped_fraction, self.output_dir / "skipped.csv")
        return summary

    def embed(self, items: list[dict]) -> ShardResult:
        """Step 1: embed this rank's shard of ``items`` into its resumable chunk folder."""
        embedder = ArchiveEmbedder(self.network, self.transform, self.batch_transform, self.device, self.batch_size,
                                   self.num_workers, self.chunk_size, self.progress)
        fingerprint = {
            "weights_sha256": weights_digest(self.network),
            "load_settings": self.load_settings,
            "transform": getattr(self.transform, "settings", dict)(),
            "preprocessing_version": PREPROCESSING_VERSION,
        }
        return embedder.embed_shard(items, self.output_dir / PARTS_DIR, fingerprint, self.resume)

    def assign(self, items: list[dict], shards: list[ShardResult], retry: list[tuple[str, str]]) -> Assignment:
        """Steps 2 and 3: gather the embeddings in archive order, assign clusters, flag outliers.

        Writes ``embeddings.npy``, ``embeddings_index.csv``, ``skipped.csv`` and ``assignments.csv``.
        """
        dim = self.network.clustering.centres.shape[1]
        embeddings, positions, skipped, chunk_columns = assemble_embeddings(items, [shard.folder for shard in shards],
                                                                            dim,
                                                             self.output_dir)
        position = {item["id"]: i for i, item in enumerate(items)}
        skipped = sorted(skipped + retry, key=lambda row: position[row[0]])
        skipped_csv = write_skipped_csv(skipped, self.output_dir / "skipped.csv")
        if len(embeddings) == 0:
            raise EmptyArchiveError(f"none of the {len(items)} files could be read; see {skipped_csv}.")
        head, source = self.head(embeddings)
        q, distance = assign_clusters(embeddings, head)
        outliers = flag_outliers(distance, q.max(axis=1), self.outlier_percentile, self.min_confidence)
        ids = [items[p]["id"] for p in positions]
        labels = np.array([items[p]["label"] for p in positions], dtype=np.int64)
        curated = write_curation(self.output_dir, ids, labels, self.archive.class_names, embeddings, chunk_columns,
                                 q.argmax(axis=1), self.curation_settings) if self.curation else None
        write_assignments(self.output_dir / "assignments.csv", ids, q, distance, outliers.mask, labels,
                          self.archive.class_names, None if curated is None else curated.columns)
        return Assignment(embeddings, positions, ids, labels, q, distance, outliers.mask, outliers.max_distance,
                          outliers.min_confidence, head.num_clusters, source, skipped,
                          None if curated is None else curated.summary)

    def head(self, embeddings: np.ndarray) -> tuple[ClusteringHead, str]:
        """The trained head, or k-means centres: those of an earlier run (same K, seed and model) unless ``refit``."""
        saved = self.output_dir / PARTS_DIR / KMEANS_FILE
        key = np.array([self.recluster or 0, self.recluster_seed, embeddings.shape[1]])
        model = np.array(weights_digest(self.network))
        if self.recluster is not None and not self.refit and saved.is_file():
            with np.load(saved, allow_pickle=False) as data:
                if np.array_equal(data["key"], key) and "model" in data.files and data["model"] == model:
                    return clustering_head(self.network.clustering, embeddings, None, centres=data["centres"])[0], \
                        "kmeans"
        head, source = clustering_head(self.network.clustering, embeddings, self.recluster, self.recluster_seed,
                                       self.recluster_max_points)
        if self.recluster is not None:
            with atomic_write(saved, "wb") as handle:
                np.savez(handle, key=key, model=model, centres=head.centres.detach().numpy())
        return head, source

    def report(self, items: list[dict], shards: list[ShardResult], result: Assignment, retry: int,
               timings: dict[str, float]) -> tuple[dict, dict | None, list[ReportFigure]]:
        """Step 4: ``metrics.json`` (when labels are known), the summary and the plots; returns the three."""
        metrics = None
        class_names = self.archive.class_names
        if class_names is not None and (result.labels >= 0).any():
            metrics = cluster_report(result.labels, result.clusters, class_names)
            write_json(metrics, self.output_dir / "metrics.json")
        read = sum(shard.read for shard in shards)
        embed_seconds = max(shard.seconds for shard in shards)
        summary = {
            "archive": str(getattr(self.archive, "root", "")),
            "output_dir": str(self.output_dir),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "bundle": self.bundle,
            "images": {
                "found": len(items), "clustered": len(result.ids), "skipped": len(result.skipped),
                "skipped_by_reason": skipped_by_reason(result.skipped), "retry_next_run": retry,
                "outliers": int(result.outlier.sum()), "from_earlier_run": len(items) - read,
                "new": sum(shard.embedded for shard in shards), "read": read,
            },
            "clusters": cluster_statistics(result.clusters, result.confidence, result.outlier, result.num_clusters,
                                           result.source),
            "curation": result.curation,
            "labels": None if metrics is None else {"class_names": list(class_names),
                                                    "labelled": metrics["num_labelled"]},
            "outlier_rule": {"percentile": self.outlier_percentile, "max_distance": result.max_distance,
                             "min_confidence": result.min_confidence,
                             "fixed_min_confidence": self.min_confidence is not None},
            "settings": {
                "device": str(self.device), "ranks": len(shards), "batch_size": self.batch_size,
                "num_workers": self.num_workers, "chunk_size": self.chunk_size, "recluster": self.recluster,
                "recluster_seed": self.recluster_seed, "max_skipped_fraction": self.max_skipped_fraction,
                "curation": self.curation, "preprocessing": getattr(self.transform, "settings", dict)(),
                **self.load_settings,
            },
            "timings": {"embed_s": round(embed_seconds, 3),
                        "images_per_s": round(read / embed_seconds, 2) if embed_seconds else None, **timings},
        }
        figures = report_figures(
            result.embeddings, result.clusters, result.confidence, summary, metrics, result.labels, class_names,
            lambda rows: self.load_images(rows, items, result.positions), self.map_points, self.montage_size,
        )
        write_plots(self.output_dir, figures)
        return summary, metrics, figures

    def load_images(self, rows: np.ndarray, items: list[dict], positions: np.ndarray) -> list[np.ndarray]:
        """The images of embedding ``rows`` as 2-D channel-first float arrays, those still readable.

        A volume ``(C, D, H, W)`` gives its middle slice.
        """
        dataset = GuardedDataset([items[positions[row]] for row in rows], self.transform)
        images = []
        for sample in dataset:
            if "error" not in sample:
                array = self.batch_transform({"image": torch.as_tensor(sample["image"])})["image"].numpy()
                images.append(array[:, array.shape[1] // 2] if array.ndim == 4 else array)
        return images
