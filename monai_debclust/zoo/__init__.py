"""Model Zoo packaging: export a trained bundle, verify it offline, publish it in a zoo index, download it safely."""

from monai_debclust.zoo.archive import ArchiveError, bundle_folder_of, safe_extract, sha256_file, zip_folder
from monai_debclust.zoo.expressions import ALLOWED_MODULES, Finding, audit_bundle, audit_configs
from monai_debclust.zoo.export import CONFIG_OVERRIDES, ExportError, ExportResult, export_bundle, exported_config
from monai_debclust.zoo.metadata import SCHEMA_FILE, MetadataError, check_metadata, schema_errors

__all__ = [
    "ALLOWED_MODULES",
    "ArchiveError",
    "CONFIG_OVERRIDES",
    "ExportError",
    "ExportResult",
    "Finding",
    "MetadataError",
    "SCHEMA_FILE",
    "audit_bundle",
    "audit_configs",
    "bundle_folder_of",
    "check_metadata",
    "export_bundle",
    "exported_config",
    "safe_extract",
    "schema_errors",
    "sha256_file",
    "zip_folder",
]
