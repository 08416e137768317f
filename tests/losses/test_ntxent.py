"""NT-Xent: golden values and agreement with MONAI's ContrastiveLoss."""

from __future__ import annotations

import pytest
import torch
from monai.losses import ContrastiveLoss

from monai_debclust.losses import NTXentLoss


@pytest.mark.parametrize("name", ["case1", "case2_clamp"])
def test_matches_golden(golden, name):
    case = golden[name]
    z1, z2 = (torch.tensor(case[key], dtype=torch.float64) for key in ("view1", "view2"))
    assert NTXentLoss()(z1, z2).item() == pytest.approx(case["ntxent_simclr"], abs=1e-6)


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_agrees_with_monai_contrastive_loss(temperature):
    generator = torch.Generator().manual_seed(0)
    z1, z2 = (torch.randn(7, 6, generator=generator, dtype=torch.float64) for _ in range(2))
    torch.testing.assert_close(NTXentLoss(temperature)(z1, z2), ContrastiveLoss(temperature)(z1, z2))


def test_reductions_are_over_the_view_anchors():
    z1, z2 = torch.randn(4, 3), torch.randn(4, 3)
    per_anchor = NTXentLoss(reduction="none")(z1, z2)
    assert per_anchor.shape == (8,)
    torch.testing.assert_close(NTXentLoss(reduction="sum")(z1, z2), per_anchor.sum())
    torch.testing.assert_close(NTXentLoss()(z1, z2), per_anchor.mean())


def test_gradcheck_float64():
    z1, z2 = (torch.randn(4, 3, dtype=torch.float64, requires_grad=True) for _ in range(2))
    assert torch.autograd.gradcheck(NTXentLoss(), (z1, z2))


def test_rejects_non_positive_temperature():
    with pytest.raises(ValueError, match="temperature"):
        NTXentLoss(temperature=0.0)
