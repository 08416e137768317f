"""Check a bundle folder the way the Model Zoo's CI checks a submission, offline, and say what it runs.

:func:`verify_bundle` runs, in order, and reports each check with its reason:

1. ``files``: the files a Zoo bundle of this package must have (:data:`REQUIRED_FILES`);
2. ``metadata``: ``configs/metadata.json`` against the shipped schema (MONAI's ``verify_metadata``,
   nothing downloaded) and the Zoo's rule that the changelog holds the version;
3. ``large files``: each file of ``large_files.yml`` is there with its hash;
4. ``expressions``: every ``$`` expression and ``_target_`` that reaches code outside ``monai``,
   ``monai_debclust``, ``torch``, ``numpy`` and the standard library, or dynamic or system code
   (:mod:`~monai_debclust.zoo.expressions`), read as text;
5. ``weights``: ``models/model.pt`` loads weights-only into the network ``models/network.json`` describes;
6. ``network in/out``: MONAI's ``verify_net_in_out`` on the inference config's ``network_def``;
7. ``TorchScript``: MONAI's ``ckpt_export`` (traced) into a temporary folder, ``torch.jit.load``,
   the same output as ``network_def``; a shipped ``models/model.ts`` is loaded and compared too;
8. ``inference``: the bundle's ``inference`` workflow on a few generated images.

Checks 6 to 8 run the bundle's inference config, that is its code: they are skipped when check 4
found a problem, unless ``trust=True``. Nothing is written inside the bundle folder.
"""

from __future__ import annotations

import csv
import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import torch
import yaml
from monai.bundle import ConfigParser, ConfigWorkflow, ckpt_export, verify_net_in_out
from PIL import Image

from monai_debclust.bundle.outputs import load_trained_network
from monai_debclust.errors import user_error
from monai_debclust.zoo.expressions import Finding, audit_bundle
from monai_debclust.zoo.metadata import SCHEMA_FILE, check_metadata

__all__ = ["REQUIRED_FILES", "Check", "VerifyReport", "verify_bundle"]

REQUIRED_FILES = (
    "configs/metadata.json", "configs/inference.json", "configs/train.json", "configs/evaluate.json",
    "configs/logging.conf", "models/model.pt", "models/network.json", "docs/README.md", "LICENSE",
)
#: Images of the generated archive the inference check clusters.
GENERATED_IMAGES = 4
#: Largest difference allowed between the TorchScript and the eager network's soft assignments.
TORCHSCRIPT_TOLERANCE = 1e-5


@dataclass(frozen=True)
class Check:
    """The outcome of one check: ``status`` is ``pass``, ``fail``, ``warn`` (a notice) or ``skip``."""

    name: str
    status: str
    detail: str


