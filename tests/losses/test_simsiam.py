"""SimSiam: symmetric negative cosine with stop-gradient on the projections."""

from __future__ import annotations

import pytest
import torch

from monai_debclust.losses import SimSiamLoss


def test_value_of_a_hand_computed_pair():
    p1, z2 = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 1.0]])  # cos = 1/sqrt(2)
    p2, z1 = torch.tensor([[0.0, 3.0]]), torch.tensor([[0.0, -2.0]])  # cos = -1
    expected = -(2**-0.5 - 1.0) / 2
    assert SimSiamLoss()(p1, p2, z1, z2).item() == pytest.approx(expected, abs=1e-6)


def test_projections_get_no_gradient():
    p1, p2, z1, z2 = (torch.randn(4, 3, requires_grad=True) for _ in range(4))
    SimSiamLoss()(p1, p2, z1, z2).backward()
    assert z1.grad is None and z2.grad is None
    assert p1.grad.abs().sum() > 0 and p2.grad.abs().sum() > 0


def test_reductions_and_range():
    p1, p2, z1, z2 = (torch.randn(6, 3) for _ in range(4))
    per_image = SimSiamLoss(reduction="none")(p1, p2, z1, z2)
    assert per_image.shape == (6,) and (per_image.abs() <= 1 + 1e-6).all()
    torch.testing.assert_close(SimSiamLoss(reduction="sum")(p1, p2, z1, z2), per_image.sum())
    torch.testing.assert_close(SimSiamLoss()(p1, p2, z1, z2), per_image.mean())


def test_identical_predictions_and_targets_give_minus_one_and_zero_vectors_stay_finite():
    z = torch.randn(3, 4)
    assert SimSiamLoss()(z, z, z, z).item() == pytest.approx(-1.0, abs=1e-6)
    zero = torch.zeros(3, 4, requires_grad=True)
    loss = SimSiamLoss()(zero, zero, z, z)
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(zero.grad).all()


def test_bfloat16_is_computed_in_float32():
    p1, p2, z1, z2 = (torch.randn(5, 8) for _ in range(4))
    got = SimSiamLoss()(*(t.bfloat16() for t in (p1, p2, z1, z2)))
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(SimSiamLoss()(p1, p2, z1, z2).item(), abs=2e-2)


def test_rejects_mismatched_shapes_naming_them():
    with pytest.raises(ValueError, match=r"\(4, 2\)"):
        SimSiamLoss()(torch.rand(4, 3), torch.rand(4, 3), torch.rand(4, 2), torch.rand(4, 3))
