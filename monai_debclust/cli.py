"""The ``monai-debclust`` command.

``monai-debclust cluster ARCHIVE --bundle DIR --output DIR`` runs the bundle's
``configs/inference.json`` exactly as ``python -m monai.bundle run inference --config_file
DIR/configs/inference.json --dataset_dir ARCHIVE --output_dir DIR`` does, and
``monai-debclust train --bundle DIR ...`` runs its ``train.json`` as ``python -m monai.bundle run
training`` does: the options become config overrides and MONAI's
:class:`~monai.bundle.ConfigWorkflow` (its ``ConfigParser``, with the bundle's ``metadata.json``
and ``logging.conf`` beside the config) parses and runs it. There is one code path; the command
only spells the common overrides as options, refuses option values that the parser would
evaluate and keys the config does not have (and, for ``cluster``, a trained network that one
batch of the run's ``batch_size`` takes past the size budget), and turns the errors a user can fix
(:func:`~monai_debclust.errors.user_error`: a bad setting, a missing checkpoint or archive) into
a message instead of a traceback (``MONAI_DEBCLUST_TRACEBACK=1`` shows it). Before anything is
parsed, the bundle folder must hold only the code of the packaged template its metadata names
(:func:`~monai_debclust.zoo.provenance.check_provenance`); ``--trust`` accepts other code.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from monai.bundle import ConfigParser, ConfigWorkflow

from monai_debclust.bundle.outputs import MAX_DESCRIPTION_BYTES, NETWORK_FILE
from monai_debclust.bundle.settings import unknown_settings
from monai_debclust.data.layouts import EXCLUDED_LIST
from monai_debclust.errors import SettingError, run_reporting_user_errors
from monai_debclust.networks.checks import integer_in
from monai_debclust.networks.description import check_network_size, validate_description
from monai_debclust.networks.size import DEFAULT_BATCH_SIZE
from monai_debclust.review.labels import write_review_labels
from monai_debclust.zoo.commands import ZOO_COMMANDS, add_trust_option, add_zoo_commands
from monai_debclust.zoo.provenance import check_provenance

__all__ = ["main", "build_parser", "cluster_overrides", "train_overrides"]


def _value(text: str) -> Any:
    """A ``--set`` value: JSON when it parses (numbers, true/false/null, lists), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _expression(value: Any) -> str | None:
    """The first part of an override value that MONAI's config parser would evaluate or resolve, if any.

    A string starting with ``$`` is Python code, ``@`` and ``%`` are references, and a mapping with a
    ``_target_`` instantiates a class: a command-line value is data, so none of them is allowed.
    """
    if isinstance(value, str):
        return value if value[:1] in ("$", "@", "%") else None
    if isinstance(value, dict):
        if "_target_" in value:
            return "_target_"
        value = list(value.values())
    if isinstance(value, list):
        return next((found for found in map(_expression, value) if found is not None), None)
    return None


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}.")
    return key, _value(value)


