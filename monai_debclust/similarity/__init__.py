"""Similarity of images and feature vectors: k-means, nearest neighbours (faiss), content hashes,
pixel signatures and duplicate groups.

A low package: :mod:`~monai_debclust.networks`, :mod:`~monai_debclust.evaluation` and
:mod:`~monai_debclust.archive` all import it, and it imports none of them.
"""

from monai_debclust.similarity.duplicates import (
    DEFAULT_THRESHOLD,
    DuplicateGroups,
    connected_groups,
    group_duplicates,
    join_groups,
    label_conflicts,
)
from monai_debclust.similarity.kmeans import faiss_available, kmeans, nearest_centre
from monai_debclust.similarity.neighbours import (
    EXACT_SEARCH_LIMIT,
    build_index,
    near_duplicate_pairs,
    top_k_neighbours,
    unit_rows,
)
from monai_debclust.similarity.pixel_groups import default_cache_dir, groups_cache_key, pixel_duplicate_groups
from monai_debclust.similarity.signature import (
    DEFAULT_SIGNATURE_SIZE,
    as_feature_matrix,
    content_hash,
    pixel_signature,
    pixel_signatures,
)

__all__ = [
    "DEFAULT_SIGNATURE_SIZE",
    "DEFAULT_THRESHOLD",
    "EXACT_SEARCH_LIMIT",
    "DuplicateGroups",
    "as_feature_matrix",
    "build_index",
    "connected_groups",
    "faiss_available",
    "kmeans",
    "nearest_centre",
    "content_hash",
    "default_cache_dir",
    "group_duplicates",
    "groups_cache_key",
    "join_groups",
    "label_conflicts",
    "near_duplicate_pairs",
    "pixel_duplicate_groups",
    "pixel_signature",
    "pixel_signatures",
    "top_k_neighbours",
    "unit_rows",
]
