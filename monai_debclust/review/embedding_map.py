"""The 2-D map of a run's embeddings for the interactive report: UMAP, else t-SNE, else PCA.

UMAP (McInnes et al., 2018, "UMAP: Uniform Manifold Approximation and Projection",
arXiv:1802.03426; the optional ``umap-learn`` package) keeps local neighbourhoods and scales to
10^5 points; without it t-SNE (van der Maaten & Hinton, 2008) is used up to
:data:`TSNE_MAX_POINTS` points, and beyond that the first two principal components. The method
is returned with the map so the page can name it.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings

import numpy as np

from monai_debclust.evaluation.plots import pca_2d
from monai_debclust.similarity import top_k_neighbours

__all__ = ["MAP_METHODS", "PLACEMENT_NEIGHBOURS", "TSNE_MAX_POINTS", "UMAP_MAX_POINTS", "UMAP_NEIGHBOURS",
           "embedding_map_2d"]

logger = logging.getLogger(__name__)

#: The methods by name, as the page names them.
MAP_METHODS = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA (first two principal components)"}
#: t-SNE (exact neighbours, O(N log N) Barnes-Hut) is used without umap-learn up to this many points.
TSNE_MAX_POINTS = 5_000
#: UMAP is fitted on at most this many points (a uniform sample); each other point is placed at the
#: similarity-weighted mean of its :data:`PLACEMENT_NEIGHBOURS` nearest fitted points (where UMAP's own
#: ``transform`` starts, at a fraction of its cost: fitting 10^4 points takes minutes on two cores).
UMAP_MAX_POINTS = 20_000
PLACEMENT_NEIGHBOURS = 5
#: UMAP's ``n_neighbors``, its default.
UMAP_NEIGHBOURS = 15


def _unit(embeddings: np.ndarray) -> np.ndarray:
    x = np.asarray(embeddings, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _knn_graph(x: np.ndarray, neighbours: int) -> tuple[np.ndarray, np.ndarray, None]:
    """UMAP's ``precomputed_knn`` of unit rows ``x``: each row itself first, then its nearest by faiss.

    UMAP would otherwise find them itself, with a pairwise-distance pass under 4,096 points that
    takes minutes on two cores; the Euclidean distance of unit rows is ``sqrt(2 - 2 cos)``.
    """
    similarity, nearest = top_k_neighbours(x, neighbours - 1)
    own = np.arange(len(x))[:, None]
    indices = np.concatenate([own, nearest], axis=1)
    distances = np.sqrt(np.clip(2.0 - 2.0 * np.concatenate([np.ones_like(own, dtype=np.float32), similarity], axis=1),
                                0.0, None)).astype(np.float32)
    return indices.astype(np.int32), distances, None


def embedding_map_2d(embeddings: np.ndarray, method: str = "auto", seed: int = 0) -> tuple[np.ndarray, str]:
    """``((N, 2) float32 map, method)`` of ``(N, D)`` embeddings (compared by cosine similarity).

    Args:
        embeddings: one row per image.
        method: ``"umap"``, ``"tsne"``, ``"pca"`` or ``"auto"`` (UMAP when umap-learn is installed,
            else t-SNE up to :data:`TSNE_MAX_POINTS` points, else PCA).
        seed: random state of UMAP / t-SNE.
    """
    if method not in ("auto", *MAP_METHODS):
        raise ValueError(f"unknown map method {method!r}; expected auto, {', '.join(MAP_METHODS)}.")
    x = _unit(embeddings)
    n = len(x)
    if method == "auto":
        method = ("umap" if importlib.util.find_spec("umap") is not None else
                  "tsne" if n <= TSNE_MAX_POINTS else "pca")
    if n < 5:  # too few points for a neighbour graph
        method = "pca"
    if method == "umap":
        import umap

        rows = np.arange(n)
        if n > UMAP_MAX_POINTS:
            rows = np.sort(np.random.default_rng(seed).choice(n, UMAP_MAX_POINTS, replace=False))
        neighbours = min(UMAP_NEIGHBOURS, len(rows) - 1)
        reducer = umap.UMAP(n_components=2, n_neighbors=neighbours, metric="euclidean", random_state=seed,
                            n_jobs=1, precomputed_knn=_knn_graph(x[rows], neighbours))
        points = np.empty((n, 2), dtype=np.float32)
        with warnings.catch_warnings():  # no search index is passed: the map never calls UMAP's transform
            warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
            points[rows] = reducer.fit_transform(x[rows])
        if len(rows) < n:
            rest = np.setdiff1d(np.arange(n), rows)
            similarity, nearest = top_k_neighbours(x[rows], PLACEMENT_NEIGHBOURS, queries=x[rest])
            weights = np.clip(similarity, 1e-6, None)
            points[rest] = (weights[..., None] * points[rows][nearest]).sum(axis=1) / weights.sum(axis=1, keepdims=True)
        return points, method
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, max(2.0, (n - 1) / 3)))
        points = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
        return points.astype(np.float32), method
    return pca_2d(x).astype(np.float32), "pca"
