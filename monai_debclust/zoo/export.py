"""Package a trained bundle in the MONAI Model Zoo format: a folder, its zip and the zip's SHA-256.

``export_bundle(run_dir, bundle_dir, out_dir)`` writes ``out_dir/<name>/``::

    configs/{metadata.json, train.json, inference.json, evaluate.json, multi_gpu_train.json, logging.conf}
    models/{model.pt, network.json, input.json, model.ts}
    docs/README.md   LICENSE   large_files.yml (only when a file is over the Zoo's size limit)

then ``out_dir/<name>_v<version>.zip`` (one top-level folder ``<name>/``, reproducible bytes) and
``out_dir/<name>_v<version>.zip.sha256``. The folder is written into a staging folder beside it,
which takes its place only when complete and flushed to disk
(:func:`~monai_debclust.utils.files.atomic_folder`).

The bundle folder must hold only the code of the packaged template its metadata names
(:func:`~monai_debclust.zoo.provenance.check_provenance`; ``trust=True`` accepts other code).
The configs are the bundle's own, with the same keys and code paths; an exported copy only gets
the top-level keys of :data:`~monai_debclust.zoo.templates.CONFIG_OVERRIDES`
(:func:`~monai_debclust.zoo.templates.exported_config`), so that it reads its weights from its
own ``models/`` folder (``bundle_root``, ``"."`` as in the Model Zoo: run from the bundle folder,
or pass ``--bundle_root``). ``model.pt`` is checked before it is copied: it must load
weights-only into the network ``network.json`` describes
(:func:`~monai_debclust.bundle.load_trained_network`); ``model.ts`` is that network, traced
(:func:`~monai_debclust.zoo.package_configs.export_torchscript`).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from monai_debclust.bundle.outputs import INPUT_FILE, MODEL_FILE, NETWORK_FILE, load_trained_network
from monai_debclust.utils import atomic_write
from monai_debclust.utils.files import atomic_folder
from monai_debclust.zoo.archive import sha256_file, zip_folder
from monai_debclust.zoo.metadata import exported_metadata, next_version, schema_errors
from monai_debclust.zoo.package_configs import export_torchscript
from monai_debclust.zoo.provenance import check_provenance
from monai_debclust.zoo.templates import CONFIG_SOURCES, ExportError, exported_config

__all__ = ["ExportResult", "ZOO_SIZE_LIMIT", "export_bundle"]

#: Files larger than this (bytes) go to ``large_files.yml`` in a Model Zoo submission.
ZOO_SIZE_LIMIT = 25 * 1000 * 1000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_bundle` wrote.

    Attributes:
        folder: the bundle folder ``out_dir/<name>``.
        zip_path: ``out_dir/<name>_v<version>.zip``.
        sha256: the zip's SHA-256 (also in ``<zip>.sha256``).
        version: the exported version.
        torchscript: None when ``models/model.ts`` was written, else why not.
        large_files: the files listed in ``large_files.yml``.
    """

    folder: Path
    zip_path: Path
    sha256: str
    version: str
    torchscript: str | None
    large_files: tuple[str, ...]


def _source(bundle_dir: Path, name: str) -> Path | None:
    candidates, required = CONFIG_SOURCES[name]
    found = next((bundle_dir / candidate for candidate in candidates if (bundle_dir / candidate).is_file()), None)
    if found is None and required:
        raise ExportError(f"{bundle_dir} has no {' or '.join(candidates)}; is --bundle a bundle folder?")
    return found


def _run_files(run_dir: Path) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """``model.pt`` of a training run, its network description and input settings, after loading it."""
    model = run_dir / "models" / MODEL_FILE
    if not model.is_file():
        raise ExportError(f"no trained weights at {model}: RUN is a training run's output_dir "
                          "(python -m monai.bundle run training ... --output_dir RUN).")
    load_trained_network(model)  # weights-only, and they must fit network.json
    description = json.loads((run_dir / "models" / NETWORK_FILE).read_text(encoding="utf-8"))
    input_file = run_dir / "models" / INPUT_FILE
    settings = json.loads(input_file.read_text(encoding="utf-8")) if input_file.is_file() else {}
    return model, description, settings


def _eval_metrics(run_dir: Path) -> dict[str, float]:
    path = run_dir / "metrics.json"
    if not path.is_file():
        return {}
    metrics = json.loads(path.read_text(encoding="utf-8")).get("metrics", {})
    return {key: value for key, value in metrics.items() if isinstance(value, (int, float))}


def _readme(source: Path, name: str, version: str, model_sha256: str) -> str:
    """The repository bundle's README with a section on running this exported copy."""
    text = source.read_text(encoding="utf-8").rstrip() + "\n" if source.is_file() else f"# {name}\n"
    return text + f"""
## This package: {name} {version}

This folder is the bundle exported in the MONAI Model Zoo format with its trained weights
(`models/model.pt`, SHA-256 `{model_sha256}`), described by `models/network.json`, and a
TorchScript copy `models/model.ts` where the network could be traced. The commands above refer to
the repository's copy of the bundle; for this folder, give `--bundle_root` (or run from inside it):

```bash
pip install monai-debclust   # the configs use its classes
monai-debclust verify {name}
python -m monai.bundle run inference --config_file {name}/configs/inference.json \\
    --bundle_root {name} --dataset_dir /path/to/archive --output_dir runs/{name}
monai-debclust cluster /path/to/archive --bundle {name} --output runs/{name}
```

Results are written to `runs/{name}/clustering/` (`assignments.csv`, `report.html`, ...).
"""


