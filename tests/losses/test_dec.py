"""DEC: golden target and KL, gradient through Q only."""

from __future__ import annotations

import pytest
import torch

from monai_debclust.losses import DECClusteringLoss, PartialOTTarget
from monai_debclust.networks.heads import student_t_assignment


@pytest.fixture
def dec_q(golden) -> torch.Tensor:
    dec = golden["dec"]
    features, centres = (torch.tensor(dec[key], dtype=torch.float64) for key in ("features", "centres"))
    return student_t_assignment(features, centres, alpha=dec["alpha"])


def test_golden_q(golden, dec_q):
    torch.testing.assert_close(dec_q, torch.tensor(golden["dec"]["q"], dtype=torch.float64), atol=1e-6, rtol=0)


def test_golden_cluster_frequency_and_target(golden, dec_q):
    dec = golden["dec"]
    torch.testing.assert_close(dec_q.sum(dim=0), torch.tensor(dec["cluster_frequency_f"], dtype=torch.float64))
    p = DECClusteringLoss().target(dec_q)
    torch.testing.assert_close(p, torch.tensor(dec["p"], dtype=torch.float64), atol=1e-6, rtol=0)


@pytest.mark.parametrize("reduction, key", [("sum", "kl_sum"), ("mean", "kl_batchmean")])
def test_golden_kl(golden, dec_q, reduction, key):
    assert DECClusteringLoss(reduction=reduction)(dec_q).item() == pytest.approx(golden["dec"][key], abs=1e-6)


def test_none_gives_the_per_sample_kl(golden, dec_q):
    per_sample = DECClusteringLoss(reduction="none")(dec_q)
    assert per_sample.shape == (3,) and (per_sample >= 0).all()
    assert per_sample.sum().item() == pytest.approx(golden["dec"]["kl_sum"], abs=1e-6)


def test_gradcheck_float64_with_p_constant(monkeypatch):
    # P is detached by design, so the finite differences must see it fixed as well
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    loss = DECClusteringLoss()
    fixed_p = loss.target(torch.softmax(logits.detach(), dim=1))
    monkeypatch.setattr(loss, "target", lambda q: fixed_p)
    assert torch.autograd.gradcheck(lambda x: loss(torch.softmax(x, dim=1)), (logits,))


def test_gradient_treats_the_target_as_constant():
    q = torch.softmax(torch.randn(4, 3, dtype=torch.float64), dim=1).requires_grad_()
    DECClusteringLoss(reduction="sum")(q).backward()
    p = DECClusteringLoss().target(q.detach())
    torch.testing.assert_close(q.grad, -p / q.detach())  # d/dq of -sum p log q with p fixed


def test_beta_zero_only_squares_and_renormalises():
    q = torch.tensor([[0.6, 0.4], [0.9, 0.1]])
    expected = q.pow(2) / q.pow(2).sum(dim=1, keepdim=True)
    torch.testing.assert_close(DECClusteringLoss(beta=0.0).target(q), expected)


def test_bfloat16_is_computed_in_float32(dec_q):
    q = dec_q.float()
    got = DECClusteringLoss()(q.bfloat16())
    assert got.dtype == torch.float32 and got.item() == pytest.approx(DECClusteringLoss()(q).item(), abs=5e-3)


@pytest.mark.parametrize("shape", [(4,), (2, 3, 4)])
def test_rejects_bad_shape(shape):
    with pytest.raises(ValueError, match=r"batch, clusters.*" + str(shape[0])):
        DECClusteringLoss()(torch.rand(shape))


def test_a_given_target_replaces_the_batch_target_and_gets_no_gradient():
    q = torch.softmax(torch.randn(4, 3, dtype=torch.float64), dim=1).requires_grad_()
    target = torch.softmax(torch.randn(4, 3, dtype=torch.float64), dim=1).requires_grad_()
    loss = DECClusteringLoss(reduction="sum")(q, target)
    expected = (target * (target.log() - q.log())).sum()
    assert loss.item() == pytest.approx(expected.item(), abs=1e-12)
    loss.backward()
    assert target.grad is None and q.grad is not None


def test_rejects_a_target_of_another_shape():
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 2\)"):
        DECClusteringLoss()(torch.rand(4, 3), torch.rand(4, 2))


def test_partial_ot_strategy_weighs_each_row_by_its_real_mass():
    q = torch.softmax(torch.randn(40, 3, dtype=torch.float64), dim=1).requires_grad_()
    strategy = PartialOTTarget(rho=0.5)
    plan = strategy.plan(q.detach())
    loss = DECClusteringLoss(reduction="none", target_strategy=strategy)(q)
    normalised = plan.target / plan.weight[:, None]
    expected = plan.weight * (normalised * (normalised.log() - q.detach().log())).sum(dim=1)
    torch.testing.assert_close(loss, expected)
    assert (loss >= 0).all() and plan.weight.min() < 0.5 < plan.weight.max()
    loss.sum().backward()
    torch.testing.assert_close(q.grad, -plan.target / q.detach())  # the cross entropy's gradient


def test_the_strategy_by_name_is_the_default_partial_ot_target():
    q = torch.softmax(torch.randn(30, 4, dtype=torch.float64), dim=1)
    loss = DECClusteringLoss(target_strategy="partial_ot")
    assert isinstance(loss.target_strategy, PartialOTTarget)
    torch.testing.assert_close(loss.target(q), PartialOTTarget()(q))
    assert not torch.allclose(loss.target(q), DECClusteringLoss().target(q), atol=1e-3)


@pytest.mark.parametrize("strategy, error", [("sinkhorn", ValueError), (3, TypeError)])
def test_rejects_an_unknown_target_strategy(strategy, error):
    with pytest.raises(error, match="target_strategy"):
        DECClusteringLoss(target_strategy=strategy)
