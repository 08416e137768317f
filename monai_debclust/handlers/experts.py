"""Offline clustering with experts (Chang & Chang): k-means groups, one expert per group, a distilled student.

The bundles' ``--method experts`` trains its base self-supervised model (SimCLR or SimSiam, the
``experts_base`` setting) with the ordinary trainer; :class:`ExpertsHandler` then runs the
remaining stages when that training completes, each resumable, under ``<output_dir>/experts/``:

1. ``groups.json``: k-means of the base model's features of the training set into ``E`` groups;
2. ``expert_<e>/``: expert ``e`` starts from the base model and trains with the base's loss on
   group ``e`` only;
3. ``student/``: a student starts from the base model and learns, on augmented views of every
   image, the feature its owning expert gives the plain image
   (:class:`~monai_debclust.losses.FeatureDistillationLoss`).

Each stage keeps a checkpoint every epoch (``checkpoints/``) and its final weights
(``model.pt``); a stage whose ``model.pt`` exists is not trained again, an interrupted one
resumes from its checkpoint. The student then replaces the base model's weights, its clustering
head takes the k-means centres of its features, and the bundle saves and evaluates it like the
encoder of any other mode.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from pathlib import Path

import numpy as np
import torch
from ignite.engine import Engine, Events
from monai.data import DataLoader
from monai.handlers import CheckpointLoader, CheckpointSaver
from torch import nn
from torch.utils.data import Dataset, Subset

from monai_debclust.bundle.outputs import latest_checkpoint
from monai_debclust.engines.embedding import embed_dataset
from monai_debclust.engines.trainer import DebClustTrainer
from monai_debclust.handlers.determinism import EpochSeedHandler, EpochShuffleSampler
from monai_debclust.handlers.kmeans_head import fit_centres
from monai_debclust.losses import FeatureDistillationLoss
from monai_debclust.similarity import kmeans
from monai_debclust.utils import atomic_write, unwrap_network, write_json

__all__ = ["ExpertsHandler", "StudentViews", "base_epochs"]

logger = logging.getLogger(__name__)


def base_epochs(method: str, epochs: int, expert_epochs: int, student_epochs: int) -> int:
    """Epochs of the bundle's own trainer: all of them, or for ``"experts"`` what the expert and student stages leave.

    With ``expert_epochs`` passes over the groups (together one pass of the training set per
    epoch) and ``student_epochs`` of distillation, the experts pipeline costs about as many
    passes over the data as the other methods' ``epochs``.
    """
    if method != "experts":
        return epochs
    return max(1, epochs - expert_epochs - student_epochs)


class StudentViews(nn.Module):
    """The student as the trainer sees it during distillation: ``forward(image, view1, view2)``
    gives the encoder features of the views as ``z1``, ``z2`` (no projection: the distillation is
    feature-level) and ``q`` of the first view's features (for the cluster-size statistics)."""

    def __init__(self, student: nn.Module) -> None:
        super().__init__()
        self.student = student

    def forward(self, image: torch.Tensor, view1: torch.Tensor, view2: torch.Tensor) -> dict[str, torch.Tensor]:
        z1, z2 = self.student.embed(torch.cat([view1, view2])).split([len(view1), len(view2)])
        return {"features": z1, "q": self.student.clustering(z1), "z1": z1, "z2": z2}


