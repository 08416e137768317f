"""Nearest neighbours by cosine similarity with faiss: exact for small sets, approximate indexes for large ones.

Rows are scaled to unit length, so the inner product is the cosine similarity (and, for
:func:`~monai_debclust.similarity.signature.pixel_signature` rows, the Pearson correlation).
Up to ``exact_limit`` rows every search is exhaustive (``faiss.IndexFlatIP``: ``N^2 D`` flops,
about a minute for 10^5 x 128 on two busy cores). Past it:

* the **near-duplicate range search** uses an inverted-file index (``faiss.IndexIVFFlat``, Jégou
  et al., TPAMI 2011): ``4 sqrt(N)`` k-means cells, each row compared with the rows of its
  ``probes`` nearest cells. A copy at cosine >= 0.99 lies in the row's own cell or, at a border,
  the next one, so two probes find them all (``tests/similarity/test_duplicates.py`` checks this
  against the exact search);
* the **top-k search** uses a navigable small-world graph (``faiss.IndexHNSWFlat``, Malkov and
  Yashunin, TPAMI 2018), whose ``ef_search`` trades time for recall; on model-like embeddings it
  is about twice as fast as the inverted lists at the same recall (``benchmarks/curation.py``).
"""

from __future__ import annotations

import numpy as np
import torch

from monai_debclust.similarity.signature import as_feature_matrix

__all__ = ["EXACT_SEARCH_LIMIT", "build_index", "near_duplicate_pairs", "top_k_neighbours", "unit_rows"]

#: Up to this many rows the search is exact; past it, inverted lists.
EXACT_SEARCH_LIMIT = 50_000
#: Inverted-file cells searched per row by the near-duplicate range search.
DEFAULT_PROBES = 2
#: Rows per cell k-means trains on (faiss' default is 256; fewer keep training cheap at 10^6).
TRAINING_ROWS_PER_CELL = 64
#: k-means iterations of the inverted-file training (faiss' default is 25; the cells need not be optimal).
TRAINING_ITERATIONS = 10
#: Graph neighbours per node of the top-k index (HNSW's ``M``).
GRAPH_DEGREE = 16
#: Candidates kept while the top-k graph is built (HNSW's ``efConstruction``).
GRAPH_BUILD_DEPTH = 40
#: Candidates kept per top-k query (HNSW's ``efSearch``): recall@5 >= 0.95 at 10^5 model-like rows.
DEFAULT_EF_SEARCH = 16


