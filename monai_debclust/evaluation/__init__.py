"""Evaluation of monai-debclust: cluster-to-class matching, cluster metrics, probes (k-means: similarity)."""

from monai_debclust.similarity.kmeans import faiss_available, kmeans, nearest_centre
from monai_debclust.evaluation.matching import (
    UNKNOWN_LABEL,
    as_labels,
    cluster_accuracy,
    contingency_table,
    labelled_pairs,
    match_clusters,
    relabel,
)
from monai_debclust.evaluation.metrics import cluster_report, format_report
from monai_debclust.evaluation.protocols import (
    PROTOCOLS,
    clustering_row,
    evaluate_protocols,
    linear_classifier_predict,
    protocol_scores,
)
from monai_debclust.evaluation.probes import knn_cross_validate, knn_predict, linear_probe, stratified_subsample

__all__ = [
    "faiss_available",
    "kmeans",
    "nearest_centre",
    "UNKNOWN_LABEL",
    "as_labels",
    "cluster_accuracy",
    "contingency_table",
    "labelled_pairs",
    "match_clusters",
    "relabel",
    "cluster_report",
    "format_report",
    "PROTOCOLS",
    "clustering_row",
    "evaluate_protocols",
    "linear_classifier_predict",
    "protocol_scores",
    "knn_cross_validate",
    "knn_predict",
    "linear_probe",
    "stratified_subsample",
]
