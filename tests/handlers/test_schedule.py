"""The learning rate of an epoch depends on the epoch and the run's length only, so resumes continue it."""

from __future__ import annotations

import math

import pytest
import torch
from ignite.engine import Engine, Events

from monai_debclust.handlers import CosineLRHandler, cosine_factor


def _rates(max_epochs: int, resume_from: dict | None = None, lr: float = 0.1) -> dict[int, float]:
    """The learning rate each epoch of an ignite run actually used."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    engine = Engine(lambda engine, batch: None)
    CosineLRHandler(optimizer, print_lr=False).attach(engine)
    used: dict[int, float] = {}
    engine.add_event_handler(Events.ITERATION_STARTED, lambda e: used.setdefault(e.state.epoch, optimizer.param_groups[0]["lr"]))
    if resume_from is not None:
        optimizer.param_groups[0]["lr"] = 0.0  # what a checkpoint of a finished run restores
        engine.load_state_dict(resume_from)
    engine.run([0], max_epochs=max_epochs)
    return used


def test_cosine_factor_runs_from_one_to_zero():
    assert cosine_factor(0, 10) == 1.0 and cosine_factor(5, 10) == pytest.approx(0.5)
    assert cosine_factor(10, 10) == pytest.approx(0.0) and cosine_factor(12, 10) == pytest.approx(0.0)


def test_each_epoch_runs_at_the_cosine_of_the_epochs_completed():
    rates = _rates(4)
    assert rates == pytest.approx({e: 0.1 * 0.5 * (1 + math.cos(math.pi * (e - 1) / 4)) for e in range(1, 5)})


def test_a_resumed_run_uses_the_rates_of_an_uninterrupted_one():
    resumed = _rates(4, {"epoch": 2, "epoch_length": 1, "max_epochs": 4})
    assert resumed == pytest.approx({e: rate for e, rate in _rates(4).items() if e > 2})


def test_a_finished_run_extended_to_more_epochs_follows_the_longer_cosine_not_the_decayed_rate():
    extended = _rates(8, {"epoch": 4, "epoch_length": 1, "max_epochs": 4})
    assert extended == pytest.approx({e: rate for e, rate in _rates(8).items() if e > 4})
    assert extended[5] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 4 / 8)))  # 0.05, not 0
