"""Partial optimal-transport pseudo-labels (P2OT): a clustering target that lets clusters differ in size."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

__all__ = ["PartialOTTarget", "PartialTransport"]


class PartialTransport(NamedTuple):
    """The transport plan of :meth:`PartialOTTarget.plan`, scaled so that each sample's row sums to 1.

    Attributes:
        target: ``(N, K)`` mass of each sample on the real clusters; row ``i`` sums to ``w_i``.
        weight: ``(N,)`` ``w_i`` in ``[0, 1]``, the sample's mass on the real clusters; the rest,
            ``1 - w_i``, went to the virtual cluster (the samples the plan is least sure of).
        iterations: the scaling iterations run.
    """

    target: torch.Tensor
    weight: torch.Tensor
    iterations: int


class PartialOTTarget:
    """Pseudo-labels by progressive partial optimal transport (Zhang et al., "P2OT", ICLR 2024).

    DEC's sharpened target divides by the cluster frequency and SeLa/SwAV's Sinkhorn forces equal
    cluster sizes, both pulling a 1:9 cohort towards 1:1. P2OT transports the N samples (mass
    ``1/N`` each) to the ``K`` clusters plus one virtual cluster, with the cost ``C_ij = -log q_ij``
    (zero to the virtual cluster):

    ``min_pi <pi, C> + epsilon sum_ij pi_ij (log pi_ij - 1) + lambda KL(pi_{:, :K}^T 1 || (rho / K) 1)``

    subject to ``pi 1 = (1/N) 1`` (every sample is transported) and ``pi_{:, K}^T 1 = 1 - rho``
    (the virtual cluster takes exactly ``1 - rho``). Only a KL penalty ties the real clusters'
    masses to the uniform ``rho / K``, so they may stay unequal; the virtual cluster takes the
    ``1 - rho`` of mass that is most expensive to place, the least confident samples. P2OT ramps
    ``rho`` from 0.1 to 1 during training (a curriculum from the confident samples to all);
    ``rho`` is an attribute for a handler to set.

    Solved by generalised Sinkhorn-Knopp scaling (Chizat et al., 2018) with the kernel
    ``M_ij = exp(-C_ij / epsilon) = q_ij^(1 / epsilon)`` (``M_iK = 1``), row scalings ``alpha`` and
    column scalings ``beta``:

    * ``alpha_i = a_i / (M beta)_i`` (the rows exactly);
    * ``beta_j = (b_j / (M^T alpha)_j)^f`` for the real clusters, ``f = lambda / (lambda + epsilon)``;
    * ``beta_K = b_K / (M^T alpha)_K`` (the virtual cluster exactly);

    until no ``log beta_j`` moves more than ``tolerance``, ending with a row update;
    ``pi_ij = alpha_i M_ij beta_j``. The problem is scaled by N (``a_i = 1``, ``b_j = N rho / K``,
    ``b_K = N (1 - rho)``), which changes only a constant of the objective, so that each row of
    the plan sums to 1. Computed in float64: ``M`` lies in ``[0, 1]`` and each row has an entry of
    at least ``K^(-1 / epsilon)`` (its largest ``q_ij >= 1 / K``), so nothing overflows; the
    iterations are two matrix-vector products (``O(N K)``), the kernel is exponentiated once.

    Used as DEC's target (``DECClusteringLoss(target_strategy=PartialOTTarget(...))``), the rows
    keep their mass ``w_i <= 1``: a sample that the plan sent to the virtual cluster weighs less in
    the clustering loss (P2OT's per-sample weighting).

    Args:
        rho: ``rho`` in ``(0, 1]``, the share of the mass on the real clusters.
        epsilon: ``epsilon > 0``, the entropic regularisation (P2OT: 0.1).
        marginal_weight: ``lambda > 0``, the weight of the KL penalty on the real clusters'
            masses; larger values pull them harder towards equal sizes.
        num_iters: the most scaling iterations.
        tolerance: stop once no column scaling ``v_j`` moved more than this.
    """

    def __init__(
        self,
        rho: float = 1.0,
        epsilon: float = 0.1,
        marginal_weight: float = 1.0,
        num_iters: int = 1000,
        tolerance: float = 1e-6,
    ) -> None:
        if not epsilon > 0:
            raise ValueError(f"epsilon (the entropic regularisation) must be > 0, got {epsilon}.")
        if not marginal_weight > 0:
            raise ValueError(f"marginal_weight (lambda) must be > 0, got {marginal_weight}.")
        if not num_iters >= 1:
            raise ValueError(f"num_iters must be >= 1, got {num_iters}.")
        self.rho, self.epsilon, self.marginal_weight = rho, epsilon, marginal_weight
        self.num_iters, self.tolerance = num_iters, tolerance

    @property
    def rho(self) -> float:
        """``rho``, the share of the mass transported to the real clusters, in ``(0, 1]``."""
        return self._rho

    @rho.setter
    def rho(self, value: float) -> None:
        if not 0 < value <= 1:
            raise ValueError(f"rho (the share of mass on the real clusters) must be in (0, 1], got {value}.")
        self._rho = float(value)

    @torch.no_grad()
    def plan(self, q: torch.Tensor) -> PartialTransport:
        """The transport plan of the soft assignments ``q`` ``(N, K)`` (rows summing to 1), computed in float64.

        Raises:
            ValueError: when ``q`` is not ``(N, K)`` with ``N >= 1`` and ``K >= 1``.
        """
        if q.ndim != 2 or 0 in q.shape:
            raise ValueError(f"q must be (batch, clusters) with both > 0, got shape {tuple(q.shape)}.")
        n, k = q.shape
        tiny = torch.finfo(torch.float64).tiny
        kernel = torch.cat([q.double().clamp_min(tiny).log().div(self.epsilon).exp(), q.new_ones(n, 1).double()], dim=1)
        log_b = torch.full((k + 1,), math.log(n * self.rho / k), dtype=torch.float64, device=q.device)
        log_b[k] = math.log(n * (1 - self.rho)) if self.rho < 1 else float("-inf")
        exponent = torch.full_like(log_b, self.marginal_weight / (self.marginal_weight + self.epsilon))
        exponent[k] = 1.0
        log_beta = torch.zeros_like(log_b)
        finite = slice(0, k + 1 if self.rho < 1 else k)  # at rho = 1 the virtual beta is 0, log beta -inf
        for iterations in range(1, self.num_iters + 1):
            alpha = 1.0 / (kernel @ log_beta.exp()).clamp_min(tiny)
            log_beta_next = exponent * (log_b - (kernel.T @ alpha).clamp_min(tiny).log())
            moved = (log_beta_next - log_beta)[finite].abs().max().item()
            log_beta = log_beta_next
            if moved < self.tolerance:
                break
        beta = log_beta.exp()
        transport = kernel * beta / (kernel @ beta).clamp_min(tiny)[:, None]
        dtype = torch.promote_types(q.dtype, torch.float32)
        return PartialTransport(transport[:, :k].to(dtype), (1 - transport[:, k]).to(dtype), iterations)

    def __call__(self, q: torch.Tensor) -> torch.Tensor:
        """``(N, K)`` target of ``q``: each sample's mass on the real clusters (see :meth:`plan`)."""
        return self.plan(q).target
