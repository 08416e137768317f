"""Projection head, Student-t soft assignment and the DEC clustering head."""

from __future__ import annotations

import pytest
import torch

from monai_debclust.networks import ClusteringHead, ProjectionHead, student_t_assignment


def test_projection_head_layers_and_shape():
    head = ProjectionHead(16, hidden_features=32, out_features=8)
    first, norm, _, last = head.layers
    assert first.bias is None and isinstance(norm, torch.nn.BatchNorm1d) and last.bias is not None
    assert head(torch.randn(4, 16)).shape == (4, 8)


def test_student_t_matches_golden_dec_q(golden):
    dec = golden["dec"]
    features = torch.tensor(dec["features"], dtype=torch.float64)
    centres = torch.tensor(dec["centres"], dtype=torch.float64)
    q = student_t_assignment(features, centres, alpha=dec["alpha"])
    assert q.dtype == torch.float64
    torch.testing.assert_close(q, torch.tensor(dec["q"], dtype=torch.float64), rtol=0, atol=1e-6)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 3.0])
def test_student_t_equals_the_kernel_formula(alpha):
    features, centres = torch.randn(5, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    kernel = (1 + torch.cdist(features, centres).pow(2) / alpha).pow(-(alpha + 1) / 2)
    q = student_t_assignment(features, centres, alpha)
    torch.testing.assert_close(q, kernel / kernel.sum(dim=1, keepdim=True))
    torch.testing.assert_close(q.sum(dim=1), torch.ones(5, dtype=torch.float64))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_student_t_is_stable_where_the_kernel_underflows(dtype):
    alpha = 200.0  # the kernel (1 + d^2/alpha)^(-100.5) underflows to 0 at these distances
    features = torch.tensor([[5e3, 0.0], [0.0, -3e4]], dtype=dtype)
    centres = torch.tensor([[0.0, 0.0], [2e4, 0.0]], dtype=dtype)
    assert (1 + torch.cdist(features, centres).pow(2) / alpha).pow(-(alpha + 1) / 2).max() == 0
    q = student_t_assignment(features, centres, alpha)
    assert torch.isfinite(q).all()
    torch.testing.assert_close(q.sum(dim=1), torch.ones(2, dtype=dtype))
    assert q[0, 0] > 0.99 and q[1, 0] > 0.99  # the nearer centre wins


def test_student_t_rejects_mismatched_dims():
    with pytest.raises(ValueError, match="same dim"):
        student_t_assignment(torch.randn(3, 4), torch.randn(2, 5))


def test_clustering_head_forward_and_gradient_to_centres():
    head = ClusteringHead(in_features=8, num_clusters=3)
    assert head.centres.shape == (3, 8) and head.num_clusters == 3
    q = head(torch.randn(5, 8))
    assert q.shape == (5, 3)
    q[:, 0].sum().backward()
    assert head.centres.grad is not None and head.centres.grad.abs().sum() > 0


def _two_blobs(n: int = 20, dim: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    offset = torch.zeros(dim)
    offset[0] = 10.0
    blobs = torch.cat([torch.randn(n, dim, generator=generator) * 0.1 - offset,
                       torch.randn(n, dim, generator=generator) * 0.1 + offset])
    return blobs, torch.tensor([0] * n + [1] * n)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_initialise_centres_recovers_two_blobs(dtype):
    features, truth = _two_blobs()
    head = ClusteringHead(in_features=4, num_clusters=2).to(dtype)
    labels = head.initialise_centres(features.to(dtype), seed=0, n_init=2)
    assert labels.dtype == torch.long and labels.shape == (40,)
    assert (labels == truth).all() or (labels == 1 - truth).all()
    assert head.centres.dtype == dtype and head.centres.requires_grad
    means = torch.stack([features[truth == 0].mean(0), features[truth == 1].mean(0)]).to(dtype)
    order = [labels[0].item(), labels[-1].item()]
    torch.testing.assert_close(head.centres.detach()[order], means, atol=1e-4, rtol=0)
    assert (head(features.to(dtype)).argmax(dim=1) == labels).all()


def test_initialise_centres_rejects_wrong_feature_dim():
    with pytest.raises(ValueError, match=r"\(points, 4\)"):
        ClusteringHead(in_features=4, num_clusters=2).initialise_centres(torch.randn(10, 5))


@pytest.mark.parametrize("bad", [{"num_clusters": 0}, {"alpha": 0.0}])
def test_clustering_head_rejects_bad_arguments(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        ClusteringHead(**{"in_features": 4, "num_clusters": 2, **bad})