def _literal_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` unchanged, or a :class:`SettingError` naming the option that holds an expression."""
    for key, value in overrides.items():
        found = _expression(value)
        if found is not None:
            raise SettingError(
                f"the value of {key} ({found!r}) would be evaluated as a config expression; command-line "
                "values are data only (edit the bundle config to change an expression)."
            )
    return overrides


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``monai-debclust`` and its sub-commands."""
    parser = argparse.ArgumentParser(prog="monai-debclust", description="Debiased self-supervised clustering of medical image archives.")
    commands = parser.add_subparsers(dest="command", required=True)
    cluster = commands.add_parser(
        "cluster",
        help="cluster an image archive with a trained bundle and write assignments, plots and report.html",
        description="Embed every readable image of ARCHIVE with the bundle's trained model, assign clusters, "
        "and write assignments.csv, embeddings.npy, skipped.csv, summary.json, metrics.json (with labels), "
        "plots/ and report.html into OUTPUT/clustering/. An interrupted run resumes where it stopped.",
    )
    cluster.add_argument("archive", help="folder of images (PNG/JPEG/BMP/TIFF, DICOM, NIfTI), searched recursively")
    cluster.add_argument("--bundle", required=True, help="bundle folder holding configs/inference.json")
    cluster.add_argument("--output", "--output-dir", "--output_dir", dest="output_dir",
                         help="the training run's output_dir: weights are read from OUTPUT/models/model.pt, "
                         "results are written to OUTPUT/clustering/")
    cluster.add_argument("--ckpt-path", "--ckpt_path", dest="ckpt_path",
                         help="trained weights (default OUTPUT/models/model.pt, network.json beside it)")
    cluster.add_argument("--recluster", type=int, metavar="K",
                         help="re-cluster the embeddings with k-means into K clusters instead of the trained head")
    cluster.add_argument("--layout", help="label layout of the archive (folder, csv, refuge, isic2018, ...)")
    cluster.add_argument("--labels-csv", "--labels_csv", dest="labels_csv", help="CSV of id,label for the metrics")
    cluster.add_argument("--device", help="torch device, e.g. cpu, cuda, cuda:1")
    cluster.add_argument("--batch-size", "--batch_size", dest="batch_size", type=int, help="images per forward pass")
    cluster.add_argument("--num-workers", "--num_workers", dest="num_workers", type=int,
                         help="image-decoding processes (0: in the main process)")
    cluster.add_argument("--no-resume", dest="resume", action="store_false", default=None,
                         help="embed everything again instead of resuming from an earlier run's chunks")
    _add_set_option(cluster, "min_confidence=0.7")
    add_trust_option(cluster)
    train = commands.add_parser(
        "train",
        help="train a bundle on an image archive (or on its generated demo cohort)",
        description="Run the bundle's training workflow, as `python -m monai.bundle run training --config_file "
        "BUNDLE/train.json` does. Re-running with the same --output_dir resumes from the last checkpoint.",
    )
    train.add_argument("--bundle", required=True, help="bundle folder holding train.json")
    train.add_argument("--dataset-dir", "--dataset_dir", dest="dataset_dir",
                       help="folder of images (PNG/JPEG/BMP/TIFF, DICOM, NIfTI); default: the generated demo cohort")
    train.add_argument("--output", "--output-dir", "--output_dir", dest="output_dir", help="where the run is written")
    train.add_argument("--epochs", type=int, help="number of epochs")
    train.add_argument("--layout", help="label layout: auto (default), none, folder, csv, ...")
    train.add_argument("--labels-csv", "--labels_csv", dest="labels_csv",
                       help="CSV of id,label (e.g. from `monai-debclust labels`); implies --layout csv")
    train.add_argument("--device", help="torch device, e.g. cpu, cuda")
    _add_set_option(train, "num_clusters=3")
    add_trust_option(train)
    labels = commands.add_parser(
        "labels",
        help="turn a reviewed clustering run (the report's review.json) into labels.csv",
        description="Write OUT (id,label) from RUN's clustering and the decisions of review.json: merged clusters "
        "carry the name of the cluster they end in, moved images their new cluster's name, unnamed clusters "
        "'cluster <k>'; excluded images get no row and are listed in excluded.txt beside OUT, which the csv "
        "layout leaves out of training and evaluation.",
    )
    labels.add_argument("run", help="the training run's output_dir (holding clustering/assignments.csv)")
    labels.add_argument("--review", required=True, help="review.json downloaded from the report")
    labels.add_argument("--out", required=True, help="labels.csv to write")
    experiment = commands.add_parser(
        "experiment",
        help="run a grid of methods x data sets x imbalance ratios x seeds and write the tables",
        description="Train and evaluate (four protocols) every unfinished cell of the grid, each in its own "
        "folder; re-running skips finished cells and resumes interrupted ones. Writes mean ± std tables "
        "(Markdown + CSV, one per protocol) and minority_f1.png into OUTPUT_DIR/tables.",
    )
    experiment.add_argument("grid", help="the grid's YAML file (see monai_debclust.experiments.grid)")
    experiment.add_argument("--tables-only", "--tables_only", dest="tables_only", action="store_true",
                            help="only write the tables of the finished cells")
    experiment.add_argument("--tables-dir", "--tables_dir", dest="tables_dir",
                            help="where the tables go (default OUTPUT_DIR/tables); rewritten after every cell")
    similar = commands.add_parser(
        "similar",
        help="print the images of a clustered archive most similar to a file or an image id",
        description="Print the K images of RUN's clustering most similar (cosine of the embeddings) to IMAGE: an id "
        "of the run (its path relative to the archive) or any image file, which is embedded with the run's model.",
    )
    similar.add_argument("run", help="the run's output folder (or its clustering/ folder)")
    similar.add_argument("image", help="an image id of the run, or an image file")
    similar.add_argument("-k", type=int, default=5, help="how many similar images (default 5)")
    similar.add_argument("--ckpt-path", "--ckpt_path", dest="ckpt_path",
                         help="the model that embeds a new file (default: the run's checkpoint)")
    add_zoo_commands(commands)
    return parser


def _add_set_option(command: argparse.ArgumentParser, example: str) -> None:
    command.add_argument("--set", dest="overrides", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                         help=f"any other config override, e.g. --set {example} (repeatable)")


