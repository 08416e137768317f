"""Score a clustering against known labels: cluster accuracy, F1 per class and a kNN-20 probe."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from ignite.engine import Events
from monai.engines import Evaluator
from monai.networks.utils import eval_mode
from torch import nn
from torch.utils.data import DataLoader

from monai_debclust.engines.embedding import embed_batch
from monai_debclust.engines.trainer import resolve_device
from monai_debclust.evaluation import cluster_report, evaluate_protocols, format_report, knn_cross_validate
from monai_debclust.utils.dist import unwrap_network

__all__ = ["ClusterEvaluator", "format_protocols", "format_scores", "score_clustering"]


def score_clustering(
    features: np.ndarray | torch.Tensor,
    q: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    class_names: Sequence[str] | None = None,
    knn_k: int = 20,
    knn_folds: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """Cluster report of ``argmax q`` and a cross-validated kNN probe of ``features`` against ``labels``.

    Images labelled ``-1`` are ignored. The kNN probe (cosine, ``k`` neighbours, stratified
    ``knn_folds``-fold) measures the representation itself, whatever the clustering does.

    Returns:
        ``{"cluster": cluster_report(...), "knn": knn_cross_validate(...) or None, "knn_k",
        "knn_folds"}``; the probe is None when a training fold would hold fewer than ``knn_k``
        labelled images.
    """
    labels = torch.as_tensor(labels).long().numpy()
    predicted = torch.as_tensor(q).argmax(dim=1).numpy()
    report = cluster_report(labels, predicted, class_names=class_names)
    labelled = int((labels >= 0).sum())
    knn = None
    if labelled - math.ceil(labelled / knn_folds) >= knn_k:  # every training fold holds k neighbours
        knn = knn_cross_validate(features, labels, k=knn_k, folds=knn_folds, seed=seed)
    return {"cluster": report, "knn": knn, "knn_k": knn_k, "knn_folds": knn_folds}


def format_protocols(rows: dict[str, dict]) -> str:
    """One line per protocol of :func:`~monai_debclust.evaluation.evaluate_protocols`, then its per-class F1."""
    lines = [f"{'protocol':<16} {'accuracy':>8} {'F1':>6}  {'':<6} {'minority F1':>11}  per-class F1"]
    for name, row in rows.items():
        per_class = ", ".join(f"{cls} {f1:.2f}" for cls, f1 in row["per_class_f1"].items())
        lines.append(f"{name:<16} {row['accuracy']:>8.3f} {row['f1']:>6.3f}  {row['f1_kind']:<6} "
                     f"{row['minority_f1']:>11.3f}  {per_class}")
    return "\n".join(lines)


def format_scores(scores: dict[str, Any]) -> str:
    """The per-class table of a :func:`score_clustering` result, its kNN probe line and the protocols, if any."""
    text = format_report(scores["cluster"])
    if scores["knn"] is not None:
        text += (
            f"\nkNN-{scores['knn_k']} probe ({scores['knn_folds']}-fold): accuracy {scores['knn']['accuracy']:.3f}, "
            f"macro F1 {scores['knn']['macro_f1']:.3f}"
        )
    if scores.get("protocols"):
        text += "\n\nFrozen-feature protocols (5-fold cross-validated on the labelled set):\n"
        text += format_protocols(scores["protocols"])
    return text


def _scalar_metrics(scores: dict[str, Any]) -> dict[str, float]:
    """The numbers of :func:`score_clustering` worth a curve: summary scores and F1 per class."""
    report = scores["cluster"]
    metrics = {name: report[name] for name in ("accuracy", "macro_f1", "minority_f1", "nmi", "ari")}
    metrics.update({f"f1_{name}": row["f1"] for name, row in report["per_class"].items()})
    if scores["knn"] is not None:
        prefix = f"knn{scores['knn_k']}"
        metrics.update({f"{prefix}_{name}": scores["knn"][name] for name in ("accuracy", "macro_f1")})
    for protocol, row in scores.get("protocols", {}).items():
        metrics.update({f"{protocol}_{name}": row[name] for name in ("accuracy", "f1", "macro_f1", "minority_f1")})
    return metrics


class ClusterEvaluator(Evaluator):
    """A MONAI ``Evaluator`` that embeds a (partly) labelled set and scores the model's clustering.

    Each iteration computes features ``h`` and assignments ``q`` of a batch's plain images in
    evaluation mode; when the epoch completes (before any handler runs) the evaluator scores
    the whole set with :func:`score_clustering` and sets

    * ``state.metrics``: ``accuracy``, ``macro_f1``, ``minority_f1``, ``nmi``, ``ari``,
      ``f1_<class>`` and ``knn<k>_accuracy`` / ``knn<k>_macro_f1`` (floats, for MONAI's
      ``StatsHandler``, ``TensorBoardStatsHandler`` and ``CheckpointSaver(save_key_metric=True)``);
    * ``state.scores``: the full :func:`score_clustering` result (confusion, mapping, ...);
    * ``state.best_metric`` / ``state.best_metric_epoch`` for ``key_metric_name``.

    Run by MONAI's ``ValidationHandler`` during training (``state.epoch`` is then the trainer's
    epoch) or on its own for an evaluation.

    Args:
        device: where the network is; None picks ``"cuda"`` when available.
        val_data_loader: batches of dictionaries with ``image_key`` and ``label_key``.
        network: the joint model (``forward(image) -> dict(features, q)``), possibly wrapped.
        class_names: name of class ``i`` at index ``i``.
        knn_k: neighbours of the kNN probe.
        knn_folds: folds of its cross-validation.
        key_metric_name: the metric whose best value is tracked.
        val_handlers: MONAI/ignite handlers with ``attach(engine)``.
        amp: autocast the forward pass (on CUDA).
        image_key: key of the plain images.
        label_key: key of the labels (``-1`` for unknown).
        seed: seed of the kNN folds.
        protocols: frozen-feature protocols to run as well
            (:func:`~monai_debclust.evaluation.evaluate_protocols`: ``"linear"``,
            ``"semi_supervised"``, ``"knn"``, ``"clustering"``); their results go to
            ``state.scores["protocols"]`` and ``state.metrics`` (``<row>_accuracy``, ``<row>_f1``, ...).
            None by default: training-time validation stays cheap.
        probe_epochs: epochs of the linear probes.
        probe_batch_size: their batch size.
        label_fraction: fraction of the labels of the semi-supervised probe.
    """

    def __init__(
        self,
        device: str | torch.device | None,
        val_data_loader: Iterable | DataLoader,
        network: nn.Module,
        class_names: Sequence[str] | None = None,
        knn_k: int = 20,
        knn_folds: int = 5,
        key_metric_name: str = "macro_f1",
        val_handlers: Sequence | None = None,
        amp: bool = False,
        image_key: str = "image",
        label_key: str = "label",
        seed: int = 0,
        protocols: Sequence[str] = (),
        probe_epochs: int = 100,
        probe_batch_size: int = 512,
        label_fraction: float = 0.1,
    ) -> None:
        device = resolve_device(device)
        super().__init__(
            device=device, val_data_loader=val_data_loader, amp=amp and device.type == "cuda", decollate=False
        )
        self.network = network
        self.class_names = None if class_names is None else list(class_names)
        self.knn_k, self.knn_folds, self.seed = knn_k, knn_folds, seed
        self.protocols, self.label_fraction = tuple(protocols), label_fraction
        self.probe_epochs, self.probe_batch_size = probe_epochs, probe_batch_size
        self.image_key, self.label_key = image_key, label_key
        self.state.key_metric_name = key_metric_name
        self.state.scores = None
        self._collected: dict[str, list[torch.Tensor]] = {}
        self.add_event_handler(Events.EPOCH_STARTED, lambda engine: self._collected.clear())
        self.add_event_handler(Events.EPOCH_COMPLETED, self._score)
        if val_handlers is not None:
            self._register_handlers(val_handlers)

    def _iteration(self, engine: ClusterEvaluator, batchdata: dict[str, Any]) -> dict[str, torch.Tensor]:
        if batchdata is None:
            raise ValueError("Must provide batch data for current iteration.")
        images = batchdata[self.image_key].to(engine.state.device, non_blocking=engine.non_blocking)
        with eval_mode(unwrap_network(engine.network)):
            outputs = embed_batch(engine.network, images, amp=engine.amp)
        outputs["label"] = torch.as_tensor(batchdata[self.label_key])
        for key, value in outputs.items():
            self._collected.setdefault(key, []).append(value.detach().cpu())
        engine.state.output = outputs
        return outputs

    def _score(self, engine: ClusterEvaluator) -> None:
        embedded = {key: torch.cat(values) for key, values in self._collected.items()}
        scores = score_clustering(
            embedded["features"], embedded["q"], embedded["label"], self.class_names,
            knn_k=self.knn_k, knn_folds=self.knn_folds, seed=self.seed,
        )
        if self.protocols:
            labels = embedded["label"].long()
            names = self.class_names or [str(c) for c in range(int(labels.max()) + 1)]
            scores["protocols"] = evaluate_protocols(
                embedded["features"], labels, names, q=embedded["q"], protocols=self.protocols,
                num_clusters=embedded["q"].shape[1], knn_k=self.knn_k, folds=self.knn_folds,
                label_fraction=self.label_fraction, probe_epochs=self.probe_epochs,
                probe_batch_size=self.probe_batch_size, seed=self.seed,
            )
        engine.state.scores = scores
        engine.state.metrics.update(_scalar_metrics(scores))
        current = engine.state.metrics[engine.state.key_metric_name]
        if engine.state.best_metric_epoch == -1 or current > engine.state.best_metric:
            engine.state.best_metric, engine.state.best_metric_epoch = current, engine.state.epoch
