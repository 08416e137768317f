"""Handlers for a training run's user-facing side: progress bar, metrics file, final model and report."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ignite.engine import Engine, Events
from ignite.handlers import ProgressBar

from monai_debclust.bundle.outputs import save_trained_network
from monai_debclust.engines.evaluator import ClusterEvaluator, format_scores
from monai_debclust.engines.trainer import LOSS_PARTS, loss_parts
from monai_debclust.networks import describe_network
from monai_debclust.utils import unwrap_network, write_json

__all__ = ["ProgressBarHandler", "MetricsWriter", "TrainingSummaryHandler"]


class ProgressBarHandler:
    """ignite's tqdm ``ProgressBar`` (epoch ``[e/E]`` and its iterations) as a MONAI handler.

    MONAI attaches handlers with ``attach(engine)`` alone; this passes the ``output_transform``
    so the bar shows the loss parts of the current iteration.

    Args:
        persist: keep each epoch's finished bar on screen.
        output_transform: the values shown beside the bar.
    """

    def __init__(self, persist: bool = False, output_transform: Callable = loss_parts) -> None:
        self.bar = ProgressBar(persist=persist)
        self.output_transform = output_transform

    def attach(self, engine: Engine) -> None:
        self.bar.attach(engine, output_transform=self.output_transform)


class MetricsWriter:
    """Write a :class:`~monai_debclust.engines.ClusterEvaluator`'s results to a JSON file each time it runs.

    The file holds ``epoch``, ``metrics`` (the scalars), ``scores`` (full cluster report and kNN
    probe), ``best`` (key metric, value, epoch) and ``history`` (the scalars of every run so
    far; entries of a resumed run's earlier epochs are kept from the file). It is replaced
    atomically (temporary file, then rename), so a reader never sees half of it.

    Args:
        path: the JSON file, e.g. ``<output_dir>/metrics.json``.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def attach(self, engine: ClusterEvaluator) -> None:
        engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def _history(self, before_epoch: int) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        history = json.loads(self.path.read_text(encoding="utf-8")).get("history", [])
        return [entry for entry in history if entry["epoch"] < before_epoch]

    def __call__(self, engine: ClusterEvaluator) -> None:
        epoch, metrics = engine.state.epoch, dict(engine.state.metrics)
        content = {
            "epoch": epoch,
            "metrics": metrics,
            "scores": engine.state.scores,
            "best": {
                "metric": engine.state.key_metric_name,
                "value": engine.state.best_metric,
                "epoch": engine.state.best_metric_epoch,
            },
            "history": self._history(epoch) + [{"epoch": epoch, **metrics}],
        }
        write_json(content, self.path)


class TrainingSummaryHandler:
    """At the end of training: save the final model, print the per-epoch losses and the F1 table.

    Writes ``<output_dir>/models/model.pt`` and ``models/network.json``
    (:func:`~monai_debclust.bundle.save_trained_network`: the weights and the network's
    validated description, checked when the handler is attached so that a network that cannot be
    described fails before training, not after); when an ``evaluator`` is given, runs
    it on the final weights unless it already ran at the last epoch, and prints its per-class
    precision / recall / F1 table (:func:`~monai_debclust.evaluation.format_report`) and kNN
    probe. (The bundle's last line, where the outputs are, comes after the run:
    :func:`~monai_debclust.bundle.report_outputs`.) Attach it on the process that saves (rank 0).

    Args:
        output_dir: the run's output folder.
        network_args: the keyword arguments the network was built with, for ``network.json``.
        evaluator: the validation evaluator, or None (no labels).
        input_settings: how the training images were prepared (``image_size``, ``in_channels``),
            for ``input.json``.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        network_args: dict[str, Any],
        evaluator: ClusterEvaluator | None = None,
        input_settings: dict[str, Any] | None = None,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.network_args, self.evaluator, self.input_settings = network_args, evaluator, input_settings
        self.epochs: list[dict[str, float]] = []

    def attach(self, engine: Engine) -> None:
        describe_network(unwrap_network(engine.network), self.network_args)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.record_epoch)
        engine.add_event_handler(Events.COMPLETED, self.finish)

    def record_epoch(self, engine: Engine) -> None:
        metrics = engine.state.metrics
        self.epochs.append(
            {"epoch": engine.state.epoch, **{name: metrics[f"epoch_{name}"] for name in LOSS_PARTS},
             "smallest_cluster_share": metrics["smallest_cluster_share"]}
        )

    def loss_table(self) -> str:
        """The per-epoch mean loss parts recorded in this process, one row per epoch."""
        lines = [f"{'epoch':>5}  {'loss':>9}  {'contrastive':>11}  {'clustering':>10}  {'smallest cluster':>16}"]
        lines += [
            f"{row['epoch']:>5}  {row['loss']:>9.4f}  {row['contrastive']:>11.4f}  {row['clustering']:>10.4f}  "
            f"{row['smallest_cluster_share']:>16.1%}"
            for row in self.epochs
        ]
        return "\n".join(lines)

    def finish(self, engine: Engine) -> None:
        save_trained_network(engine.network, self.output_dir / "models", self.network_args, self.input_settings)
        sections = [f"Per-epoch training losses:\n{self.loss_table()}"] if self.epochs else []
        if self.evaluator is not None:
            if self.evaluator.state.epoch != engine.state.epoch or self.evaluator.state.scores is None:
                self.evaluator.run(engine.state.epoch)
            sections.append(f"Clusters against the known labels (epoch {engine.state.epoch}):\n"
                            f"{format_scores(self.evaluator.state.scores)}")
        if sections:
            print("\n\n".join(sections), flush=True)
