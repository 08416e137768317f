"""Ignite handlers of a training run, attached by the bundle configs (MONAI keeps its own in ``monai.handlers``).

Clustering: :class:`ClusterInitHandler` (k-means centres after the warm-up, the weight gamma),
:class:`DECTargetHandler` (the DEC target), :class:`KMeansHeadHandler` (k-means centres for a
method that does not train its head), :class:`ExpertsHandler` (the experts pipeline). Schedule
and determinism: :class:`CosineLRHandler`, :class:`TemperatureScheduleHandler`,
:class:`PartialOTRhoHandler`, :class:`EpochSeedHandler` with
:class:`EpochShuffleSampler`. Outputs: :class:`BestModelSaver`, :class:`MetricsWriter`,
:class:`ProgressBarHandler`, :class:`TrainingSummaryHandler`.
"""

from monai_debclust.handlers.best_model import BestModelSaver
from monai_debclust.handlers.clustering import TARGET_UPDATES, ClusterInitHandler, DECTargetHandler
from monai_debclust.handlers.determinism import EpochSeedHandler, EpochShuffleSampler, epoch_seed
from monai_debclust.handlers.experts import ExpertsHandler, StudentViews, base_epochs
from monai_debclust.handlers.kmeans_head import KMeansHeadHandler, fit_centres
from monai_debclust.handlers.recipes import PartialOTRhoHandler, TemperatureScheduleHandler
from monai_debclust.handlers.reporting import MetricsWriter, ProgressBarHandler, TrainingSummaryHandler
from monai_debclust.handlers.schedule import CosineLRHandler, cosine_factor
from monai_debclust.handlers.tracking import EmbeddingCollapseHandler, effective_rank, track_loss_parts

__all__ = [
    "BestModelSaver",
    "ClusterInitHandler",
    "CosineLRHandler",
    "DECTargetHandler",
    "EmbeddingCollapseHandler",
    "EpochSeedHandler",
    "EpochShuffleSampler",
    "ExpertsHandler",
    "KMeansHeadHandler",
    "MetricsWriter",
    "PartialOTRhoHandler",
    "ProgressBarHandler",
    "StudentViews",
    "TARGET_UPDATES",
    "TemperatureScheduleHandler",
    "TrainingSummaryHandler",
    "base_epochs",
    "cosine_factor",
    "effective_rank",
    "epoch_seed",
    "fit_centres",
    "track_loss_parts",
]
