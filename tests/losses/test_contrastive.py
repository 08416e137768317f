"""Behaviour shared by the contrastive losses: stability, dtypes, shapes, scale invariance."""

from __future__ import annotations

import pytest
import torch

from monai_debclust.losses import DebiasedContrastiveLoss, ModifiedDebiasedContrastiveLoss, NTXentLoss, _contrastive

LOSSES = [ModifiedDebiasedContrastiveLoss, DebiasedContrastiveLoss, NTXentLoss]


def random_views(n: int = 6, d: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=generator), torch.randn(n, d, generator=generator)


@pytest.mark.parametrize("loss_cls", LOSSES)
@pytest.mark.parametrize("kind", ["identical", "zero"])
def test_no_nan_for_identical_or_zero_vectors(loss_cls, kind):
    z1, z2 = random_views()
    if kind == "identical":
        z1, z2 = torch.ones(6, 5), torch.ones(6, 5)
    else:
        z1[2] = 0.0
    z1.requires_grad_()
    z2.requires_grad_()
    loss = loss_cls()(z1, z2)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z1.grad).all() and torch.isfinite(z2.grad).all()


@pytest.mark.parametrize("loss_cls", LOSSES)
def test_bfloat16_is_computed_in_float32(loss_cls):
    z1, z2 = random_views()
    reference = loss_cls()(z1, z2)
    got = loss_cls()(z1.bfloat16(), z2.bfloat16())
    assert got.dtype == torch.float32 and torch.isfinite(got)
    assert got.item() == pytest.approx(reference.item(), rel=2e-2)


@pytest.mark.parametrize("loss_cls", LOSSES)
def test_autocast_does_not_lower_the_precision(loss_cls):
    z1, z2 = random_views(seed=3)
    reference = loss_cls()(z1, z2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = loss_cls()(z1, z2)
    assert got.dtype == torch.float32 and got.item() == pytest.approx(reference.item(), rel=1e-5)


@pytest.mark.parametrize("loss_cls", LOSSES)
def test_invariant_to_scaling_of_z(loss_cls):
    z1, z2 = random_views(seed=2)
    scales = torch.tensor([[0.01], [3.0], [100.0], [1.0], [7.0], [0.5]])
    torch.testing.assert_close(loss_cls()(z1 * scales, 5 * z2), loss_cls()(z1, z2))


@pytest.mark.parametrize("loss_cls", LOSSES)
@pytest.mark.parametrize("shapes", [((4, 3), (4, 2)), ((4, 3), (5, 3)), ((4, 3, 2), (4, 3, 2))])
def test_rejects_mismatched_shapes_naming_them(loss_cls, shapes):
    with pytest.raises(ValueError, match=r"\(4, 3"):
        loss_cls()(torch.rand(shapes[0]), torch.rand(shapes[1]))


@pytest.mark.parametrize("loss_cls", LOSSES)
def test_rejects_a_batch_without_negatives(loss_cls):
    with pytest.raises(ValueError, match="at least 2 images"):
        loss_cls()(torch.rand(1, 3), torch.rand(1, 3))


@pytest.mark.parametrize("loss_cls", LOSSES)
def test_aligned_views_score_lower_than_random_views(loss_cls):
    z1, z2 = random_views(n=8, d=16, seed=4)
    assert loss_cls()(z1, z1 + 0.05 * z2) < loss_cls()(z1, z2)


@pytest.mark.parametrize("block_elements", [1, 24])
def test_blockwise_similarity_matches_one_block(monkeypatch, block_elements):
    z1, z2 = (t.double().requires_grad_() for t in random_views(n=5, d=4, seed=5))
    whole = ModifiedDebiasedContrastiveLoss()(z1, z2)
    whole_grads = torch.autograd.grad(whole, (z1, z2))
    monkeypatch.setattr(_contrastive, "BLOCK_ELEMENTS", block_elements)  # 1 or 2 rows of 10 per block
    blocked = ModifiedDebiasedContrastiveLoss()(z1, z2)
    torch.testing.assert_close(blocked, whole)
    torch.testing.assert_close(torch.autograd.grad(blocked, (z1, z2)), whole_grads)
    assert torch.autograd.gradcheck(ModifiedDebiasedContrastiveLoss(), (z1, z2))
