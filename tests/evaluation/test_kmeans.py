"""k-means backends agree, and nearest_centre matches a brute-force search."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from monai_debclust.evaluation import cluster_accuracy, faiss_available, kmeans, nearest_centre


@pytest.mark.skipif(not faiss_available(), reason="faiss-cpu is not installed")
def test_sklearn_and_faiss_backends_agree_on_separable_blobs():
    x, y = make_blobs(n_samples=400, centers=4, n_features=8, cluster_std=0.3, random_state=0)
    centres_sk, labels_sk = kmeans(x, 4, backend="sklearn", n_init=3)
    centres_fa, labels_fa = kmeans(x, 4, backend="faiss", n_init=3)
    assert cluster_accuracy(labels_sk, labels_fa) == 1.0  # same partition up to permutation
    assert cluster_accuracy(y, labels_sk) == 1.0
    order = np.argsort(centres_fa[:, 0]), np.argsort(centres_sk[:, 0])
    assert np.allclose(centres_fa[order[0]], centres_sk[order[1]], atol=1e-3)


def test_nearest_centre_matches_brute_force_across_chunks():
    rng = np.random.default_rng(0)
    x, centres = rng.normal(size=(103, 5)), rng.normal(size=(7, 5))
    labels, distances = nearest_centre(x, centres, chunk_size=10)
    all_distances = np.linalg.norm(x[:, None, :] - centres[None, :, :], axis=2)
    assert labels.tolist() == all_distances.argmin(1).tolist()
    assert np.allclose(distances, all_distances.min(1), atol=1e-4)


def test_kmeans_rejects_too_many_clusters():
    with pytest.raises(ValueError, match="num_clusters"):
        kmeans(np.zeros((3, 2)), 4)
