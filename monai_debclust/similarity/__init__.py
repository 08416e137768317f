"""Similarity of feature vectors: k-means clustering and the nearest centre (faiss for large sets).

A low package: :mod:`~monai_debclust.networks`, :mod:`~monai_debclust.evaluation` and
:mod:`~monai_debclust.archive` all import it, and it imports none of them.
"""

from monai_debclust.similarity.kmeans import faiss_available, kmeans, nearest_centre

__all__ = ["faiss_available", "kmeans", "nearest_centre"]
