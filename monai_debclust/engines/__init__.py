"""Engines of monai-debclust: the joint trainer, the cluster evaluator and their ignite handlers.

:class:`DebClustTrainer` (a MONAI ``Trainer``) optimises the joint objective;
:class:`ClusterInitHandler` and :class:`DECTargetHandler` switch the clustering branch on;
:class:`ClusterEvaluator` scores the clustering against known labels; the remaining handlers
and :func:`prepare_training_data` serve the bundles. :class:`ArchiveClusterer` clusters an
archive with a trained model (bundle inference).
"""

from monai_debclust.engines.best_model import BestModelSaver
from monai_debclust.engines.chunks import Chunk, ChunkStore, atomic_write
from monai_debclust.engines.clustering import TARGET_UPDATES, ClusterInitHandler, DECTargetHandler
from monai_debclust.engines.determinism import EpochSeedHandler, EpochShuffleSampler, epoch_seed
from monai_debclust.engines.distributed import (
    broadcast_from_main,
    gather_across_ranks,
    is_distributed,
    is_main_process,
    unwrap_network,
)
from monai_debclust.engines.embedding import embed_batch, embed_dataset
from monai_debclust.engines.evaluator import ClusterEvaluator, format_scores, score_clustering
from monai_debclust.engines.experts import ExpertsHandler, StudentViews, base_epochs
from monai_debclust.engines.handlers import MetricsWriter, ProgressBarHandler, TrainingSummaryHandler
from monai_debclust.engines.inference import ArchiveClusterer
from monai_debclust.engines.kmeans_head import KMeansHeadHandler, fit_centres
from monai_debclust.engines.methods import (
    EXPERT_BASES,
    METHODS,
    TrainingMethod,
    build_method_loss,
    build_method_network,
    get_method,
    method_trains_head,
)
from monai_debclust.engines.metrics import ClusterSizes
from monai_debclust.engines.outputs import (
    INPUT_FILE,
    CheckpointError,
    MODEL_FILE,
    NETWORK_FILE,
    latest_checkpoint,
    load_trained_network,
    report_outputs,
    resumable_checkpoint,
    save_trained_network,
    trained_input,
    write_json,
)
from monai_debclust.engines.schedule import CosineLRHandler, cosine_factor
from monai_debclust.engines.settings import check_command_line, check_output_dir
from monai_debclust.engines.trainer import LOSS_PARTS, DebClustTrainer, loss_parts, resolve_device
from monai_debclust.engines.workflow import DEMO_COHORTS, DemoCohort, demo_counts, prepare_training_data

__all__ = [
    "ArchiveClusterer",
    "BestModelSaver",
    "CheckpointError",
    "Chunk",
    "ChunkStore",
    "ClusterEvaluator",
    "ClusterInitHandler",
    "ClusterSizes",
    "CosineLRHandler",
    "DECTargetHandler",
    "DEMO_COHORTS",
    "DebClustTrainer",
    "EpochSeedHandler",
    "EpochShuffleSampler",
    "EXPERT_BASES",
    "ExpertsHandler",
    "DemoCohort",
    "LOSS_PARTS",
    "INPUT_FILE",
    "KMeansHeadHandler",
    "METHODS",
    "MODEL_FILE",
    "MetricsWriter",
    "NETWORK_FILE",
    "ProgressBarHandler",
    "StudentViews",
    "TARGET_UPDATES",
    "TrainingMethod",
    "TrainingSummaryHandler",
    "atomic_write",
    "base_epochs",
    "broadcast_from_main",
    "check_command_line",
    "check_output_dir",
    "build_method_loss",
    "build_method_network",
    "cosine_factor",
    "demo_counts",
    "embed_batch",
    "embed_dataset",
    "epoch_seed",
    "fit_centres",
    "format_scores",
    "get_method",
    "gather_across_ranks",
    "is_distributed",
    "is_main_process",
    "latest_checkpoint",
    "load_trained_network",
    "loss_parts",
    "method_trains_head",
    "prepare_training_data",
    "report_outputs",
    "resolve_device",
    "resumable_checkpoint",
    "save_trained_network",
    "trained_input",
    "score_clustering",
    "unwrap_network",
    "write_json",
]
