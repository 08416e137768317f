"""The best model of a whole run, kept across resumes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Engine, Events
from torch import nn

from monai_debclust.utils import atomic_write, unwrap_network, write_json

__all__ = ["BestModelSaver"]


class BestModelSaver:
    """Save the weights of the evaluation with the best key metric as ``best_model.pt``, over the whole run.

    MONAI's ``CheckpointSaver(save_key_metric=True)`` remembers the best value in memory only, so
    after a resume the first evaluation replaces ``best_model.pt`` however poor it is. This handler
    keeps ``best_model.json`` (``{"metric", "value", "epoch"}``) beside the weights; when attached
    it restores the evaluator's ``best_metric`` and ``best_metric_epoch`` from it, so the
    evaluator (and the ``best`` entry of ``metrics.json``) compare against the best of every
    earlier session, and it saves only when an evaluation beats that (a strictly higher value,
    as the evaluator counts it). The weights (a state dict, loadable with ``weights_only=True``)
    are written before the record, each atomically.

    Args:
        save_dir: folder of ``best_model.pt`` and ``best_model.json``.
        network: the network whose weights are saved (``DistributedDataParallel`` is unwrapped).
        filename: name of the weights file.
    """

    def __init__(self, save_dir: str | os.PathLike, network: nn.Module, filename: str = "best_model.pt") -> None:
        self.weights_path = Path(save_dir) / filename
        self.record_path = self.weights_path.with_suffix(".json")
        self.network = network
        self._best_before: tuple[float, int] | None = None

    def saved(self) -> dict[str, Any] | None:
        """The record of the best model saved so far, or None."""
        if not (self.record_path.is_file() and self.weights_path.is_file()):
            return None
        return json.loads(self.record_path.read_text(encoding="utf-8"))

    def attach(self, engine: Engine) -> None:
        saved = self.saved()
        if saved is not None and saved.get("metric") == engine.state.key_metric_name:
            engine.state.best_metric, engine.state.best_metric_epoch = saved["value"], saved["epoch"]
        engine.add_event_handler(Events.EPOCH_STARTED, self.epoch_started)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.epoch_completed)

    def epoch_started(self, engine: Engine) -> None:
        self._best_before = (engine.state.best_metric, engine.state.best_metric_epoch)

    def epoch_completed(self, engine: Engine) -> None:
        """Save when this evaluation changed the run's best (the evaluator has just updated ``best_metric``)."""
        if (engine.state.best_metric, engine.state.best_metric_epoch) == self._best_before:
            return
        state = {key: value.detach().cpu() for key, value in unwrap_network(self.network).state_dict().items()}
        self.weights_path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.weights_path, "wb") as handle:
            torch.save(state, handle)
        record = {"metric": engine.state.key_metric_name, "value": engine.state.best_metric,
                  "epoch": engine.state.best_metric_epoch}
        write_json(record, self.record_path)