@dataclass
class VerifyReport:
    """Every check of a bundle, and the expression findings behind the ``expressions`` check."""

    bundle: Path
    checks: list[Check] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when no check failed."""
        return all(check.status != "fail" for check in self.checks)

    def format(self) -> str:
        """The report as a user reads it: one line per check, findings and multi-line reasons indented."""
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


def _expressions(bundle: Path, report: VerifyReport) -> Check:
    findings, count = audit_bundle(bundle)
    report.findings = findings
    problems = [finding for finding in findings if finding.is_problem]
    summary = (f"{count} expressions and _target_s read; {len(findings)} reach code outside monai, monai_debclust, "
               "torch, numpy and the standard library, or dynamic or system code")
    listing = "\n".join(str(finding) for finding in findings)
    if problems:
        return Check("expressions", "fail", f"{summary} ({len(problems)} problem{'s' if len(problems) > 1 else ''}):\n{listing}")
    if findings:
        return Check("expressions", "warn", f"{summary} (notices only):\n{listing}")
    return Check("expressions", "pass", f"{count} expressions and _target_s read; all stay within monai, "
                                        "monai_debclust, torch, numpy and the standard library")


def _weights(bundle: Path) -> Check:
    try:
        network = load_trained_network(bundle / "models" / "model.pt")
    except Exception as exc:
        return Check("weights", "fail", _reason(exc))
    count = sum(parameter.numel() for parameter in network.parameters())
    return Check("weights", "pass", f"models/model.pt loads weights-only into {type(network).__name__} "
                                    f"({count} parameters) described by models/network.json")


def _inference_parser(bundle: Path) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    parser.read_meta(str(bundle / "configs" / "metadata.json"))
    parser["bundle_root"] = str(bundle)
    return parser


def _input_shape(bundle: Path) -> tuple[int, ...]:
    image = json.loads((bundle / "configs" / "metadata.json").read_text(encoding="utf-8"))
    image = image["network_data_format"]["inputs"]["image"]
    return (1, image["num_channels"], *image["spatial_shape"])


def _network_in_out(bundle: Path) -> Check:
    try:
        verify_net_in_out(net_id="network_def", meta_file=str(bundle / "configs" / "metadata.json"),
                          config_file=str(bundle / "configs" / "inference.json"), bundle_root=str(bundle))
    except Exception as exc:
        return Check("network in/out", "fail", _reason(exc))
    return Check("network in/out", "pass", f"verify_net_in_out: network_def maps {_input_shape(bundle)} to the "
                                           "output channels and dtype of metadata outputs.pred")


def _torchscript(bundle: Path) -> Check:
    shipped = bundle / "models" / "model.ts"
    with tempfile.TemporaryDirectory() as folder:
        exported = Path(folder) / "verify_model.ts"
        try:
            ckpt_export(net_id="network_def", filepath=str(exported), ckpt_file=str(bundle / "models" / "model.pt"),
                        meta_file=str(bundle / "configs" / "metadata.json"),
                        config_file=str(bundle / "configs" / "inference.json"), bundle_root=str(bundle), use_trace=True)
        except Exception as exc:
            status = "fail" if shipped.is_file() else "warn"
            return Check("TorchScript", status, f"ckpt_export cannot trace network_def ({_reason(exc)}); "
                                                + ("yet models/model.ts is shipped" if shipped.is_file()
                                                   else "the bundle ships no models/model.ts"))
        network = _inference_parser(bundle).get_parsed_content("network_def").eval()
        image = torch.rand(_input_shape(bundle), generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            expected = network(image)
            differences = {path.name: (torch.jit.load(str(path), map_location="cpu")(image) - expected).abs().max().item()
                           for path in (exported, shipped) if path.is_file()}
    worst = max(differences.values())
    detail = ", ".join(f"{name} max |q - q_eager| = {value:.2e}" for name, value in differences.items())
    if worst > TORCHSCRIPT_TOLERANCE:
        return Check("TorchScript", "fail", f"TorchScript output differs from network_def: {detail}")
    return Check("TorchScript", "pass", f"ckpt_export (traced) and torch.jit.load: {detail}")


def _generated_archive(folder: Path, shape: tuple[int, ...]) -> list[str]:
    """Write :data:`GENERATED_IMAGES` random PNG images of ``shape`` (1, C, H, W) into ``folder``."""
    channels, height, width = shape[1], shape[2], shape[3]
    if channels not in (1, 3) or len(shape) != 4:
        raise ValueError(f"cannot generate PNG images for the input shape {shape}.")
    generator = np.random.default_rng(0)
    names = []
    for index in range(GENERATED_IMAGES):
        pixels = generator.integers(0, 256, (height, width, channels), dtype=np.uint8)
        names.append(f"generated_{index}.png")
        Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels).save(folder / names[-1])
    return names


def _inference(bundle: Path) -> Check:
    with tempfile.TemporaryDirectory() as folder:
        archive, output = Path(folder) / "archive", Path(folder) / "run"
        archive.mkdir()
        try:
            names = _generated_archive(archive, _input_shape(bundle))
            workflow = ConfigWorkflow(config_file=str(bundle / "configs" / "inference.json"), run_id="inference",
                                      workflow_type=None, bundle_root=str(bundle), dataset_dir=str(archive),
                                      output_dir=str(output), layout="none", progress=False, num_workers=0)
            workflow.initialize()
            workflow.run()
            workflow.finalize()
            with open(output / "clustering" / "assignments.csv", newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
        except Exception as exc:
            return Check("inference", "fail", _reason(exc))
    if sorted(row["id"] for row in rows) != names:
        return Check("inference", "fail", f"assignments.csv lists {len(rows)} images, expected {names}")
    return Check("inference", "pass", f"{len(names)} generated images clustered: assignments.csv has a row for each "
                                      f"(clusters {sorted({row['cluster'] for row in rows})})")


def verify_bundle(bundle_dir: str | Path, trust: bool = False) -> VerifyReport:
    """Verify the bundle folder ``bundle_dir`` (see the module docstring); nothing is downloaded or written in it.

    Args:
        bundle_dir: a Model Zoo shaped bundle folder (``configs/``, ``models/``, ``docs/``, ``LICENSE``).
        trust: run the checks that execute the inference config even when its expressions were flagged.
    """
    bundle = Path(bundle_dir)
    report = VerifyReport(bundle)
    report.checks += [_files(bundle), _metadata(bundle), _large_files(bundle), _expressions(bundle, report)]
    if not (bundle / "models" / "model.pt").is_file() or not (bundle / "models" / "network.json").is_file():
        report.checks.append(Check("weights", "skip", "no models/model.pt with models/network.json"))
        return report
    report.checks.append(_weights(bundle))
    running: list[tuple[str, Callable[[Path], Check]]] = [
        ("network in/out", _network_in_out), ("TorchScript", _torchscript), ("inference", _inference)]
    blocked = next((check for check in report.checks if check.name in ("files", "metadata", "weights")
                    and check.status == "fail"), None)
    flagged = any(finding.is_problem for finding in report.findings) and not trust
    for name, run in running:
        if flagged:
            report.checks.append(Check(name, "skip", "not run: the configs hold flagged expressions; read them, "
                                                     "then run verify with --trust to run them"))
        elif blocked is not None:
            report.checks.append(Check(name, "skip", f"not run: the {blocked.name} check failed"))
        else:
            report.checks.append(run(bundle))
    return report
