"""A temperature schedule for the contrastive losses: the cosine oscillation of Kukleva et al."""

from __future__ import annotations

import math

from monai_debclust.losses._contrastive import check_temperature

__all__ = ["CosineTemperatureSchedule"]


class CosineTemperatureSchedule:
    """``tau(t) = tau_min + (tau_max - tau_min) (1 + cos(pi t / T)) / 2`` (Kukleva et al., ICLR 2023).

    "Temperature Schedules for Self-Supervised Contrastive Methods on Long-Tail Data": the
    temperature of the contrastive loss oscillates between ``tau_max`` (at ``t = 0, 2T, 4T, ...``,
    uniform, instance-discriminating) and ``tau_min`` (at ``t = T, 3T, ...``, group-forming), which
    the paper finds helps the tail classes of long-tailed data without extra cost. The paper uses
    ``tau`` between 0.1 and 1.0 and ``T`` = 200 epochs in a 2,000-epoch run, so that a run holds
    several cycles; here ``t`` counts optimiser steps (or epochs, as the caller chooses) and
    ``T`` is given in the same unit. One full cycle lasts ``2T``.

    The schedule only computes ``tau``; a training handler sets it on the loss between steps
    (the contrastive losses' ``temperature`` is an attribute read afresh by every forward pass).

    Args:
        half_period: ``T``, the steps from ``tau_max`` down to ``tau_min`` (half a cycle), ``>= 1``.
        min_temperature: ``tau_min``, ``> 0``.
        max_temperature: ``tau_max``, ``>= tau_min``.

    Example:
        >>> schedule = CosineTemperatureSchedule(half_period=100)
        >>> schedule(0), schedule(100), round(schedule(50), 6)
        (1.0, 0.1, 0.55)
    """

    def __init__(self, half_period: int, min_temperature: float = 0.1, max_temperature: float = 1.0) -> None:
        if not half_period >= 1:
            raise ValueError(f"half_period (T, steps from the highest to the lowest temperature) must be >= 1, "
                             f"got {half_period}.")
        check_temperature(min_temperature)
        if not max_temperature >= min_temperature:
            raise ValueError(
                f"max_temperature must be >= min_temperature, got {max_temperature} < {min_temperature}."
            )
        self.half_period, self.min_temperature, self.max_temperature = half_period, min_temperature, max_temperature

    def __call__(self, step: float) -> float:
        """``tau`` at ``step`` (``t >= 0``), in ``[tau_min, tau_max]``."""
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}.")
        phase = math.pi * (step % (2 * self.half_period)) / self.half_period  # exact at every cycle's start
        spread = self.max_temperature - self.min_temperature
        return self.min_temperature + 0.5 * spread * (1.0 + math.cos(phase))
