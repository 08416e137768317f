"""Two-view similarities and the temperature shared by the contrastive losses (NT-Xent, debiased, modified debiased)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable
from torch.nn.modules.loss import _Loss

__all__ = ["TemperatureScaledLoss", "ViewSimilarity", "check_temperature", "view_similarity"]

# Elements of one block of the (2N, 2N) logit matrix held at a time (16 MiB in float32).
BLOCK_ELEMENTS = 2**22


class ViewSimilarity(NamedTuple):
    """Similarities of every view-anchor of a two-view batch of N images.

    Anchors are ordered view 1 of images ``0..N-1``, then view 2 of images ``0..N-1``.

    Attributes:
        positive: ``(2N,)`` cosine between each anchor and the other view of its image.
        log_sum_negatives: ``(2N,)`` ``log sum_z exp(cos(anchor, z) / temperature)`` over the
            ``2N - 2`` views ``z`` that belong to the other images.
    """

    positive: torch.Tensor
    log_sum_negatives: torch.Tensor


def check_temperature(temperature: float) -> None:
    """Raise a ``ValueError`` unless ``temperature`` is positive."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}.")


class TemperatureScaledLoss(_Loss):
    """A loss of similarities divided by a ``temperature`` that may change between steps.

    ``temperature`` is a plain attribute, checked when set, and read afresh by every forward
    pass, so that a handler can follow a schedule during training (e.g.
    :class:`~monai_debclust.losses.CosineTemperatureSchedule`): after
    ``loss.temperature = 0.2`` the next call computes the loss at ``tau = 0.2``.
    """

    @property
    def temperature(self) -> float:
        """``tau``, the temperature of the similarities, ``> 0``."""
        return self._temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        check_temperature(value)
        self._temperature = float(value)


def _negative_logit_blocks(z: torch.Tensor, temperature: float) -> Iterator[tuple[slice, torch.Tensor]]:
    """Row blocks of ``z z^T / temperature`` with the anchor's own two views set to ``-inf``."""
    two_n = z.shape[0]
    block_rows = max(1, BLOCK_ELEMENTS // two_n)
    for start in range(0, two_n, block_rows):
        rows = slice(start, min(start + block_rows, two_n))
        logits = (z[rows] / temperature) @ z.T
        anchor = torch.arange(rows.start, rows.stop, device=z.device)
        local = anchor - start
        logits[local, anchor] = float("-inf")
        logits[local, (anchor + two_n // 2) % two_n] = float("-inf")
        yield rows, logits


class _NegativeLogSumExp(torch.autograd.Function):
    """``lse_a = log sum_{b in neg(a)} exp(z_a . z_b / tau)`` for the 2N rows of ``z``, block by block.

    Only ``z`` and ``lse`` are kept for the backward pass, which recomputes each block of logits:
    ``dlse_a/dz_a = sum_b w_ab z_b / tau`` and ``dlse_a/dz_b = w_ab z_a / tau`` with the softmax
    weights ``w_ab = exp(z_a . z_b / tau - lse_a)``. Memory is ``O(BLOCK_ELEMENTS)`` beyond the
    inputs instead of the several ``(2N, 2N)`` matrices that autograd would store.
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor, temperature: float) -> torch.Tensor:  # type: ignore[override]
        lse = z.new_empty(z.shape[0])
        for rows, logits in _negative_logit_blocks(z, temperature):
            lse[rows] = torch.logsumexp(logits, dim=1)
        ctx.save_for_backward(z, lse)
        ctx.temperature = temperature
        return lse

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_lse: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        z, lse = ctx.saved_tensors
        grad_z = torch.zeros_like(z)
        for rows, logits in _negative_logit_blocks(z, ctx.temperature):
            weight = logits.sub_(lse[rows, None]).exp_().mul_(grad_lse[rows, None] / ctx.temperature)
            grad_z[rows].addmm_(weight, z)
            grad_z.addmm_(weight.T, z[rows])
        return grad_z, None


def view_similarity(z1: torch.Tensor, z2: torch.Tensor, temperature: float, eps: float = 1e-8) -> ViewSimilarity:
    """Cosine similarities of two views, L2-normalised inside, with the negatives summed in log space.

    ``z = normalize(cat(z1, z2))`` (a zero vector stays zero: ``eps`` floors its norm). The
    ``(2N, 2N)`` logits ``z z^T / temperature``, without each anchor's own two views, are reduced by
    ``logsumexp`` one block of rows at a time and recomputed in the backward pass, so no
    ``exp`` overflows whatever the temperature and memory stays ``O(N D)`` plus one block.
    The result is once differentiable (no double backward).

    The computation runs in at least float32 (half-precision inputs are promoted, autocast is
    switched off inside) and the results are in that dtype.

    Args:
        z1: ``(N, D)`` projections of the first views.
        z2: ``(N, D)`` projections of the second views, row ``i`` the same image as in ``z1``.
        temperature: the softmax temperature ``tau``.
        eps: floor of the L2 norm.

    Raises:
        ValueError: when the views are not two ``(N, D)`` tensors of one shape with ``N >= 2``.
    """
    if z1.ndim != 2 or z1.shape != z2.shape:
        raise ValueError(
            f"z1 and z2 must be (batch, features) of the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}."
        )
    n = z1.shape[0]
    if n < 2:
        raise ValueError(
            f"a contrastive loss needs a batch of at least 2 images (the negatives), got shape {tuple(z1.shape)}."
        )
    dtype = torch.promote_types(torch.promote_types(z1.dtype, z2.dtype), torch.float32)
    with torch.autocast(device_type=z1.device.type, enabled=False):
        z = F.normalize(torch.cat([z1.to(dtype), z2.to(dtype)]), dim=1, eps=eps)
        positive = (z * z.roll(n, dims=0)).sum(dim=1)
        return ViewSimilarity(positive, _NegativeLogSumExp.apply(z, temperature))
