"""Archive clustering with a trained model: embed every file into resumable chunks (one shard per
``torchrun`` rank), gather them in archive order, assign clusters and outliers, write the report.

:class:`ArchiveClusterer` runs the steps; each step is its own module: :mod:`.embedding`
(with :mod:`.chunks`, the durable chunk store, and :mod:`.sharding`), :mod:`.assembly`,
:mod:`.assignment`, :mod:`.outputs`.
"""

from monai_debclust.archive.assembly import assemble_embeddings
from monai_debclust.archive.assignment import BLOCK_ROWS, Outliers, assign_clusters, clustering_head, flag_outliers
from monai_debclust.archive.chunks import Chunk, ChunkStore
from monai_debclust.archive.clusterer import KMEANS_FILE, ArchiveClusterer, Assignment
from monai_debclust.archive.curation import DEFAULT_NEIGHBOURS, CurationOutputs, CurationSettings, write_curation
from monai_debclust.archive.embedding import (
    PARTS_DIR,
    PREPROCESSING_VERSION,
    ArchiveEmbedder,
    ShardResult,
    weights_digest,
)
from monai_debclust.archive.outputs import cluster_statistics, write_assignments, write_plots, write_report
from monai_debclust.archive.sharding import shard_folder, shard_items
from monai_debclust.archive.similar import results_folder, similar_images

__all__ = [
    "DEFAULT_NEIGHBOURS",
    "KMEANS_FILE",
    "CurationOutputs",
    "CurationSettings",
    "results_folder",
    "similar_images",
    "write_curation",
    "ArchiveClusterer",
    "ArchiveEmbedder",
    "Assignment",
    "BLOCK_ROWS",
    "Chunk",
    "ChunkStore",
    "Outliers",
    "PARTS_DIR",
    "PREPROCESSING_VERSION",
    "ShardResult",
    "assemble_embeddings",
    "assign_clusters",
    "cluster_statistics",
    "clustering_head",
    "flag_outliers",
    "shard_folder",
    "shard_items",
    "weights_digest",
    "write_assignments",
    "write_plots",
    "write_report",
]