class ExpertsHandler:
    """Run the expert and student stages of offline clustering with experts when the base training completes.

    See the module docstring for the stages and their files. Attach it after the handlers that
    must see the base model at its last epoch and before
    :class:`~monai_debclust.handlers.TrainingSummaryHandler`, which then saves the student.

    Args:
        dataset: the training set with ``"index"`` (what the base trained on): with two views in the
            samples, or plain images when the base trainer makes the views itself (its ``views``,
            :class:`~monai_debclust.transforms.BatchTwoViews`, which every stage then uses too).
        plain_dataset: the same images without augmentation, item ``i`` with ``"index"`` ``i``.
        output_dir: the run's output folder; the stages go to ``output_dir/experts``.
        num_experts: ``E``, the number of k-means groups and experts.
        expert_epochs: epochs of each expert on its group.
        student_epochs: epochs of distillation.
        batch_size: batch size of every stage (a group smaller than it trains in one batch).
        learning_rate: Adam's learning rate of every stage.
        weight_decay: Adam's weight decay.
        num_workers: data loader workers.
        seed: seed of the k-means grouping and of the final centres.
        evaluator: the validation evaluator, run on the student at the end (None: none).
    """

    def __init__(
        self,
        dataset: Dataset,
        plain_dataset: Dataset,
        output_dir: str | os.PathLike,
        num_experts: int = 3,
        expert_epochs: int = 1,
        student_epochs: int = 1,
        batch_size: int = 32,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        num_workers: int = 0,
        seed: int = 0,
        evaluator: Engine | None = None,
    ) -> None:
        if num_experts < 1 or expert_epochs < 1 or student_epochs < 1:
            raise ValueError(
                f"num_experts, expert_epochs and student_epochs must be >= 1, got {num_experts}, {expert_epochs} "
                f"and {student_epochs}."
            )
        self.dataset, self.plain_dataset, self.root = dataset, plain_dataset, Path(output_dir) / "experts"
        self.num_experts, self.expert_epochs, self.student_epochs = num_experts, expert_epochs, student_epochs
        self.batch_size, self.learning_rate, self.weight_decay = batch_size, learning_rate, weight_decay
        self.num_workers, self.seed, self.evaluator = num_workers, seed, evaluator

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        base = unwrap_network(engine.network)
        groups = self.groups(engine)
        experts = [
            self.train_stage(engine, copy.deepcopy(base), copy.deepcopy(engine.loss_function),
                             Subset(self.dataset, np.flatnonzero(groups == e).tolist()), self.expert_epochs,
                             self.root / f"expert_{e}")
            for e in range(self.num_experts)
        ]
        targets = self.teacher_features(engine, experts, groups)
        student = StudentViews(copy.deepcopy(base))
        self.train_stage(engine, student, FeatureDistillationLoss(), self.dataset, self.student_epochs,
                         self.root / "student", target=targets)
        base.load_state_dict(student.student.state_dict())
        sizes = fit_centres(engine, self.plain_dataset, batch_size=self.batch_size, num_workers=self.num_workers,
                            seed=self.seed)
        logger.info(f"experts: the student replaced the base model; k-means centres of its features, sizes {sizes}")
        if self.evaluator is not None:
            self.evaluator.run(engine.state.epoch)

    def _embed(self, engine: Engine, network: nn.Module, dataset: Dataset) -> dict[str, torch.Tensor]:
        loader = DataLoader(dataset, batch_size=self.batch_size, shuffle=False, num_workers=self.num_workers)
        return embed_dataset(network, loader, engine.state.device, amp=engine.amp, keys=("index",))

    def groups(self, engine: Engine) -> np.ndarray:
        """The k-means group of every training image (by index) on the base features; kept in ``groups.json``."""
        path = self.root / "groups.json"
        if path.is_file():
            return np.asarray(json.loads(path.read_text(encoding="utf-8"))["groups"])
        embedded = self._embed(engine, engine.network, self.plain_dataset)
        _, labels = kmeans(embedded["features"], self.num_experts, seed=self.seed)
        groups = np.empty(len(labels), dtype=np.int64)
        groups[embedded["index"].long().numpy()] = labels
        write_json({"num_experts": self.num_experts, "sizes": np.bincount(groups, minlength=self.num_experts).tolist(),
                    "groups": groups.tolist()}, path)
        return groups

    def teacher_features(self, engine: Engine, experts: list[nn.Module], groups: np.ndarray) -> torch.Tensor:
        """``(N, D)``: row ``i`` the feature of plain image ``i`` by the expert of its group."""
        targets = None
        for e, expert in enumerate(experts):
            members = np.flatnonzero(groups == e).tolist()
            if not members:
                continue
            embedded = self._embed(engine, expert, Subset(self.plain_dataset, members))
            if targets is None:
                targets = torch.zeros(len(groups), embedded["features"].shape[1])
            targets[embedded["index"].long()] = embedded["features"]
        return targets.to(engine.state.device)

    def train_stage(
        self,
        engine: Engine,
        network: nn.Module,
        loss: nn.Module,
        dataset: Dataset,
        epochs: int,
        stage_dir: Path,
        target: torch.Tensor | None = None,
    ) -> nn.Module:
        """Train ``network`` on ``dataset`` for ``epochs`` with ``loss`` (per-sample ``target`` rows if given).

        Resumes from ``stage_dir/checkpoints``; returns at once with the saved weights when
        ``stage_dir/model.pt`` exists. A data set of fewer than 2 images leaves ``network`` as it is.
        """
        model_file = stage_dir / "model.pt"
        if model_file.is_file():
            network.load_state_dict(torch.load(model_file, map_location="cpu", weights_only=True))
            return network.to(engine.state.device)
        network = network.to(engine.state.device)
        if len(dataset) >= 2:
            self._run_trainer(engine, network, loss, dataset, epochs, stage_dir, target)
        stage_dir.mkdir(parents=True, exist_ok=True)
        with atomic_write(model_file, "wb") as handle:
            torch.save({key: value.detach().cpu() for key, value in network.state_dict().items()}, handle)
        logger.info(f"experts: stage {stage_dir.name} done ({len(dataset)} images, {epochs} epochs)")
        return network

    def _run_trainer(
        self, engine: Engine, network: nn.Module, loss: nn.Module, dataset: Dataset, epochs: int, stage_dir: Path,
        target: torch.Tensor | None,
    ) -> None:
        sampler = EpochShuffleSampler(dataset, self.seed)  # with EpochSeedHandler: a resumed stage repeats its epochs
        loader = DataLoader(dataset, batch_size=min(self.batch_size, len(dataset)), sampler=sampler, drop_last=True,
                            num_workers=self.num_workers, generator=torch.Generator())
        optimizer = torch.optim.Adam(network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        clusters = unwrap_network(engine.network).clustering.num_clusters
        trainer = DebClustTrainer(engine.state.device, epochs, loader, network, optimizer, loss, clusters, amp=engine.amp,
                                  views=getattr(engine, "views", None), view_seed=getattr(engine, "view_seed", 0))
        EpochSeedHandler(self.seed, sampler).attach(trainer)
        if target is not None:
            trainer.add_event_handler(Events.ITERATION_STARTED, lambda stage: setattr(stage.state, "dec_target", target))
        checkpoints = {"model": network, "optimizer": optimizer, "trainer": trainer}
        resume_from = latest_checkpoint(stage_dir / "checkpoints")
        if resume_from is not None:
            CheckpointLoader(resume_from, checkpoints, map_location=engine.state.device).attach(trainer)
        CheckpointSaver(str(stage_dir / "checkpoints"), checkpoints, save_interval=1, n_saved=1,
                        epoch_level=True).attach(trainer)
        trainer.run()
