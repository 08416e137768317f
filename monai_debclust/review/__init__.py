"""Reviewing a clustering run: the interactive report page and the labels its review gives."""

from monai_debclust.review.embedding_map import MAP_METHODS, embedding_map_2d
from monai_debclust.review.labels import (
    REVIEW_FORMAT,
    read_review,
    resolve_merges,
    review_labels,
    run_assignments,
    write_review_labels,
)
from monai_debclust.review.page import FLAG_BITS, render_review_page, review_page_data
from monai_debclust.review.thumbnails import THUMBNAIL_DIR, THUMBNAIL_SIZE, ensure_thumbnails, thumbnail

__all__ = ["FLAG_BITS", "MAP_METHODS", "REVIEW_FORMAT", "THUMBNAIL_DIR", "THUMBNAIL_SIZE", "embedding_map_2d",
           "ensure_thumbnails", "read_review", "render_review_page", "resolve_merges", "review_labels",
           "review_page_data", "run_assignments", "thumbnail", "write_review_labels"]
