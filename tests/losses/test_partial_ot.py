"""P2OT's partial optimal-transport target: cluster sizes kept, the virtual cluster's share, stability."""

from __future__ import annotations

import pytest
import torch

from monai_debclust.losses import DECClusteringLoss, PartialOTTarget


def imbalanced_q() -> torch.Tensor:
    """900 majority rows ``[0.95, 0.05]`` and 100 minority rows ``[0.45, 0.55]``: column masses exactly 9:1."""
    q = torch.empty(1000, 2, dtype=torch.float64)
    q[:900] = torch.tensor([0.95, 0.05], dtype=torch.float64)
    q[900:] = torch.tensor([0.45, 0.55], dtype=torch.float64)
    return q


def test_keeps_the_imbalance_where_decs_target_moves_towards_equal_sizes():
    q = imbalanced_q()
    assert q.mean(dim=0)[1].item() == pytest.approx(0.1)
    minority_ot = PartialOTTarget().plan(q).target.mean(dim=0)[1].item()
    minority_dec = DECClusteringLoss(beta=1.0).target(q).mean(dim=0)[1].item()
    assert minority_dec > 0.114  # DEC's 1/f_j lifts the small cluster
    assert abs(minority_ot - 0.1) < 0.007 and abs(minority_ot - 0.1) < 0.5 * (minority_dec - 0.1)


def test_a_strong_marginal_weight_does_pull_towards_equal_sizes():
    # the KL penalty is the only pull towards equal sizes: a large lambda restores it
    assert PartialOTTarget(marginal_weight=3.0).plan(imbalanced_q()).target.mean(dim=0)[1].item() > 0.25


@pytest.mark.parametrize("rho", [0.1, 0.5, 1.0])
def test_rows_sum_to_one_and_the_virtual_cluster_takes_one_minus_rho(rho):
    generator = torch.Generator().manual_seed(0)
    q = torch.softmax(2 * torch.randn(200, 4, generator=generator, dtype=torch.float64), dim=1)
    plan = PartialOTTarget(rho=rho).plan(q)
    torch.testing.assert_close(plan.target.sum(dim=1), plan.weight)  # real + virtual mass = 1 per row
    assert (plan.target >= 0).all() and ((plan.weight >= 0) & (plan.weight <= 1 + 1e-9)).all()
    assert plan.weight.mean().item() == pytest.approx(rho, abs=1e-4)
    assert plan.iterations < 1000


def test_rho_one_puts_all_mass_on_the_real_clusters():
    q = torch.softmax(torch.randn(50, 3, dtype=torch.float64), dim=1)
    target = PartialOTTarget(rho=1.0)(q)
    torch.testing.assert_close(target.sum(dim=1), torch.ones(50, dtype=torch.float64))


def test_the_virtual_cluster_takes_the_least_confident_samples():
    # half the samples confident (in both clusters alike), half not: rho = 0.5 keeps the confident half
    confident = [[0.99, 0.01], [0.01, 0.99]] * 3
    q = torch.tensor(confident + [[0.6, 0.4], [0.4, 0.6]] * 3, dtype=torch.float64)
    weight = PartialOTTarget(rho=0.5).plan(q).weight
    assert weight[:6].min() > 0.9 and weight[6:].max() < 0.1


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_no_nan_with_tiny_or_zero_q(dtype):
    q = torch.tensor([[1.0, 0.0, 0.0], [1e-30, 1.0, 1e-30], [0.5, 0.5, 0.0], [1e-38, 1e-38, 1.0]], dtype=dtype)
    for rho in (0.1, 1.0):
        plan = PartialOTTarget(rho=rho).plan(q)
        assert plan.target.dtype == dtype and torch.isfinite(plan.target).all() and torch.isfinite(plan.weight).all()
    loss = DECClusteringLoss(target_strategy="partial_ot")(q.requires_grad_())
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(q.grad).all()


def test_rho_can_be_ramped_between_calls():
    q = torch.softmax(torch.randn(100, 3, dtype=torch.float64), dim=1)
    target = PartialOTTarget(rho=0.1)
    low = target.plan(q).weight.mean().item()
    target.rho = 0.9
    assert low == pytest.approx(0.1, abs=1e-4) and target.plan(q).weight.mean().item() == pytest.approx(0.9, abs=1e-4)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"rho": 0.0}, "rho"), ({"rho": 1.5}, "rho"), ({"epsilon": 0.0}, "epsilon"),
     ({"marginal_weight": -1.0}, "marginal_weight"), ({"num_iters": 0}, "num_iters")],
)
def test_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PartialOTTarget(**kwargs)


def test_rejects_a_q_that_is_not_a_matrix():
    with pytest.raises(ValueError, match=r"batch, clusters.*\(4,\)"):
        PartialOTTarget()(torch.rand(4))
