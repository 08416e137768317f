"""Reviewing a clustering run: the interactive report page and the labels its review gives."""

from monai_debclust.review.labels import (
    REVIEW_FORMAT,
    read_review,
    resolve_merges,
    review_labels,
    run_assignments,
    write_review_labels,
)

__all__ = ["REVIEW_FORMAT", "read_review", "resolve_merges", "review_labels", "run_assignments",
           "write_review_labels"]
