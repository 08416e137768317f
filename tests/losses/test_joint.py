"""The joint loss: golden total, gamma schedule, missing assignments."""

from __future__ import annotations

import pytest
import torch

from monai_debclust.losses import DECClusteringLoss, JointDebClustLoss, ModifiedDebiasedContrastiveLoss, NTXentLoss
from monai_debclust.networks.heads import student_t_assignment


@pytest.fixture
def inputs(golden) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    case, dec = golden["case1"], golden["dec"]
    z1, z2, features, centres = (
        torch.tensor(source[key], dtype=torch.float64)
        for source, key in ((case, "view1"), (case, "view2"), (dec, "features"), (dec, "centres"))
    )
    return z1, z2, student_t_assignment(features, centres, alpha=dec["alpha"])


def test_matches_golden_joint_loss(golden, inputs):
    out = JointDebClustLoss()(*inputs)
    assert out["loss"].item() == pytest.approx(golden["dec"]["joint_case1_plus_5x_dec_batchmean"], abs=1e-6)
    assert out["contrastive"].item() == pytest.approx(golden["case1"]["modified_debiased"]["loss"], abs=1e-6)
    assert out["clustering"].item() == pytest.approx(golden["dec"]["kl_batchmean"], abs=1e-6)


@pytest.mark.parametrize("gamma, with_q", [(0.0, True), (5.0, False)])
def test_clustering_is_a_zero_tensor_without_q_or_weight(inputs, gamma, with_q):
    z1, z2, q = inputs
    out = JointDebClustLoss(gamma=gamma)(z1, z2, q if with_q else None)
    assert isinstance(out["clustering"], torch.Tensor) and out["clustering"].item() == 0.0
    torch.testing.assert_close(out["loss"], out["contrastive"])


def test_zero_gamma_keeps_q_in_the_graph_with_zero_gradient(inputs):
    z1, z2, q = inputs
    q = q.clone().requires_grad_()
    JointDebClustLoss(gamma=0.0)(z1, z2, q)["loss"].backward()
    assert q.grad is not None and torch.equal(q.grad, torch.zeros_like(q))


def test_passes_a_given_target_to_the_clustering_loss(inputs):
    z1, z2, q = inputs
    target = torch.full_like(q, 0.5)
    out = JointDebClustLoss(gamma=1.0)(z1, z2, q, target=target)
    torch.testing.assert_close(out["clustering"], DECClusteringLoss()(q, target))
    assert out["clustering"].item() != pytest.approx(DECClusteringLoss()(q).item())


def test_gamma_can_be_ramped_at_run_time(inputs):
    loss = JointDebClustLoss(gamma=0.0)
    loss.gamma = 2.0
    out = loss(*inputs)
    torch.testing.assert_close(out["loss"], out["contrastive"] + 2.0 * out["clustering"])
    with pytest.raises(ValueError, match="gamma"):
        loss.gamma = -1.0


def test_uses_the_parts_it_is_given(inputs):
    z1, z2, q = inputs
    loss = JointDebClustLoss(NTXentLoss(), DECClusteringLoss(reduction="sum"), gamma=1.0)
    out = loss(z1, z2, q)
    torch.testing.assert_close(out["contrastive"], NTXentLoss()(z1, z2))
    torch.testing.assert_close(out["clustering"], DECClusteringLoss(reduction="sum")(q))
    assert isinstance(JointDebClustLoss().contrastive, ModifiedDebiasedContrastiveLoss)
