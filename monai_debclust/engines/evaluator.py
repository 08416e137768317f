"""Score a clustering against known labels: cluster accuracy, F1 per class and a kNN-20 probe, split by duplicate group.

The evaluator collects each image's id and file path in the order of its features; from the
files it finds the pixel duplicate groups of the set
(:func:`~monai_debclust.similarity.pixel_duplicate_groups`, cached on disk per data set), so that
no fold of the kNN probe or of the protocols holds a copy of one of its test images, and the
images of groups filed under two classes are left out and counted (``scores["leakage"]``).
"""

from __future__ import annotations

import math
import os
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
from monai_debclust.evaluation.splits import GroupsLike, grouped_labels, holdout_split
from monai_debclust.similarity import (
    DEFAULT_SIGNATURE_SIZE,
    DEFAULT_THRESHOLD,
    DuplicateGroups,
    pixel_duplicate_groups,
)
from monai_debclust.utils.dist import unwrap_network

__all__ = ["ClusterEvaluator", "format_leakage", "format_protocols", "format_scores", "score_clustering"]


def score_clustering(
    features: np.ndarray | torch.Tensor,
    q: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    class_names: Sequence[str] | None = None,
    knn_k: int = 20,
    knn_folds: int = 5,
    seed: int = 0,
    groups: GroupsLike = None,
    extra_keys: Sequence | None = None,
    is_test: np.ndarray | Sequence[bool] | None = None,
) -> dict[str, Any]:
    """Cluster report of ``argmax q`` and a cross-validated kNN probe of ``features`` against ``labels``.

    Images labelled ``-1`` are ignored. The kNN probe (cosine, ``k`` neighbours, ``knn_folds``
    folds stratified by class and split by duplicate group) measures the representation itself,
    whatever the clustering does. With ``is_test`` both score the training images only (the
    supervised protocols score the test images, :func:`~monai_debclust.evaluation.evaluate_protocols`).

    Args:
        groups: ``(N,)`` duplicate group of each image or a
            :class:`~monai_debclust.similarity.DuplicateGroups`; None: every image unique.
        extra_keys: ``(N,)`` a further grouping key such as a patient id.
        is_test: ``(N,)`` marks a data set's own test images; None: no test split.

    Returns:
        ``{"cluster": cluster_report(...), "knn": knn_cross_validate(...) or None, "knn_k",
        "knn_folds", "leakage"}``; the probe is None when a training fold would hold fewer than
        ``knn_k`` labelled images; ``leakage`` is the split's record
        (:mod:`~monai_debclust.evaluation.splits`): duplicate groups merged, images left out.
    """
    labels = torch.as_tensor(labels).long().numpy()
    group_ids = groups.group if isinstance(groups, DuplicateGroups) else groups
    grouped = grouped_labels(labels, group_ids, extra_keys)
    if is_test is not None:
        holdout_split(np.asarray(is_test, dtype=bool), grouped)  # counts the training copies of test images
        train = ~np.asarray(is_test, dtype=bool)
        features, q, labels = _rows(features, train), _rows(q, train), labels[train]
        group_ids = None if group_ids is None else np.asarray(group_ids)[train]
        extra_keys = None if extra_keys is None else [key for key, keep in zip(extra_keys, train) if keep]
    predicted = torch.as_tensor(q).argmax(dim=1).numpy()
    report = cluster_report(labels, predicted, class_names=class_names)
    labelled = int((labels >= 0).sum())
    knn = None
    if labelled - math.ceil(labelled / knn_folds) >= knn_k:  # every training fold holds k neighbours
        knn = knn_cross_validate(features, labels, k=knn_k, folds=knn_folds, seed=seed, groups=group_ids,
                                 extra_keys=extra_keys)
    leakage = {**grouped.leakage, "grouped_by": "none" if groups is None else "pixels"}
    return {"cluster": report, "knn": knn, "knn_k": knn_k, "knn_folds": knn_folds, "leakage": leakage}


def _rows(values: np.ndarray | torch.Tensor, mask: np.ndarray) -> np.ndarray | torch.Tensor:
    """The rows of ``values`` where ``mask`` holds, in its own type."""
    return values[torch.from_numpy(mask)] if isinstance(values, torch.Tensor) else np.asarray(values)[mask]


