"""Debiased contrastive losses: Chuang et al.'s estimator and its modified form for long-tailed data."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from monai.utils import LossReduction

from monai_debclust.losses._contrastive import TemperatureScaledLoss, ViewSimilarity, view_similarity

__all__ = ["NEGATIVE_REDUCTIONS", "DebiasedContrastiveLoss", "ModifiedDebiasedContrastiveLoss"]

#: How :class:`ModifiedDebiasedContrastiveLoss` reduces the ``2N - 2`` negatives of a view-anchor.
NEGATIVE_REDUCTIONS = ("mean", "sum")


def _check_tau_plus(tau_plus: float) -> None:
    if not 0 <= tau_plus < 1:
        raise ValueError(f"tau_plus (the class prior) must be in [0, 1), got {tau_plus}.")


def _log_debiased_negatives(
    sim: ViewSimilarity, temperature: float, tau_plus: float, correction_logit: torch.Tensor
) -> torch.Tensor:
    """``log g`` per view-anchor, the debiased mean of the negatives (Chuang et al., 2020).

    ``g = max(exp(-1/tau), (S - tau_plus * exp(c)) / (1 - tau_plus))`` with ``S`` the mean of
    ``exp(cos/tau)`` over the ``2N - 2`` negatives and ``c`` the correction logit. The difference
    is taken after shifting both terms by ``m = max(log S, c)``, so nothing overflows; where it
    falls to the floor the result is exactly ``-1/tau`` (with zero gradient).
    """
    num_negatives = sim.log_sum_negatives.shape[0] - 2
    log_mean = sim.log_sum_negatives - math.log(num_negatives)
    shift = torch.maximum(log_mean, correction_logit)
    scaled = (log_mean - shift).exp() - tau_plus * (correction_logit - shift).exp()
    above_floor = scaled > (1 - tau_plus) * (-1 / temperature - shift).exp()
    tiny = torch.finfo(scaled.dtype).tiny  # keeps the log finite in the branch torch.where discards
    log_estimate = shift + scaled.clamp_min(tiny).log() - math.log1p(-tau_plus)
    return torch.where(above_floor, log_estimate, torch.full_like(log_estimate, -1 / temperature))


class ModifiedDebiasedContrastiveLoss(TemperatureScaledLoss):
    """Modified debiased contrastive loss (Zheng et al., arXiv:2209.06941, 2022).

    For N images with L2-normalised views ``z_i^(1), z_i^(2)`` and cosine ``sim``:

    * ``pos_i = exp(sim(z_i^(1), z_i^(2)) / tau)``;
    * ``S_i^(k)`` = mean of ``exp(sim(z_i^(k), z) / tau)`` over the ``2N - 2`` views of the other images;
    * ``g_i^(k) = max(exp(-1/tau), (S_i^(k) - tau_plus * pos_i) / (1 - tau_plus))``, ``D_i = g_i^(1) + g_i^(2)``;
    * ``L_i = -2 log(pos_i / (pos_i + (1 + D_i)^lambda))``, ``L = (1 / 2N) sum_i L_i``.

    The estimator ``g`` is the debiased negative term of Chuang et al. (NeurIPS 2020) taken as a
    mean (``negatives="mean"``, the paper's reading and the default). With a mean each negative
    weighs ``1 / (2N - 2)`` as much as in SimCLR; ``negatives="sum"`` puts the estimator on
    Chuang et al.'s scale instead, the sum over the ``2N - 2`` negatives:

    * ``g_i^(k) = max((2N - 2) exp(-1/tau), (Sum_i^(k) - tau_plus (2N - 2) pos_i) / (1 - tau_plus))``
      with ``Sum_i^(k) = sum_neg exp(sim(z_i^(k), z) / tau) = (2N - 2) S_i^(k)``,

    that is ``(2N - 2)`` times the mean reading's ``g``, with ``D_i`` and ``L_i`` as above (an
    ablation of the reading).

    The paper prints ``exp(sim)`` without ``/tau`` in the ``tau_plus`` term, read here as a
    typo (the floor ``exp(-1/tau)`` is on the ``/tau`` scale). ``literal_correction=True`` keeps
    the printed reading so the two can be compared.

    Everything is computed in log space: ``log S`` by ``logsumexp``, ``log(1 + D)`` by
    ``softplus(logaddexp(log g^(1), log g^(2)))`` and ``L_i = 2 softplus(lambda log(1 + D_i) - log pos_i)``,
    so no exponential overflows at small temperatures. The ``(2N, 2N)`` similarities are reduced
    one block of rows at a time and recomputed in the backward pass (memory ``O(N D)`` plus one
    16 MiB block; the loss is once differentiable). Inputs in float16/bfloat16 are computed and
    returned in float32; float32 and float64 keep their dtype.

    Args:
        temperature: ``tau``, the temperature of the similarities; an attribute that may be changed
            between steps (a temperature schedule).
        tau_plus: ``tau_plus``, the prior probability that a negative shares the anchor's class.
        lambda_mod: ``lambda``, the exponent of ``1 + D_i``.
        literal_correction: use ``exp(sim)`` instead of ``exp(sim / tau)`` in the ``tau_plus`` term.
        negatives: ``"mean"`` (the paper) or ``"sum"`` (Chuang et al.'s scale) over the ``2N - 2``
            negatives in ``g``; see above.
        eps: floor of the L2 norm, so that a zero vector gives a zero cosine.
        reduction: ``"mean"``: ``sum_i L_i / 2N`` (the loss above, the mean over the 2N view-anchors);
            ``"sum"``: ``sum_i L_i``; ``"none"``: the ``(N,)`` per-image ``L_i`` (both views of image i).
    """

    def __init__(
        self,
        temperature: float = 0.5,
        tau_plus: float = 0.1,
        lambda_mod: float = 2.0,
        literal_correction: bool = False,
        negatives: str = "mean",
        eps: float = 1e-8,
        reduction: LossReduction | str = LossReduction.MEAN,
    ) -> None:
        super().__init__(reduction=LossReduction(reduction).value)
        _check_tau_plus(tau_plus)
        if not lambda_mod > 0:
            raise ValueError(f"lambda_mod must be > 0, got {lambda_mod}.")
        if negatives not in NEGATIVE_REDUCTIONS:
            raise ValueError(f"negatives must be one of {NEGATIVE_REDUCTIONS}, got {negatives!r}.")
        self.temperature, self.tau_plus, self.lambda_mod = temperature, tau_plus, lambda_mod
        self.literal_correction, self.negatives, self.eps = literal_correction, negatives, eps

    def terms(self, z1: torch.Tensor, z2: torch.Tensor) -> dict[str, torch.Tensor]:
        """The intermediate quantities of the loss, for tests and analysis.

        Args:
            z1: ``(N, D)`` projections of the first views.
            z2: ``(N, D)`` projections of the second views.

        Returns:
            ``positive_cosine`` ``(N,)``; ``pos`` ``(N,)``; ``S`` (the mean over the negatives) and
            ``g`` (on the scale of ``negatives``) ``(2N,)`` per view-anchor, view 1 of images
            ``0..N-1`` then view 2; ``D`` ``(N,)``; ``L_i`` ``(N,)``.
            ``S``, ``g``, ``D`` and ``pos`` are exponentiated from their logs (they may overflow at
            extreme temperatures where ``L_i`` does not).
        """
        sim = view_similarity(z1, z2, self.temperature, self.eps)
        n = z1.shape[0]
        pos_logit = sim.positive / self.temperature
        correction_logit = sim.positive if self.literal_correction else pos_logit
        log_g = _log_debiased_negatives(sim, self.temperature, self.tau_plus, correction_logit)
        if self.negatives == "sum":
            log_g = log_g + math.log(2 * n - 2)
        log_one_plus_d = F.softplus(torch.logaddexp(log_g[:n], log_g[n:]))
        g = log_g.exp()
        return {
            "positive_cosine": sim.positive[:n],
            "pos": pos_logit[:n].exp(),
            "S": (sim.log_sum_negatives - math.log(2 * n - 2)).exp(),
            "g": g,
            "D": g[:n] + g[n:],
            "L_i": 2 * F.softplus(self.lambda_mod * log_one_plus_d - pos_logit[:n]),
        }

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """Args:
            z1: ``(N, D)`` projections of the first views.
            z2: ``(N, D)`` projections of the second views, row ``i`` the same image as in ``z1``.

        Raises:
            ValueError: when the views are not two ``(N, D)`` tensors of one shape with ``N >= 2``.
        """
        per_image = self.terms(z1, z2)["L_i"]
        total = per_image.sum()
        return {"mean": total / (2 * z1.shape[0]), "sum": total, "none": per_image}[self.reduction]


class DebiasedContrastiveLoss(TemperatureScaledLoss):
    """Debiased contrastive loss of Chuang et al., "Debiased Contrastive Learning" (NeurIPS 2020).

    For each of the 2N view-anchors ``a`` with positive ``pos_a = exp(sim(a, a+)/tau)``:
    ``Ng_a = max((2N - 2) exp(-1/tau), (sum_neg exp(sim(a, z)/tau) - tau_plus (2N - 2) pos_a) / (1 - tau_plus))``
    and ``l_a = -log(pos_a / (pos_a + Ng_a)) = softplus(log Ng_a - log pos_a)``, computed in log space.
    A baseline beside :class:`ModifiedDebiasedContrastiveLoss`. Inputs in float16/bfloat16 are
    computed and returned in float32.

    Args:
        temperature: ``tau``, the temperature of the similarities; an attribute that may be changed
            between steps (a temperature schedule).
        tau_plus: ``tau_plus``, the prior probability that a negative shares the anchor's class.
        eps: floor of the L2 norm.
        reduction: ``"mean"``: mean of ``l_a`` over the 2N anchors (the published loss); ``"sum"``:
            their sum; ``"none"``: the ``(2N,)`` ``l_a``, view 1 of images ``0..N-1`` then view 2.
    """

    def __init__(
        self,
        temperature: float = 0.5,
        tau_plus: float = 0.1,
        eps: float = 1e-8,
        reduction: LossReduction | str = LossReduction.MEAN,
    ) -> None:
        super().__init__(reduction=LossReduction(reduction).value)
        _check_tau_plus(tau_plus)
        self.temperature, self.tau_plus, self.eps = temperature, tau_plus, eps

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """Args:
            z1: ``(N, D)`` projections of the first views.
            z2: ``(N, D)`` projections of the second views, row ``i`` the same image as in ``z1``.

        Raises:
            ValueError: when the views are not two ``(N, D)`` tensors of one shape with ``N >= 2``.
        """
        sim = view_similarity(z1, z2, self.temperature, self.eps)
        pos_logit = sim.positive / self.temperature
        log_g = _log_debiased_negatives(sim, self.temperature, self.tau_plus, pos_logit)
        per_anchor = F.softplus(math.log(2 * z1.shape[0] - 2) + log_g - pos_logit)
        return {"mean": per_anchor.mean(), "sum": per_anchor.sum(), "none": per_anchor}[self.reduction]
