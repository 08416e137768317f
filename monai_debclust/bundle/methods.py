"""Training methods: the joint method and every system it is compared with, as modes of one trainer.

A bundle's ``method`` setting picks one entry of :data:`METHODS`; the same data, encoder options,
trainer, checkpoints and evaluation serve them all, and only the network class, the loss of the
two views and whether DEC trains the clustering head change. A mode that does not train its
head gets the k-means centres of its features put into it
(:class:`~monai_debclust.handlers.KMeansHeadHandler`), so every mode's model clusters an archive
the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from torch import nn

from monai_debclust.losses import (
    CosineTemperatureSchedule,
    DebiasedContrastiveLoss,
    DECClusteringLoss,
    JointDebClustLoss,
    ModifiedDebiasedContrastiveLoss,
    NTXentLoss,
    PartialOTTarget,
    SimSiamLoss,
)
from monai_debclust.networks import DebClustNet, SimSiamNet, StatDECNet

__all__ = [
    "EXPERT_BASES",
    "METHODS",
    "TEMPERATURE_SCHEDULES",
    "TrainingMethod",
    "build_method_loss",
    "build_method_network",
    "build_temperature_schedule",
    "get_method",
    "method_trains_head",
]


class TrainingMethod(NamedTuple):
    """One training mode: what it is, its network class, the loss of its two views, whether DEC trains its head."""

    description: str
    network: type[nn.Module]
    view_loss: Callable[[Mapping[str, Any]], nn.Module]
    trains_head: bool


#: The bundles' ``temperature_schedule`` values besides null (a constant temperature).
TEMPERATURE_SCHEDULES = ("cosine",)


def _modified(settings: Mapping[str, Any]) -> nn.Module:
    return ModifiedDebiasedContrastiveLoss(settings["temperature"], settings["tau_plus"], settings["lambda_mod"],
                                           negatives=settings["negatives"])


def _chuang(settings: Mapping[str, Any]) -> nn.Module:
    return DebiasedContrastiveLoss(settings["temperature"], settings["tau_plus"])


def _ntxent(settings: Mapping[str, Any]) -> nn.Module:
    return NTXentLoss(settings["temperature"])


def _simsiam(settings: Mapping[str, Any]) -> nn.Module:
    return SimSiamLoss()


#: The training modes by name (the bundles' ``--method``).
METHODS: dict[str, TrainingMethod] = {
    "joint": TrainingMethod(
        "modified debiased contrastive + DEC on one encoder (Zheng et al., 2022)", DebClustNet, _modified, True),
    "debiased": TrainingMethod("modified debiased contrastive alone (Zheng et al., 2022)", DebClustNet, _modified,
                               False),
    "chuang": TrainingMethod("debiased contrastive (Chuang et al., NeurIPS 2020)", DebClustNet, _chuang, False),
    "simclr": TrainingMethod("SimCLR, NT-Xent (Chen et al., ICML 2020)", DebClustNet, _ntxent, False),
    "simsiam": TrainingMethod("SimSiam, predictor and stop-gradient (Chen & He, CVPR 2021)", SimSiamNet, _simsiam,
                              False),
    "statdec": TrainingMethod(
        "StatDEC: representation and clustering networks with statistics pooling (Rezaei et al., 2021)",
        StatDECNet, _ntxent, True),
    "experts": TrainingMethod(
        "SSL base, offline k-means, one expert per cluster, distilled student (Chang & Chang)", DebClustNet, _ntxent,
        False),
}
#: The self-supervised methods the experts pipeline may start from (its ``experts_base``).
EXPERT_BASES = ("simclr", "simsiam")


def get_method(method: str, experts_base: str = "simclr") -> TrainingMethod:
    """The :class:`TrainingMethod` called ``method``; for ``"experts"`` the network and loss are its base's.

    Raises:
        ValueError: naming the known methods (or bases) when ``method`` (or ``experts_base``) is unknown.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known methods: {', '.join(METHODS)}.")
    if method != "experts":
        return METHODS[method]
    if experts_base not in EXPERT_BASES:
        raise ValueError(f"experts_base must be one of {', '.join(EXPERT_BASES)}, got {experts_base!r}.")
    base = METHODS[experts_base]
    return METHODS["experts"]._replace(network=base.network, view_loss=base.view_loss)