def format_leakage(leakage: dict[str, Any]) -> str:
    """One sentence: the duplicate groups the splits merged and the images they left out."""
    if leakage.get("grouped_by") == "none":
        return "Duplicate groups: not computed (no image files known); folds split by image."
    text = (f"Duplicate groups (pixels): {leakage['groups']} groups merging {leakage['merged_images']} images; "
            f"{leakage['conflict_images_excluded']} images of {leakage['conflict_groups']} groups filed under "
            "two classes left out")
    if "train_images_removed" in leakage:
        text += f"; {leakage['train_images_removed']} training images sharing a group with a test image removed"
    return text + "."


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
    if "leakage" in scores:
        text += "\n" + format_leakage(scores["leakage"])
    if scores.get("protocols"):
        split = ("trained on the training set, scored on the test set"
                 if scores.get("leakage", {}).get("split") == "holdout"
                 else f"{scores['knn_folds']}-fold cross-validated on the labelled set, split by duplicate group")
        text += f"\n\nFrozen-feature protocols ({split}):\n"
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
    if "leakage" in scores:
        leakage = scores["leakage"]
        metrics["duplicate_groups"] = float(leakage["groups"])
        metrics["duplicate_images_merged"] = float(leakage["merged_images"])
        metrics["images_left_out"] = float(leakage["conflict_images_excluded"] + leakage.get("train_images_removed", 0))
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
      ``duplicate_groups``, ``duplicate_images_merged`` and ``images_left_out``;
    * ``state.scores``: the full :func:`score_clustering` result (confusion, mapping, leakage, ...);
    * ``state.best_metric`` / ``state.best_metric_epoch`` for ``key_metric_name``.

    Run by MONAI's ``ValidationHandler`` during training (``state.epoch`` is then the trainer's
    epoch) or on its own for an evaluation.

    Duplicates: when the batches carry each image's file (``path_key``), the evaluator groups the
    files by content hash and pixel signature once
    (:func:`~monai_debclust.similarity.pixel_duplicate_groups`, cached in ``duplicate_cache_dir``
    under a key of the files' ids relative to their common folder and their hashes, so every
    method and seed of one data set reuses one file) and splits every fold by group. A batch key
    ``patient_key`` (a patient id, ``""`` unknown) joins the groups; a batch key ``test_key``
    (a bool per image) marks a data set's own test images: the supervised protocols then train on
    the others (less the copies of test images) and score these, and the clustering scores and
    the kNN probe use the training images.

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
        path_key: key of each image's file path; batches without it are split by image.
        patient_key: key of a patient id per image, when the data set knows one.
        test_key: key of the test-split flag per image.
        duplicate_cache_dir: folder of the cached duplicate groups (None:
            :func:`~monai_debclust.similarity.default_cache_dir`); share it between runs of a data set.
        duplicate_threshold: near-duplicate correlation of the pixel signatures.
        signature_size: side of the signatures' grey thumbnails.
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
        path_key: str = "path",
        patient_key: str = "patient",
        test_key: str = "is_test",
        duplicate_cache_dir: str | os.PathLike | None = None,
        duplicate_threshold: float = DEFAULT_THRESHOLD,
        signature_size: int = DEFAULT_SIGNATURE_SIZE,
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
        self.path_key, self.patient_key, self.test_key = path_key, patient_key, test_key
        self.duplicate_cache_dir, self.duplicate_threshold = duplicate_cache_dir, duplicate_threshold
        self.signature_size = signature_size
        self.state.scores = None
        self._collected: dict[str, list[torch.Tensor]] = {}
        self._listed: dict[str, list] = {}
        self._groups: tuple[tuple[str, ...], np.ndarray] | None = None
        self.add_event_handler(Events.EPOCH_STARTED, lambda engine: (self._collected.clear(), self._listed.clear()))
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
        for key in (self.path_key, self.patient_key, self.test_key):
            if key in batchdata:
                self._listed.setdefault(key, []).extend(_as_list(batchdata[key]))
        engine.state.output = outputs
        return outputs

    def duplicate_groups(self, paths: Sequence[str]) -> np.ndarray:
        """The pixel duplicate group of each file of ``paths`` (computed once per evaluator, cached on disk)."""
        if self._groups is None or self._groups[0] != tuple(paths):
            root = os.path.commonpath([os.path.dirname(os.path.abspath(path)) for path in paths])
            found = pixel_duplicate_groups(paths, root=root, threshold=self.duplicate_threshold,
                                           signature_size=self.signature_size, cache_dir=self.duplicate_cache_dir)
            self._groups = (tuple(paths), found.group)
        return self._groups[1]

    def _score(self, engine: ClusterEvaluator) -> None:
        embedded = {key: torch.cat(values) for key, values in self._collected.items()}
        labels = embedded["label"].long()
        paths = self._listed.get(self.path_key)
        groups = None if paths is None else self.duplicate_groups([str(p) for p in paths])
        patients = self._listed.get(self.patient_key)
        is_test = np.asarray(self._listed.get(self.test_key, []), dtype=bool)
        is_test = is_test if is_test.any() else None
        scores = score_clustering(
            embedded["features"], embedded["q"], labels, self.class_names,
            knn_k=self.knn_k, knn_folds=self.knn_folds, seed=self.seed, groups=groups, extra_keys=patients,
            is_test=is_test,
        )
        if self.protocols:
            names = self.class_names or [str(c) for c in range(int(labels.max()) + 1)]
            scores["protocols"] = evaluate_protocols(
                embedded["features"], labels, names, q=embedded["q"], protocols=self.protocols,
                num_clusters=embedded["q"].shape[1], knn_k=self.knn_k, folds=self.knn_folds,
                label_fraction=self.label_fraction, probe_epochs=self.probe_epochs,
                probe_batch_size=self.probe_batch_size, seed=self.seed, groups=groups, extra_keys=patients,
                is_test=is_test,
            )
        engine.state.scores = scores
        engine.state.metrics.update(_scalar_metrics(scores))
        current = engine.state.metrics[engine.state.key_metric_name]
        if engine.state.best_metric_epoch == -1 or current > engine.state.best_metric:
            engine.state.best_metric, engine.state.best_metric_epoch = current, engine.state.epoch


def _as_list(values: Any) -> list:
    """A batch's per-image values (a collated list, tuple or tensor) as a list."""
    return values.tolist() if isinstance(values, torch.Tensor) else list(values)
