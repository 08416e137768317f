"""The cosine temperature schedule, and contrastive losses whose temperature changes between steps."""

from __future__ import annotations

import math

import pytest
import torch

from monai_debclust.losses import (
    CosineTemperatureSchedule,
    DebiasedContrastiveLoss,
    ModifiedDebiasedContrastiveLoss,
    NTXentLoss,
)

LOSSES = [ModifiedDebiasedContrastiveLoss, DebiasedContrastiveLoss, NTXentLoss]


def test_schedule_values_at_zero_half_and_whole_half_period():
    schedule = CosineTemperatureSchedule(half_period=40, min_temperature=0.1, max_temperature=1.0)
    assert schedule(0) == pytest.approx(1.0)
    assert schedule(20) == pytest.approx(0.55)  # cos(pi / 2) = 0: the midpoint
    assert schedule(40) == pytest.approx(0.1)
    assert schedule(10) == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi / 4)))


def test_schedule_repeats_every_two_half_periods_within_its_bounds():
    schedule = CosineTemperatureSchedule(half_period=7, min_temperature=0.2, max_temperature=0.9)
    values = [schedule(step) for step in range(50)]
    assert all(0.2 - 1e-12 <= value <= 0.9 + 1e-12 for value in values)
    for step in range(36):
        assert schedule(step + 14) == pytest.approx(schedule(step), abs=1e-12)
    assert schedule(3) != pytest.approx(schedule(3 + 7))  # not periodic over one half period
    assert schedule(140) == pytest.approx(0.9) and schedule(147) == pytest.approx(0.2)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"half_period": 0}, "half_period"), ({"half_period": 5, "min_temperature": 0.0}, "temperature"),
     ({"half_period": 5, "min_temperature": 0.5, "max_temperature": 0.4}, "max_temperature")],
)
def test_schedule_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CosineTemperatureSchedule(**kwargs)


def test_schedule_rejects_a_negative_step():
    with pytest.raises(ValueError, match="step"):
        CosineTemperatureSchedule(half_period=5)(-1)


@pytest.mark.parametrize("loss_cls", LOSSES)
def test_a_changed_temperature_gives_the_loss_at_the_new_temperature(loss_cls):
    generator = torch.Generator().manual_seed(0)
    z1, z2 = (torch.randn(6, 5, generator=generator, dtype=torch.float64) for _ in range(2))
    schedule = CosineTemperatureSchedule(half_period=10)
    loss = loss_cls(temperature=schedule(0))
    first = loss(z1, z2)
    loss.temperature = schedule(10)
    assert loss.temperature == pytest.approx(0.1)
    changed = loss(z1, z2)
    torch.testing.assert_close(changed, loss_cls(temperature=0.1)(z1, z2))
    assert not torch.allclose(changed, first)


@pytest.mark.parametrize("loss_cls", LOSSES)
def test_setting_a_non_positive_temperature_is_refused(loss_cls):
    loss = loss_cls()
    with pytest.raises(ValueError, match="temperature"):
        loss.temperature = 0.0
    assert loss.temperature == 0.5
