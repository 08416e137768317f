"""Handlers of the training recipes beyond the paper: a temperature schedule and a partial-OT curriculum.

Both set one attribute of the loss before every iteration from the trainer's counters alone
(the iteration, and the epoch at which clustering started, which the trainer state keeps in
every checkpoint), so a resumed run continues them exactly, with nothing of their own to save.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ignite.engine import Engine, Events
from torch import nn

__all__ = ["PartialOTRhoHandler", "TemperatureScheduleHandler"]

logger = logging.getLogger(__name__)


class TemperatureScheduleHandler:
    """Set the contrastive loss's temperature before every iteration from a schedule of the step.

    Before iteration ``i`` (1-based, over the whole run) the temperature is ``schedule(i - 1)``,
    e.g. :class:`~monai_debclust.losses.CosineTemperatureSchedule` (Kukleva et al., ICLR 2023).
    Any loss with a settable ``temperature`` works: NT-Xent (SimCLR), Chuang et al.'s debiased
    loss and the modified debiased loss, so SimCLR can be compared with the same schedule.

    Args:
        schedule: ``step -> temperature``, called with the 0-based optimiser step.
        loss: the loss whose ``temperature`` is set; None: the engine's ``loss_function.contrastive``
            (:class:`~monai_debclust.losses.JointDebClustLoss`'s view loss), or the loss function
            itself when it has a ``temperature``.

    Raises:
        ValueError: at ``attach`` when the loss has no ``temperature`` (e.g. SimSiam's).
    """

    def __init__(self, schedule: Callable[[int], float], loss: nn.Module | None = None) -> None:
        self.schedule, self.loss = schedule, loss

    def target_loss(self, engine: Engine) -> nn.Module:
        """The loss whose temperature is scheduled."""
        if self.loss is not None:
            return self.loss
        loss = engine.loss_function
        return loss if hasattr(loss, "temperature") else getattr(loss, "contrastive", loss)

    def attach(self, engine: Engine) -> None:
        loss = self.target_loss(engine)
        if not hasattr(loss, "temperature"):
            raise ValueError(
                f"temperature_schedule: the loss {type(loss).__name__} has no temperature to schedule (SimSiam has "
                f"none); set temperature_schedule to null for this method."
            )
        engine.add_event_handler(Events.ITERATION_STARTED, self)

    def __call__(self, engine: Engine) -> None:
        self.target_loss(engine).temperature = self.schedule(engine.state.iteration - 1)


class PartialOTRhoHandler:
    """Ramp ``rho`` of the partial optimal-transport DEC target from ``start`` to ``end`` (P2OT's curriculum).

    P2OT (Zhang et al., ICLR 2024, "P2OT: Progressive Partial Optimal Transport for Deep
    Imbalanced Clustering") first transports only the ``rho`` most confident share of the mass
    to the real clusters and raises ``rho`` during training. Here ``rho`` rises linearly from
    ``start`` to ``end`` over ``ramp_steps`` iterations counted from the start of clustering
    (``engine.state.clustering_started_epoch``, set by
    :class:`~monai_debclust.handlers.ClusterInitHandler`; from the run's first iteration when
    that handler is absent; at ``start`` before clustering), then stays at ``end``.

    Attach it before :class:`~monai_debclust.handlers.DECTargetHandler` (ignite calls the
    handlers of an event in the order they were attached), so a whole-set target formed at an
    iteration already uses that iteration's ``rho``.

    Args:
        start: ``rho`` when clustering starts, in ``(0, 1]``.
        end: ``rho`` after the ramp, in ``[start, 1]``.
        ramp_epochs: length of the ramp in epochs (of the trainer's ``epoch_length``).
        ramp_steps: length of the ramp in iterations, instead of ``ramp_epochs``.
        target: the object whose ``rho`` is set; None: the engine's
            ``loss_function.clustering.target_strategy`` (a
            :class:`~monai_debclust.losses.PartialOTTarget`).

    Raises:
        ValueError: on a bad ramp, or at ``attach`` when the target has no ``rho``.
    """

    def __init__(
        self,
        start: float = 0.1,
        end: float = 1.0,
        ramp_epochs: float | None = None,
        ramp_steps: int | None = None,
        target: object | None = None,
    ) -> None:
        if not 0 < start <= end <= 1:
            raise ValueError(f"ot_rho_start and its end must satisfy 0 < start <= end <= 1, got {start} and {end}.")
        if (ramp_epochs is None) == (ramp_steps is None):
            raise ValueError("give exactly one of ramp_epochs and ramp_steps.")
        length = ramp_epochs if ramp_steps is None else ramp_steps
        if not length > 0:
            raise ValueError(f"the rho ramp must last > 0 epochs or steps, got {length}.")
        self.start, self.end, self.ramp_epochs, self.ramp_steps, self.target = start, end, ramp_epochs, ramp_steps, target

    def rho_target(self, engine: Engine) -> object:
        """The object whose ``rho`` is ramped."""
        if self.target is not None:
            return self.target
        return getattr(getattr(engine.loss_function, "clustering", None), "target_strategy", None)

    def attach(self, engine: Engine) -> None:
        target = self.rho_target(engine)
        if not hasattr(target, "rho"):
            raise ValueError(
                f"ot_rho_start: the DEC target {type(target).__name__} has no rho to ramp; it needs "
                f"target_strategy 'partial_ot'."
            )
        engine.add_event_handler(Events.ITERATION_STARTED, self)

    def rho_at(self, steps: float, epoch_length: int) -> float:
        """``rho`` after ``steps`` iterations of clustering."""
        length = self.ramp_steps if self.ramp_steps is not None else self.ramp_epochs * epoch_length
        return self.start + (self.end - self.start) * min(1.0, max(0.0, steps) / length)

    def __call__(self, engine: Engine) -> None:
        started = getattr(engine.state, "clustering_started_epoch", 1)  # 0: clustering has not started yet
        steps = engine.state.iteration - 1 - (started - 1) * engine.state.epoch_length if started else 0
        self.rho_target(engine).rho = self.rho_at(steps, engine.state.epoch_length)
