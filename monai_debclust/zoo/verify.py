"""Check a bundle folder the way the Model Zoo's CI checks a submission, offline, running only the package's code.

:func:`verify_bundle` runs, in order, and reports each check with its reason:

1. ``files``: the files a Zoo bundle of this package must have (:data:`REQUIRED_FILES`);
2. ``metadata``: ``configs/metadata.json`` against the shipped schema (MONAI's ``verify_metadata``,
   nothing downloaded) and the Zoo's rule that the changelog holds the version;
3. ``large files``: each file of ``large_files.yml`` is there with its hash;
4. ``provenance``: the configs hold only the code of the packaged template the metadata names
   (:mod:`~monai_debclust.zoo.provenance`): read as data, never parsed by MONAI;
5. ``weights``: ``models/model.pt`` loads weights-only into the network ``models/network.json`` describes;
6. ``network in/out``: MONAI's ``verify_net_in_out`` on that network;
7. ``TorchScript``: MONAI's ``ckpt_export`` (traced) of that network into a temporary folder,
   ``torch.jit.load``, the same output as the eager network; a shipped ``models/model.ts`` (a
   TorchScript program) is loaded and compared only with ``trust=True``;
8. ``inference``: the packaged template's inference workflow on the bundle's weights and a few
   generated images.

Checks 5 to 8 run the package's own code (:mod:`~monai_debclust.zoo.package_configs`): the
network is rebuilt from ``models/network.json`` by the package's validated builder, and MONAI's
functions get configs the package writes; the bundle's configs are never parsed or run. With
``trust=True`` the provenance differences are notices instead of failures. Nothing is written
inside the bundle folder.
"""

from __future__ import annotations

import csv
import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch
import yaml
from monai.bundle import ConfigWorkflow
from PIL import Image

from monai_debclust.bundle.outputs import load_trained_network
from monai_debclust.errors import user_error
from monai_debclust.networks import SoftAssignmentNet
from monai_debclust.zoo.metadata import SCHEMA_FILE, check_metadata
from monai_debclust.zoo.package_configs import export_torchscript, network_in_out, write_inference_bundle
from monai_debclust.zoo.provenance import Provenance, is_plain, read_provenance

__all__ = ["REQUIRED_FILES", "Check", "VerifyReport", "verify_bundle"]

REQUIRED_FILES = (
    "configs/metadata.json", "configs/inference.json", "configs/train.json", "configs/evaluate.json",
    "configs/logging.conf", "models/model.pt", "models/network.json", "docs/README.md", "LICENSE",
)
#: Images of the generated archive the inference check clusters.
GENERATED_IMAGES = 4
#: Largest difference allowed between the TorchScript and the eager network's soft assignments.
TORCHSCRIPT_TOLERANCE = 1e-5
#: Plain settings that differ from the template listed by name in the provenance check.
SHOWN_SETTINGS = 8
#: Prefixes of the metadata's settings, counted rather than listed.
METADATA_FILES = ("configs/metadata.json#", "metadata.json#")


@dataclass(frozen=True)
class Check:
    """The outcome of one check: ``status`` is ``pass``, ``fail``, ``warn`` (a notice) or ``skip``."""

    name: str
    status: str
    detail: str


@dataclass
class VerifyReport:
    """Every check of a bundle, and its comparison with the template behind the ``provenance`` check."""

    bundle: Path
    checks: list[Check] = field(default_factory=list)
    provenance: Provenance | None = None

    @property
    def passed(self) -> bool:
        """True when no check failed."""
        return all(check.status != "fail" for check in self.checks)

    def format(self) -> str:
        """The report as a user reads it: one line per check, differences and multi-line reasons indented."""
        lines = [f"Verifying bundle {self.bundle}"]
        for check in self.checks:
            first, *rest = check.detail.splitlines() or [""]
            lines.append(f"  {check.status.upper():<4}  {check.name}: {first}")
            lines.extend(f"          {line}" for line in rest)
        failed = [check.name for check in self.checks if check.status == "fail"]
        lines.append(f"verify: {len(failed)} check(s) failed: {', '.join(failed)}" if failed
                     else f"verify: all {len(self.checks)} checks passed or noted")
        return "\n".join(lines)


def _reason(exc: BaseException) -> str:
    cause = user_error(exc) or exc
    text = str(cause).strip()
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__

def _files(bundle: Path) -> Check:
    missing = [name for name in REQUIRED_FILES if not (bundle / name).is_file()]
    if missing:
        return Check("files", "fail", "missing: " + ", ".join(missing))
    optional = "models/model.ts present" if (bundle / "models" / "model.ts").is_file() else "no models/model.ts"
    return Check("files", "pass", f"{len(REQUIRED_FILES)} required files present; {optional}")


def _metadata(bundle: Path) -> Check:
    try:
        check_metadata(bundle / "configs" / "metadata.json")
    except Exception as exc:
        return Check("metadata", "fail", str(exc))
    meta = json.loads((bundle / "configs" / "metadata.json").read_text(encoding="utf-8"))
    return Check("metadata", "pass", f"version {meta['version']} (in the changelog), valid against the shipped "
                                     f"schema {SCHEMA_FILE.name}")