def method_trains_head(method: str) -> bool:
    """Whether DEC trains the clustering head of ``method`` (else k-means centres are put into it)."""
    return get_method(method).trains_head


def build_method_network(method: str, network_args: Mapping[str, Any], experts_base: str = "simclr") -> nn.Module:
    """The network of ``method`` built with the bundle's ``network_args`` (encoder, clusters, projection sizes)."""
    return get_method(method, experts_base).network(**network_args)


def build_method_loss(
    method: str,
    temperature: float = 0.5,
    tau_plus: float = 0.1,
    lambda_mod: float = 2.0,
    beta: float = 1.0,
    gamma: float = 5.0,
    experts_base: str = "simclr",
    negatives: str = "mean",
    target_strategy: str = "sharpen",
    ot_rho_start: float = 0.1,
    ot_epsilon: float = 0.1,
) -> JointDebClustLoss:
    """The objective of ``method``: its view loss, plus ``gamma`` times DEC (with ``beta``) when it trains its head.

    A method that does not train its head gets ``gamma = 0``: the clustering part stays in the
    graph with a zero gradient (see :class:`~monai_debclust.losses.JointDebClustLoss`).

    Args:
        negatives: how the modified debiased loss (``joint``, ``debiased``) reduces its negatives:
            the paper's ``"mean"`` or Chuang et al.'s scale ``"sum"``; the other losses ignore it.
        target_strategy: the DEC target: ``"sharpen"`` (DEC's ``q^2 / f^beta``) or
            ``"partial_ot"`` (P2OT's partial optimal transport,
            :class:`~monai_debclust.losses.PartialOTTarget` with ``rho = ot_rho_start`` and
            ``epsilon = ot_epsilon``; :class:`~monai_debclust.handlers.PartialOTRhoHandler` ramps ``rho``).
    """
    spec = get_method(method, experts_base)
    settings = {"temperature": temperature, "tau_plus": tau_plus, "lambda_mod": lambda_mod, "negatives": negatives}
    strategy = PartialOTTarget(rho=ot_rho_start, epsilon=ot_epsilon) if target_strategy == "partial_ot" \
        else target_strategy
    return JointDebClustLoss(spec.view_loss(settings), DECClusteringLoss(beta=beta, target_strategy=strategy),
                             gamma if spec.trains_head else 0.0)


def build_temperature_schedule(
    schedule: str | None,
    total_steps: int,
    half_period: int | None = None,
    min_temperature: float = 0.1,
    max_temperature: float = 1.0,
) -> CosineTemperatureSchedule | None:
    """The bundles' ``temperature_schedule``: ``"cosine"`` (Kukleva et al., ICLR 2023) over a run of ``total_steps``.

    Args:
        schedule: ``"cosine"``, or None for none (the constant ``temperature``; returns None).
        total_steps: the run's optimiser steps (epochs times iterations per epoch).
        half_period: steps from the highest to the lowest temperature; None: ``total_steps / 10``
            (five cycles in a run, as the paper's 200 of 2,000 epochs).
        min_temperature: the lowest temperature.
        max_temperature: the highest, at step 0.
    """
    if schedule is None:
        return None
    if schedule not in TEMPERATURE_SCHEDULES:
        raise ValueError(f"temperature_schedule must be null or one of {TEMPERATURE_SCHEDULES}, got {schedule!r}.")
    period = max(1, round(total_steps / 10)) if half_period is None else half_period
    return CosineTemperatureSchedule(period, min_temperature=min_temperature, max_temperature=max_temperature)
