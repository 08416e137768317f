"""The recipe handlers: the temperature of each step from a schedule, rho's ramp from the start of clustering."""

from __future__ import annotations

import pytest
from ignite.engine import Engine, Events
from torch import nn

from monai_debclust.handlers import ClusterInitHandler, PartialOTRhoHandler, TemperatureScheduleHandler
from monai_debclust.losses import (
    CosineTemperatureSchedule,
    DECClusteringLoss,
    JointDebClustLoss,
    ModifiedDebiasedContrastiveLoss,
    NTXentLoss,
    PartialOTTarget,
    SimSiamLoss,
)


def _engine(loss: nn.Module, record: str) -> tuple[Engine, dict[int, float]]:
    """An ignite engine with ``loss_function`` that records, per iteration, ``record`` of the loss as its step saw it."""
    seen: dict[int, float] = {}

    def step(engine, batch):
        part = engine.loss_function.contrastive if record == "temperature" else \
            engine.loss_function.clustering.target_strategy
        seen[engine.state.iteration] = getattr(part, record)

    engine = Engine(step)
    engine.loss_function = loss
    return engine, seen


def _joint(contrastive: nn.Module, target=None) -> JointDebClustLoss:
    return JointDebClustLoss(contrastive, DECClusteringLoss(target_strategy=target or "sharpen"))


@pytest.mark.parametrize("contrastive", [ModifiedDebiasedContrastiveLoss(), NTXentLoss()], ids=["modified", "simclr"])
def test_each_step_runs_at_the_schedule_temperature(contrastive):
    schedule = CosineTemperatureSchedule(half_period=4)
    engine, seen = _engine(_joint(contrastive), "temperature")
    TemperatureScheduleHandler(schedule).attach(engine)
    engine.run(range(3), max_epochs=4)
    assert seen[1] == pytest.approx(1.0) and seen[5] == pytest.approx(0.1) and seen[9] == pytest.approx(1.0)
    assert seen == pytest.approx({i: schedule(i - 1) for i in range(1, 13)})


def test_a_resumed_run_continues_the_schedule_exactly():
    schedule = CosineTemperatureSchedule(half_period=5)
    engine, full = _engine(_joint(NTXentLoss()), "temperature")
    TemperatureScheduleHandler(schedule).attach(engine)
    engine.run(range(3), max_epochs=4)
    resumed, seen = _engine(_joint(NTXentLoss(temperature=0.5)), "temperature")
    TemperatureScheduleHandler(schedule).attach(resumed)
    resumed.load_state_dict({"epoch": 2, "epoch_length": 3, "max_epochs": 4})
    resumed.run(range(3))
    assert seen == pytest.approx({i: t for i, t in full.items() if i > 6})


def test_a_loss_without_temperature_is_refused_at_attach():
    engine, _ = _engine(_joint(SimSiamLoss()), "temperature")
    with pytest.raises(ValueError, match="SimSiamLoss has no temperature"):
        TemperatureScheduleHandler(CosineTemperatureSchedule(half_period=2)).attach(engine)


def test_rho_ramps_linearly_then_stays():
    target = PartialOTTarget(rho=0.1)
    engine, seen = _engine(_joint(NTXentLoss(), target), "rho")
    PartialOTRhoHandler(start=0.1, end=1.0, ramp_steps=4).attach(engine)
    engine.run(range(2), max_epochs=4)
    assert seen == pytest.approx({1: 0.1, 2: 0.325, 3: 0.55, 4: 0.775, 5: 1.0, 6: 1.0, 7: 1.0, 8: 1.0})


def test_rho_ramp_counts_from_the_start_of_clustering_and_before_the_target_handler():
    target = PartialOTTarget(rho=0.5)
    engine, seen = _engine(_joint(NTXentLoss(), target), "rho")
    engine.network = None
    init = ClusterInitHandler(dataset=[], warmup_epochs=1)
    init.initialise = lambda engine: None  # no k-means here: only the recorded start of clustering matters
    init.attach(engine)
    PartialOTRhoHandler(start=0.2, end=0.6, ramp_epochs=2).attach(engine)
    refreshed: dict[int, float] = {}
    engine.add_event_handler(Events.ITERATION_STARTED, lambda e: refreshed.setdefault(e.state.iteration, target.rho))
    engine.run(range(2), max_epochs=4)
    # clustering starts at epoch 2 (iteration 3); rho is at its start until then, then 0.1 per step up to 0.6
    assert seen == pytest.approx({1: 0.2, 2: 0.2, 3: 0.2, 4: 0.3, 5: 0.4, 6: 0.5, 7: 0.6, 8: 0.6})
    assert refreshed == seen  # a handler attached after it (the DEC target's) sees the iteration's rho


def test_rho_handler_needs_a_partial_ot_target():
    engine, _ = _engine(_joint(NTXentLoss()), "rho")
    with pytest.raises(ValueError, match="target_strategy 'partial_ot'"):
        PartialOTRhoHandler(ramp_epochs=1).attach(engine)
    with pytest.raises(ValueError, match="exactly one"):
        PartialOTRhoHandler()