def _options(args: argparse.Namespace, keys: Sequence[str], overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` plus the options ``keys`` given on the command line, then ``--set``; all literal."""
    for key in keys:
        value = getattr(args, key)
        if value is not None:
            overrides[key] = value
    overrides.update(args.overrides)
    return _literal_overrides(overrides)


def cluster_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config overrides of a parsed ``cluster`` command line (options left out are not overridden)."""
    overrides = {"dataset_dir": str(Path(args.archive)), "bundle_dir": str(Path(args.bundle))}
    return _options(args, ("output_dir", "ckpt_path", "recluster", "layout", "labels_csv", "device", "batch_size",
                           "num_workers", "resume"), overrides)


def train_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config overrides of a parsed ``train`` command line (options left out are not overridden)."""
    overrides = {"layout": "csv"} if args.labels_csv is not None else {}
    return _options(args, ("dataset_dir", "output_dir", "epochs", "layout", "labels_csv", "device"), overrides)


#: Keys of an inference config that name the trained network and one batch of its input.
_NETWORK_KEYS = ("batch_size", "image_size", "ckpt_path", "network_path")


def _check_network_at_batch_size(parser: ConfigParser) -> None:
    """Check the size budget of the config's trained network at its ``batch_size``, before it is loaded.

    The config's ``network`` (:func:`~monai_debclust.bundle.load_trained_network`) checks
    ``network.json`` for one batch of :data:`~monai_debclust.networks.size.DEFAULT_BATCH_SIZE`
    images; a larger ``batch_size`` (``--batch_size N``, ``--set batch_size=N``) is checked here
    at the config's ``image_size``. A config without these keys, and a missing, oversized or
    invalid description, are left to the loader, which names what is wrong.

    Raises:
        NetworkSizeError: naming the estimate, the batch size and the limit.
    """
    if not all(key in parser for key in _NETWORK_KEYS):
        return
    batch_size = parser.get_parsed_content("batch_size")
    if integer_in(1, DEFAULT_BATCH_SIZE)(batch_size):
        return  # the loader's check counts a larger batch
    network_path = Path(parser.get_parsed_content("network_path")
                        or Path(parser.get_parsed_content("ckpt_path")).with_name(NETWORK_FILE))
    if not network_path.is_file() or network_path.stat().st_size > MAX_DESCRIPTION_BYTES:
        return
    try:
        description = validate_description(json.loads(network_path.read_text(encoding="utf-8")))
    except ValueError:  # not JSON, or not a network description
        return
    check_network_size(description, parser.get_parsed_content("image_size"), batch_size)


def _run_bundle(bundle: str, config: Path, run_id: str, overrides: Callable[[], dict[str, Any]], trust: bool) -> int:
    """Run ``run_id`` of the config ``config`` of the folder ``bundle`` with ``overrides()``.

    The folder must hold only the code of its packaged template (unless ``trust``), and the
    overrides must be keys of the config. An inference run's network must fit the size budget
    at the run's batch size (:func:`_check_network_at_batch_size`).
    """
    if not config.is_file():
        raise SettingError(f"no bundle config at {config} (is --bundle a bundle folder?)")
    check_provenance(bundle, trust)
    settings = overrides()
    unknown = unknown_settings(ConfigParser.load_config_files(str(config)), settings)
    if unknown:
        raise SettingError(f"unknown setting(s) {', '.join(unknown)}: not keys of {config}.")
    workflow = ConfigWorkflow(config_file=str(config), run_id=run_id, workflow_type=None, **settings)
    if run_id == "inference":
        _check_network_at_batch_size(workflow.parser)
    workflow.initialize()
    workflow.run()
    workflow.finalize()
    return 0


def _bundle_config(bundle: str, *candidates: str) -> Path:
    """The first of ``candidates`` (paths inside ``bundle``) that exists, else the first."""
    paths = [Path(bundle) / candidate for candidate in candidates]
    return next((path for path in paths if path.is_file()), paths[0])


def _print_similar(args: argparse.Namespace) -> int:
    from monai_debclust.archive.similar import similar_images

    if args.k < 1:
        raise SettingError(f"-k must be at least 1, got {args.k}.")
    for found in similar_images(args.run, args.image, args.k, args.ckpt_path):
        print(f"{found['rank']:>3}  {found['similarity']:.4f}  {found['id']}")
    return 0


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in ZOO_COMMANDS:
        return ZOO_COMMANDS[args.command](args)
    if args.command == "experiment":
        from monai_debclust.experiments.runner import experiment_main

        return experiment_main(args.grid, args.tables_only, args.tables_dir)
    if args.command == "labels":
        out = write_review_labels(args.run, args.review, args.out)
        print(f"labels written to {out} (excluded images listed in {out.parent / EXCLUDED_LIST})")
        return 0
    if args.command == "similar":
        return _print_similar(args)
    if args.command == "cluster":
        return _run_bundle(args.bundle, _bundle_config(args.bundle, "configs/inference.json"), "inference",
                           lambda: cluster_overrides(args), args.trust)
    return _run_bundle(args.bundle, _bundle_config(args.bundle, "train.json", "configs/train.json"), "training",
                       lambda: train_overrides(args), args.trust)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``monai-debclust`` console command; returns the exit status.

    A user error (:func:`~monai_debclust.errors.user_error`) is one message and exit status 2.
    """
    args = build_parser().parse_args(argv)
    return run_reporting_user_errors(lambda: _dispatch(args))


if __name__ == "__main__":
    sys.exit(main())