def unit_rows(features: np.ndarray | torch.Tensor) -> np.ndarray:
    """``features`` as float32 rows of unit length (a zero row stays zero)."""
    x = as_feature_matrix(features)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def build_index(vectors: np.ndarray, exact_limit: int = EXACT_SEARCH_LIMIT, probes: int = DEFAULT_PROBES):
    """A faiss inner-product index holding the unit ``vectors`` for range searches: flat up to
    ``exact_limit`` rows, else ``IndexIVFFlat`` with ``4 sqrt(N)`` cells of which ``probes`` are searched."""
    import faiss

    if len(vectors) <= exact_limit:
        index = faiss.IndexFlatIP(vectors.shape[1])
    else:
        cells = max(1, min(int(4 * np.sqrt(len(vectors))), len(vectors) // 39))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(vectors.shape[1]), vectors.shape[1], cells,
                                   faiss.METRIC_INNER_PRODUCT)
        index.cp.max_points_per_centroid = TRAINING_ROWS_PER_CELL
        index.cp.seed = 0
        index.cp.niter = TRAINING_ITERATIONS
        index.train(vectors)
        index.nprobe = max(1, min(probes, cells))
    index.add(vectors)
    return index


def _top_k_index(vectors: np.ndarray, exact_limit: int, ef_search: int):
    """A faiss inner-product index for top-k searches: flat up to ``exact_limit`` rows, else HNSW."""
    import faiss

    if len(vectors) <= exact_limit:
        index = faiss.IndexFlatIP(vectors.shape[1])
    else:
        index = faiss.IndexHNSWFlat(vectors.shape[1], GRAPH_DEGREE, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = GRAPH_BUILD_DEPTH
        index.hnsw.efSearch = ef_search
    index.add(vectors)
    return index


def top_k_neighbours(
    features: np.ndarray | torch.Tensor,
    k: int,
    queries: np.ndarray | torch.Tensor | None = None,
    exact_limit: int = EXACT_SEARCH_LIMIT,
    ef_search: int = DEFAULT_EF_SEARCH,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``features`` most cosine-similar to each query, best first.

    Args:
        features: ``(N, D)`` items to search.
        k: neighbours per query.
        queries: ``(M, D)`` query rows; None queries every item with the item itself left out.
        exact_limit: largest ``N`` searched exhaustively; past it, an HNSW graph.
        ef_search: candidates kept per query past ``exact_limit`` (more: better recall, slower;
            raised to ``k + 1`` where smaller).

    Returns:
        ``(similarity, index)``, both ``(M, k)``; ``index`` is ``-1`` (and ``similarity`` ``-inf``)
        where fewer than ``k`` neighbours exist.
    """
    x = unit_rows(features)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")
    self_search = queries is None
    q = x if self_search else unit_rows(queries)
    if q.shape[1] != x.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} dims, the items {x.shape[1]}.")
    asked = k + 1 if self_search else k
    index = _top_k_index(x, exact_limit, max(ef_search, asked))
    similarity, neighbour = index.search(q, min(asked, len(x)))
    if self_search:  # drop each row's own entry (for exact copies it need not come first)
        own = neighbour == np.arange(len(q))[:, None]
        own[~own.any(axis=1), -1] = True  # rows whose self was not returned lose their worst neighbour
        keep = ~own
        similarity = similarity[keep].reshape(len(q), -1)
        neighbour = neighbour[keep].reshape(len(q), -1)
    found = neighbour.shape[1]
    if found < k:
        neighbour = np.pad(neighbour, ((0, 0), (0, k - found)), constant_values=-1)
        similarity = np.pad(similarity, ((0, 0), (0, k - found)), constant_values=-np.inf)
    similarity[neighbour < 0] = -np.inf
    return similarity, neighbour.astype(np.int64)


def near_duplicate_pairs(
    features: np.ndarray | torch.Tensor,
    threshold: float,
    exact_limit: int = EXACT_SEARCH_LIMIT,
    probes: int = DEFAULT_PROBES,
    chunk_size: int = 8192,
) -> tuple[np.ndarray, np.ndarray]:
    """Every pair ``i < j`` of rows whose cosine similarity is at least ``threshold``.

    A range search: exact up to ``exact_limit`` rows, past it over each row's ``probes`` nearest
    inverted-list cells (a copy of a row lies in the row's own cell but for rounding at a cell's
    border, which the next-nearest cells cover).

    Args:
        features: ``(N, D)`` pixel signatures or embeddings.
        threshold: in ``(0, 1]``.
        exact_limit: largest ``N`` searched exhaustively.
        probes: cells searched per row past ``exact_limit``.
        chunk_size: query rows per range search, bounding its memory.

    Returns:
        ``(pairs, similarity)``: ``(P, 2)`` int64 with ``i < j``, sorted, and ``(P,)`` float32.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"the near-duplicate threshold must be in (0, 1], got {threshold}.")
    x = unit_rows(features)
    if len(x) < 2:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.float32)
    # float32 rounding puts a row's similarity with its copy a few ulps under 1
    radius = threshold - 1e-6
    index = build_index(x, exact_limit, probes)
    rows, columns, values = [], [], []
    for start in range(0, len(x), chunk_size):
        limits, similarity, neighbour = index.range_search(x[start : start + chunk_size], radius)
        rows.append(start + np.repeat(np.arange(len(limits) - 1), np.diff(limits).astype(np.int64)))
        columns.append(neighbour)
        values.append(similarity)
    i, j, s = np.concatenate(rows), np.concatenate(columns).astype(np.int64), np.concatenate(values)
    other = i != j  # each pair is found from both sides (or, approximately, from one), and every row finds itself
    ordered = np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1)[other]
    pairs, first = np.unique(ordered.reshape(-1, 2), axis=0, return_index=True)
    return pairs.reshape(-1, 2).astype(np.int64), np.minimum(s[other][first], 1.0).astype(np.float32)