def _large_files(bundle: Path) -> Check:
    listing = next((bundle / name for name in ("large_files.yml", "large_files.yaml", "large_files.json")
                    if (bundle / name).is_file()), None)
    if listing is None:
        return Check("large files", "pass", "none listed (no large_files.yml)")
    entries = (yaml.safe_load(listing.read_text(encoding="utf-8")) or {}).get("large_files", [])
    problems = []
    for entry in entries:
        relative = PurePosixPath(str(entry.get("path", "")))
        path = bundle / relative
        if relative.is_absolute() or ".." in relative.parts:
            problems.append(f"{relative}: path outside the bundle")
        elif not path.is_file():
            problems.append(f"{relative}: missing (download it from {entry.get('url') or 'its url'})")
        elif entry.get("hash_val"):
            digest = hashlib.new(entry.get("hash_type", "md5"), path.read_bytes()).hexdigest()
            if digest != entry["hash_val"]:
                problems.append(f"{relative}: {entry.get('hash_type', 'md5')} {digest}, listed {entry['hash_val']}")
    if problems:
        return Check("large files", "fail", "\n".join(problems))
    return Check("large files", "pass", f"{len(entries)} listed in {listing.name}, present with matching hashes")


def _provenance(bundle: Path, report: VerifyReport, trust: bool) -> Check:
    provenance = report.provenance = read_provenance(bundle)
    metadata = [setting for setting in provenance.settings if setting.startswith(METADATA_FILES)]
    settings = [setting for setting in provenance.settings if setting not in metadata]
    shown = ", ".join(settings[:SHOWN_SETTINGS]) + (f" and {len(settings) - SHOWN_SETTINGS} more"
                                                   if len(settings) > SHOWN_SETTINGS else "")
    noted = (f"; plain settings changed: {shown}" if settings else "; no setting changed") + (
        f"; {len(metadata)} plain metadata value(s) differ (an export sets the version, metrics and input)"
        if metadata else "")
    if not provenance.differences:
        return Check("provenance", "pass", f"the configs hold only the code of the packaged template "
                                           f"{provenance.template} ({provenance.layout} layout){noted}")
    count = len(provenance.differences)
    listing = "\n".join(str(difference) for difference in provenance.differences)
    template = f"the template {provenance.template}" if provenance.template else "any packaged template"
    if trust:
        return Check("provenance", "warn", f"{count} difference(s) from {template}, accepted with --trust; "
                                           f"the checks below run the package's code, not these:\n{listing}")
    return Check("provenance", "fail", f"{count} difference(s) from {template}: code monai-debclust did not ship "
                                       f"(read it; --trust accepts it):\n{listing}")


def _weights(bundle: Path) -> Check:
    try:
        network = load_trained_network(bundle / "models" / "model.pt")
    except Exception as exc:
        return Check("weights", "fail", _reason(exc))
    count = sum(parameter.numel() for parameter in network.parameters())
    return Check("weights", "pass", f"models/model.pt loads weights-only into {type(network).__name__} "
                                    f"({count} parameters) described by models/network.json")


def _input_shape(metadata: dict[str, Any]) -> tuple[int, ...]:
    image = metadata["network_data_format"]["inputs"]["image"]
    shape = (1, image["num_channels"], *image["spatial_shape"])
    if not all(isinstance(size, int) and not isinstance(size, bool) and size > 0 for size in shape):
        raise ValueError(f"network_data_format#inputs#image gives the input shape {shape}, not positive integers.")
    return shape


def _network_in_out(bundle: Path, meta_file: Path, metadata: dict[str, Any]) -> Check:
    try:
        network_in_out(bundle, meta_file)
        shape = _input_shape(metadata)
    except Exception as exc:
        return Check("network in/out", "fail", _reason(exc))
    return Check("network in/out", "pass", f"verify_net_in_out: the network of models/network.json maps {shape} to "
                                           "the output channels and dtype of metadata outputs.pred")


def _torchscript(bundle: Path, meta_file: Path, metadata: dict[str, Any], trust: bool) -> Check:
    shipped = bundle / "models" / "model.ts"
    with tempfile.TemporaryDirectory() as folder:
        exported = Path(folder) / "verify_model.ts"
        try:
            export_torchscript(bundle, meta_file, exported)
        except Exception as exc:
            status = "fail" if shipped.is_file() else "warn"
            return Check("TorchScript", status, f"ckpt_export cannot trace the network ({_reason(exc)}); "
                                                + ("yet models/model.ts is shipped" if shipped.is_file()
                                                   else "the bundle ships no models/model.ts"))
        network = SoftAssignmentNet(load_trained_network(bundle / "models" / "model.pt")).eval()
        image = torch.rand(_input_shape(metadata), generator=torch.Generator().manual_seed(0))
        loaded = [exported, shipped] if trust and shipped.is_file() else [exported]
        with torch.no_grad():
            expected = network(image)
            differences = {path.name: (torch.jit.load(str(path), map_location="cpu")(image) - expected).abs().max().item()
                           for path in loaded}
    worst = max(differences.values())
    detail = ", ".join(f"{name} max |q - q_eager| = {value:.2e}" for name, value in differences.items())
    if shipped.is_file() and not trust:
        detail += "; the shipped models/model.ts is a TorchScript program, not loaded (--trust loads and compares it)"
    if worst > TORCHSCRIPT_TOLERANCE:
        return Check("TorchScript", "fail", f"TorchScript output differs from the eager network: {detail}")
    return Check("TorchScript", "pass", f"ckpt_export (traced) and torch.jit.load: {detail}")


