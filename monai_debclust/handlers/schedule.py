"""The learning-rate schedule of a run, as a function of the epoch and the run's current length.

A scheduler object that counts its own steps (``LambdaLR``) must be checkpointed, and after a
resume it continues from the learning rate the optimizer was saved with, whatever the new number
of epochs. Here the rate of each epoch is recomputed from ``(epoch, max_epochs)`` alone, so a
resumed run continues the schedule exactly, and a run resumed with a larger ``--epochs``
follows the cosine of its new length from the epoch it reached (see :class:`CosineLRHandler`).
"""

from __future__ import annotations

import logging
import math

from ignite.engine import Engine, Events
from torch.optim import Optimizer

__all__ = ["CosineLRHandler", "cosine_factor"]

logger = logging.getLogger(__name__)


def cosine_factor(epoch: int, epochs: int) -> float:
    """``0.5 * (1 + cos(pi * min(epoch, epochs) / epochs))``: 1 at ``epoch`` 0, 0 at ``epochs``.

    The cosine annealing of Loshchilov & Hutter, 2017 ("SGDR", arXiv:1608.03983) without restarts
    and with a floor of 0, as used by SimCLR; ``epoch`` counts the epochs completed.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}.")
    return 0.5 * (1.0 + math.cos(math.pi * min(max(epoch, 0), epochs) / epochs))


class CosineLRHandler:
    """Set each parameter group's learning rate at the start of every epoch from the cosine schedule.

    Epoch ``e`` (1-based) runs at ``lr_0 * cosine_factor(e - 1, E)``, ``lr_0`` being the group's
    learning rate when the handler is built (the configured one: a checkpoint loaded later
    does not change it) and ``E`` the engine's ``max_epochs`` *now*. Nothing is stored, so:

    * a run killed and resumed with the same ``--epochs`` uses exactly the rates of an
      uninterrupted run;
    * a finished run resumed with a larger ``--epochs E'`` continues with the rates a run of
      ``E'`` epochs has at that epoch (the remaining cosine is stretched over the new length),
      instead of staying at the decayed rate of the old end.

    Args:
        optimizer: the optimizer whose ``param_groups`` learning rates are set.
        print_lr: log the learning rate of each epoch.
    """

    def __init__(self, optimizer: Optimizer, print_lr: bool = True) -> None:
        self.optimizer, self.print_lr = optimizer, print_lr
        self.base_lrs = [float(group["lr"]) for group in optimizer.param_groups]

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self.epoch_started)

    def epoch_started(self, engine: Engine) -> None:
        factor = cosine_factor(engine.state.epoch - 1, engine.state.max_epochs)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor
        if self.print_lr:
            rates = ", ".join(f"{group['lr']:.6g}" for group in self.optimizer.param_groups)
            logger.info(f"epoch {engine.state.epoch} of {engine.state.max_epochs}: learning rate {rates}")
