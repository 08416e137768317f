"""Model Zoo packaging: export a trained bundle, verify it offline, publish it in a zoo index, download it safely.

A bundle runs only config code that the installed package shipped: its configs are compared with
the packaged template its metadata names (:mod:`~monai_debclust.zoo.provenance`).
"""

from monai_debclust.zoo.archive import ArchiveError, bundle_folder_of, safe_extract, sha256_file, zip_folder
from monai_debclust.zoo.export import ExportResult, export_bundle
from monai_debclust.zoo.metadata import SCHEMA_FILE, MetadataError, check_metadata, schema_errors
from monai_debclust.zoo.provenance import (
    Difference,
    Provenance,
    ProvenanceError,
    check_provenance,
    config_differences,
    is_plain,
    read_provenance,
)
from monai_debclust.zoo.templates import (
    CONFIG_OVERRIDES,
    TEMPLATE_KEY,
    ExportError,
    exported_config,
    template_folder,
    template_names,
)

__all__ = [
    "ArchiveError",
    "CONFIG_OVERRIDES",
    "Difference",
    "ExportError",
    "ExportResult",
    "MetadataError",
    "Provenance",
    "ProvenanceError",
    "SCHEMA_FILE",
    "TEMPLATE_KEY",
    "bundle_folder_of",
    "check_metadata",
    "check_provenance",
    "config_differences",
    "export_bundle",
    "exported_config",
    "is_plain",
    "read_provenance",
    "safe_extract",
    "schema_errors",
    "sha256_file",
    "template_folder",
    "template_names",
    "zip_folder",
]