def _generated_archive(folder: Path, shape: tuple[int, ...]) -> list[str]:
    """Write :data:`GENERATED_IMAGES` random PNG images of ``shape`` (1, C, H, W) into ``folder``."""
    if len(shape) != 4 or shape[1] not in (1, 3):
        raise ValueError(f"cannot generate PNG images for the input shape {shape}.")
    channels, height, width = shape[1], shape[2], shape[3]
    generator = np.random.default_rng(0)
    names = []
    for index in range(GENERATED_IMAGES):
        pixels = generator.integers(0, 256, (height, width, channels), dtype=np.uint8)
        names.append(f"generated_{index}.png")
        Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels).save(folder / names[-1])
    return names


def _inference(bundle: Path, template: str, metadata: dict[str, Any]) -> Check:
    with tempfile.TemporaryDirectory() as folder:
        archive, output, copy = Path(folder) / "archive", Path(folder) / "run", Path(folder) / "bundle"
        archive.mkdir()
        try:
            names = _generated_archive(archive, _input_shape(metadata))
            config = write_inference_bundle(copy, template, metadata, bundle / "models")
            workflow = ConfigWorkflow(config_file=str(config), run_id="inference", workflow_type=None,
                                      bundle_root=str(copy), dataset_dir=str(archive), output_dir=str(output),
                                      layout="none", progress=False, num_workers=0)
            workflow.initialize()
            workflow.run()
            workflow.finalize()
            with open(output / "clustering" / "assignments.csv", newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
        except Exception as exc:
            return Check("inference", "fail", _reason(exc))
    if sorted(row["id"] for row in rows) != names:
        return Check("inference", "fail", f"assignments.csv lists {len(rows)} images, expected {names}")
    return Check("inference", "pass", f"the template {template}'s inference workflow on the bundle's weights: "
                                      f"{len(names)} generated images clustered, a row for each in assignments.csv "
                                      f"(clusters {sorted({row['cluster'] for row in rows})})")


def _running_checks(bundle: Path, report: VerifyReport, trust: bool) -> list[Check]:
    """Checks 6 to 8, or why they are skipped."""
    names = ("network in/out", "TorchScript", "inference")
    blocked = next((check for check in report.checks if check.name in ("files", "metadata", "weights")
                    and check.status == "fail"), None)
    if blocked is not None:
        return [Check(name, "skip", f"not run: the {blocked.name} check failed") for name in names]
    metadata = json.loads((bundle / "configs" / "metadata.json").read_text(encoding="utf-8"))
    if not is_plain(metadata):
        return [Check(name, "skip", "not run: configs/metadata.json holds code (see provenance)") for name in names]
    with tempfile.TemporaryDirectory() as folder:
        meta_file = Path(folder) / "metadata.json"  # the package's copy: plain data, checked above
        meta_file.write_text(json.dumps(metadata), encoding="utf-8")
        checks = [_network_in_out(bundle, meta_file, metadata), _torchscript(bundle, meta_file, metadata, trust)]
    template = report.provenance.template if report.provenance is not None else None
    checks.append(_inference(bundle, template, metadata) if template is not None else
                  Check("inference", "skip", "not run: no packaged template to run (the metadata names none)"))
    return checks


def verify_bundle(bundle_dir: str | Path, trust: bool = False) -> VerifyReport:
    """Verify the bundle folder ``bundle_dir`` (see the module docstring); nothing is downloaded or written in it.

    Args:
        bundle_dir: a Model Zoo shaped bundle folder (``configs/``, ``models/``, ``docs/``, ``LICENSE``).
        trust: accept config code that is not the template's (a notice instead of a failure) and load
            a shipped ``models/model.ts``.
    """
    bundle = Path(bundle_dir)
    report = VerifyReport(bundle)
    report.checks += [_files(bundle), _metadata(bundle), _large_files(bundle), _provenance(bundle, report, trust)]
    if not (bundle / "models" / "model.pt").is_file() or not (bundle / "models" / "network.json").is_file():
        report.checks.append(Check("weights", "skip", "no models/model.pt with models/network.json"))
        return report
    report.checks.append(_weights(bundle))
    report.checks += _running_checks(bundle, report, trust)
    return report