def _torchscript(folder: Path) -> str | None:
    """Write ``models/model.ts`` (the network of ``models/``, traced); None, or why it could not."""
    try:
        export_torchscript(folder, folder / "configs" / "metadata.json", folder / "models" / "model.ts")
    except Exception as exc:  # a network that cannot be traced: the bundle ships without model.ts
        (folder / "models" / "model.ts").unlink(missing_ok=True)
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return None


def _large_files(folder: Path, limit: int) -> tuple[str, ...]:
    """Write ``large_files.yml`` (path, url to fill in, sha256) for the files over ``limit`` bytes."""
    large = [path for path in sorted(folder.rglob("*")) if path.is_file() and path.stat().st_size > limit]
    if not large:
        return ()
    entries = [{"path": path.relative_to(folder).as_posix(), "url": "", "hash_val": sha256_file(path),
                "hash_type": "sha256"} for path in large]
    (folder / "large_files.yml").write_text(yaml.safe_dump({"large_files": entries}, sort_keys=False), encoding="utf-8")
    return tuple(entry["path"] for entry in entries)


def export_bundle(
    run_dir: str | Path,
    bundle_dir: str | Path,
    out_dir: str | Path,
    name: str | None = None,
    version: str | None = None,
    change: str | None = None,
    size_limit: int = ZOO_SIZE_LIMIT,
    trust: bool = False,
) -> ExportResult:
    """Export the training run ``run_dir`` of the bundle ``bundle_dir`` as a Model Zoo bundle in ``out_dir``.

    Args:
        run_dir: a training run's ``output_dir`` (``models/model.pt``, ``network.json``, ``input.json``).
        bundle_dir: the repository bundle the run was trained with (e.g. ``bundles/refuge``).
        out_dir: where the bundle folder, the zip and its ``.sha256`` are written.
        name: the bundle's name (folder and zip); default the name of ``bundle_dir``.
        version: the exported version; default the bundle's version with the patch number raised.
        change: the changelog entry of ``version``.
        size_limit: files above this many bytes are listed in ``large_files.yml``.
        trust: export a bundle whose configs hold code that is not its packaged template's.

    Raises:
        ProvenanceError: ``bundle_dir`` holds config code its template does not (unless ``trust``).
        ExportError: a missing file, an invalid name, or an existing export folder; a
            :class:`~monai_debclust.bundle.outputs.CheckpointError` for weights that do not fit.
    """
    run_dir, bundle_dir, out_dir = Path(run_dir), Path(bundle_dir), Path(out_dir)
    name = name or bundle_dir.resolve().name
    if not _NAME.fullmatch(name):
        raise ExportError(f"bundle name {name!r} must be letters, digits, '_', '.' or '-' (it names a folder).")
    check_provenance(bundle_dir, trust)
    model, description, input_settings = _run_files(run_dir)
    sources = {config: _source(bundle_dir, config) for config in CONFIG_SOURCES}
    if not (bundle_dir / "LICENSE").is_file():
        raise ExportError(f"{bundle_dir} has no LICENSE; the Model Zoo requires one.")
    meta = json.loads(sources["metadata.json"].read_text(encoding="utf-8"))
    version = version or next_version(meta["version"])
    change = change or f"trained weights of the run {run_dir.resolve().name}, exported by monai-debclust export"
    arguments = description.get("arguments", {})
    metadata = exported_metadata(
        meta, version, change, input_settings, num_clusters=arguments.get("num_clusters", 2),
        spatial_dims=arguments.get("encoder_kwargs", {}).get("spatial_dims", 2), eval_metrics=_eval_metrics(run_dir),
    )
    problems = schema_errors(metadata)
    if problems:
        raise ExportError(f"the metadata of {bundle_dir} does not pass the bundle schema:\n  " + "\n  ".join(problems))
    destination = out_dir / name
    if destination.exists():
        raise ExportError(f"{destination} already exists; remove it or choose another --out.")
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_folder(destination) as staging:
        torchscript, large_files = _write_bundle(staging, name, bundle_dir, sources, metadata, model, size_limit)
    zip_path = zip_folder(destination, out_dir / f"{name}_v{version}.zip")
    digest = sha256_file(zip_path)
    with atomic_write(zip_path.with_name(zip_path.name + ".sha256"), encoding="utf-8") as handle:
        handle.write(f"{digest}  {zip_path.name}\n")
    return ExportResult(destination, zip_path, digest, version, torchscript, large_files)


def _write_bundle(
    folder: Path, name: str, bundle_dir: Path, sources: Mapping[str, Path | None], metadata: Mapping[str, Any],
    model: Path, size_limit: int,
) -> tuple[str | None, tuple[str, ...]]:
    """Write the bundle ``name`` into the empty ``folder``: why ``model.ts`` is missing (or None), the large files."""
    for sub_folder in ("configs", "models", "docs"):
        (folder / sub_folder).mkdir(parents=True)
    for config, source in sources.items():
        if source is None or config == "metadata.json":
            continue
        if config.endswith(".json"):
            content = exported_config(config, json.loads(source.read_text(encoding="utf-8")))
            (folder / "configs" / config).write_text(json.dumps(content, indent=4) + "\n", encoding="utf-8")
        else:
            shutil.copyfile(source, folder / "configs" / config)
    (folder / "configs" / "metadata.json").write_text(json.dumps(metadata, indent=4) + "\n", encoding="utf-8")
    for file in (MODEL_FILE, NETWORK_FILE, INPUT_FILE):
        if (model.parent / file).is_file():
            shutil.copyfile(model.parent / file, folder / "models" / file)
    shutil.copyfile(bundle_dir / "LICENSE", folder / "LICENSE")
    readme = _readme(bundle_dir / "docs" / "README.md", name, metadata["version"], sha256_file(model))
    (folder / "docs" / "README.md").write_text(readme, encoding="utf-8")
    return _torchscript(folder), _large_files(folder, size_limit)
