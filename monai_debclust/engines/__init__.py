"""Engines of monai-debclust: the joint trainer, the cluster evaluator and the embedding pass they share.

:class:`DebClustTrainer` (a MONAI ``Trainer``) optimises the joint objective;
:class:`ClusterEvaluator` (a MONAI ``Evaluator``) scores the clustering against known labels;
:func:`embed_dataset` embeds a data set in evaluation mode. The ignite handlers that switch the
clustering branch on and write a run's outputs are in :mod:`monai_debclust.handlers`.
"""

from monai_debclust.engines.embedding import embed_batch, embed_dataset
from monai_debclust.engines.evaluator import ClusterEvaluator, format_protocols, format_scores, score_clustering
from monai_debclust.engines.metrics import ClusterSizes
from monai_debclust.engines.trainer import LOSS_PARTS, DebClustTrainer, loss_parts, resolve_device

__all__ = [
    "ClusterEvaluator",
    "ClusterSizes",
    "DebClustTrainer",
    "LOSS_PARTS",
    "embed_batch",
    "embed_dataset",
    "format_protocols",
    "format_scores",
    "loss_parts",
    "resolve_device",
    "score_clustering",
]
