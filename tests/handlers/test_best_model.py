"""best_model.pt holds the best evaluation of the whole run, across resumes."""

from __future__ import annotations

import json

import pytest
import torch
from ignite.engine import Engine

from monai_debclust.handlers import BestModelSaver


def _evaluations(save_dir, network, values: dict[int, float]) -> Engine:
    """One session of a run: an evaluator scoring ``values[epoch]`` at each of those epochs, then the saver."""
    engine = Engine(lambda engine, batch: None)
    engine.state.key_metric_name, engine.state.best_metric, engine.state.best_metric_epoch = "macro_f1", -1.0, -1
    saver = BestModelSaver(save_dir, network)
    saver.attach(engine)
    for epoch, current in values.items():
        engine.state.epoch = epoch
        with torch.no_grad():
            network.weight.fill_(epoch)  # the weights of each epoch are recognisable
        saver.epoch_started(engine)
        if engine.state.best_metric_epoch == -1 or current > engine.state.best_metric:  # as ClusterEvaluator
            engine.state.best_metric, engine.state.best_metric_epoch = current, epoch
        saver.epoch_completed(engine)
    return engine


def test_the_best_model_survives_a_resume_with_worse_evaluations(tmp_path):
    network = torch.nn.Linear(1, 1, bias=False)
    _evaluations(tmp_path, network, {1: 0.3, 2: 0.8, 3: 0.5})
    resumed = _evaluations(tmp_path, network, {4: 0.6, 5: 0.7})  # a new session: nothing in memory
    assert (resumed.state.best_metric, resumed.state.best_metric_epoch) == (0.8, 2)
    assert torch.load(tmp_path / "best_model.pt", weights_only=True)["weight"].item() == 2.0
    assert json.loads((tmp_path / "best_model.json").read_text()) == {"metric": "macro_f1", "value": 0.8, "epoch": 2}


def test_an_epoch_evaluated_again_after_a_kill_keeps_the_better_of_the_two(tmp_path):
    network = torch.nn.Linear(1, 1, bias=False)
    _evaluations(tmp_path, network, {1: 0.3, 2: 0.8})  # killed after evaluating epoch 2, before its checkpoint
    _evaluations(tmp_path, network, {2: 0.6})  # epoch 2 again, from the checkpoint of epoch 1: worse
    assert json.loads((tmp_path / "best_model.json").read_text())["value"] == 0.8


def test_a_better_evaluation_after_a_resume_replaces_it(tmp_path):
    network = torch.nn.Linear(1, 1, bias=False)
    _evaluations(tmp_path, network, {1: 0.3, 2: 0.5})
    _evaluations(tmp_path, network, {3: 0.9})
    assert torch.load(tmp_path / "best_model.pt", weights_only=True)["weight"].item() == pytest.approx(3.0)
