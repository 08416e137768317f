"""The Model Zoo sub-commands of ``monai-debclust``: export, verify, publish, list, download.

:func:`add_zoo_commands` adds them to the command's sub-parsers and :data:`ZOO_COMMANDS` maps each
name to the function that runs it and returns the exit status: 0, 1 when ``verify`` found a
failing check, 2 (:data:`~monai_debclust.errors.USER_ERROR_STATUS`) for an error the user can fix, told in
one line by the command's entry point.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from monai_debclust.zoo.export import ZOO_SIZE_LIMIT, export_bundle
from monai_debclust.zoo.index import download_bundle, publish, read_index
from monai_debclust.zoo.verify import verify_bundle

__all__ = ["TRUST_HELP", "ZOO_COMMANDS", "add_trust_option", "add_zoo_commands"]

#: What ``--trust`` does, on every command that takes a bundle.
TRUST_HELP = ("accept config code that is not the packaged template's (the bundle's metadata names it); "
              "only for a bundle whose configs you have read")

#: Exit status of ``verify`` when a check failed.
VERIFY_FAILED = 1


def add_trust_option(command: argparse.ArgumentParser) -> None:
    """Add ``--trust`` (:data:`TRUST_HELP`) to ``command``: the same flag on every command that takes a bundle."""
    command.add_argument("--trust", action="store_true", help=TRUST_HELP)


def add_zoo_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``export``, ``verify``, ``publish``, ``list`` and ``download`` to ``commands``."""
    export = commands.add_parser(
        "export", help="package a training run of a bundle in the MONAI Model Zoo format (folder, zip, sha256)",
        description="Write OUT/<name>/ (configs, models/model.pt and model.ts, docs/README.md, LICENSE, "
        "large_files.yml when needed), OUT/<name>_v<version>.zip and its .sha256; print the SHA-256.")
    export.add_argument("run", help="the training run's output_dir (holding models/model.pt and network.json)")
    export.add_argument("--bundle", required=True, help="the bundle folder the run was trained with")
    export.add_argument("--out", required=True, help="folder to write the bundle folder and zip into")
    export.add_argument("--name", help="bundle name (folder and zip); default the bundle folder's name")
    export.add_argument("--version", help="exported version; default the bundle's version with the patch raised")
    export.add_argument("--changes", help="changelog entry of the exported version")
    export.add_argument("--large-file-mb", "--large_file_mb", dest="large_file_mb", type=float,
                        default=ZOO_SIZE_LIMIT / 1e6, help="files above this size go to large_files.yml (default 25)")
    add_trust_option(export)
    verify = commands.add_parser(
        "verify", help="check a bundle folder offline as the Model Zoo's CI does, running only the package's code",
        description="Files, metadata against the shipped schema, large-file hashes, the configs' code against the "
        "packaged template (provenance), weights, verify_net_in_out, TorchScript export and load, inference on "
        "generated images. Exit 1 if a check fails.")
    verify.add_argument("bundle", help="bundle folder (configs/, models/, docs/, LICENSE)")
    add_trust_option(verify)
    publish_command = commands.add_parser("publish", help="add an exported bundle zip to a zoo index")
    publish_command.add_argument("zip", help="the zip written by export")
    publish_command.add_argument("--index", required=True, help="zoo index JSON file (created if missing)")
    publish_command.add_argument("--url", required=True,
                                 help="where the zip is served (http(s)://, file://, or a path relative to the index)")
    publish_command.add_argument("--description", help="default: the bundle's task from its metadata")
    listing = commands.add_parser("list", help="list the bundles of a zoo index")
    listing.add_argument("--index", required=True, help="zoo index JSON file")
    download = commands.add_parser(
        "download", help="download a bundle of a zoo index, checking its sha256 before extracting",
        description="Fetch the zip of NAME (highest version unless --version), refuse it if its SHA-256 is not the "
        "index's, extract it safely into BUNDLE_DIR/NAME, and keep it only if its configs hold only the code of the "
        "packaged template its metadata names.")
    download.add_argument("name", help="bundle name in the index")
    download.add_argument("--index", required=True, help="zoo index JSON file")
    download.add_argument("--bundle_dir", "--bundle-dir", dest="bundle_dir", required=True,
                          help="folder to extract the bundle into")
    download.add_argument("--version", help="bundle version (default: the highest in the index)")
    add_trust_option(download)


def _run_export(args: argparse.Namespace) -> int:
    result = export_bundle(args.run, args.bundle, args.out, name=args.name, version=args.version,
                           change=args.changes, size_limit=int(args.large_file_mb * 1e6), trust=args.trust)
    print(f"exported {result.folder.name} {result.version} to {result.folder}")
    print("models/model.ts: " + ("written (traced)" if result.torchscript is None
                                 else f"not written, the network cannot be traced ({result.torchscript})"))
    if result.large_files:
        print(f"large_files.yml lists {', '.join(result.large_files)} (sha256; fill in each url when hosting them)")
    print(f"zip: {result.zip_path}")
    print(f"sha256: {result.sha256}  (saved in {result.zip_path.name}.sha256)")
    return 0


def _run_verify(args: argparse.Namespace) -> int:
    report = verify_bundle(args.bundle, trust=args.trust)
    print(report.format(), flush=True)
    return 0 if report.passed else VERIFY_FAILED


def _run_publish(args: argparse.Namespace) -> int:
    entry = publish(args.zip, args.index, args.url, args.description)
    print(f"{args.index}: {entry.name} {entry.version} at {entry.url} (sha256 {entry.sha256})")
    return 0


def _run_list(args: argparse.Namespace) -> int:
    entries = read_index(args.index)
    if not entries:
        print(f"{args.index}: no bundles")
    for entry in entries:
        print(f"{entry.name:<24} {entry.version:<10} {entry.description}\n{'':<24} {entry.url}")
    return 0


def _run_download(args: argparse.Namespace) -> int:
    folder, provenance = download_bundle(args.name, args.index, args.bundle_dir, version=args.version, trust=args.trust)
    print(f"downloaded {args.name} into {folder} (sha256 checked)")
    if provenance.differences:
        print(f"its configs hold {len(provenance.differences)} piece(s) of code that monai-debclust did not ship, "
              "accepted with --trust:")
        print("\n".join(f"  {difference}" for difference in provenance.differences))
    else:
        print(f"its configs hold only the code of the packaged template {provenance.template}")
    print(f"full check: monai-debclust verify {folder}")
    return 0


#: Sub-command name -> function returning the exit status.
ZOO_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "export": _run_export, "verify": _run_verify, "publish": _run_publish, "list": _run_list,
    "download": _run_download,
}
