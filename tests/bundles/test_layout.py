"""The bundles' files: Model Zoo layout, metadata, and the copies that must stay identical."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUNDLES = {"refuge": (2, "fundus", "fundus-1to9"), "glaucoma1": (2, "fundus", "fundus-balanced"),
           "isic2018": (7, "dermoscopy", "dermoscopy-longtail")}
#: Top-level keys of train.json that tell the bundles apart; every other key is the same in all three.
#: The DEC phase (beta, gamma ramp) and the method are chosen per cohort by measurement (docs/results.md,
#: docs/results/study: SimCLR clustered isic9 best).
PER_BUNDLE_KEYS = {"demo", "output_dir", "preset", "num_clusters", "beta", "gamma_rampup_epochs", "method"}
#: The user-facing settings a user overrides on the command line.
SETTINGS = {
    "dataset_dir", "layout", "output_dir", "epochs", "image_size", "batch_size", "num_workers", "device", "seed",
    "num_clusters", "dim", "depth", "kernel_size", "patch_size", "warmup_epochs", "gamma", "gamma_rampup_epochs",
    "beta", "target_update", "target_interval", "amp", "demo_size", "temperature", "tau_plus", "lambda_mod",
    "learning_rate", "weight_decay", "dropout", "val_interval",
}
METADATA_FIELDS = {"schema", "version", "changelog", "monai_version", "pytorch_version", "numpy_version",
                   "required_packages_version", "task", "description", "authors", "copyright", "data_source",
                   "data_type", "references", "network_data_format"}


def load(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.parametrize("bundle", BUNDLES)
def test_bundle_has_the_model_zoo_files(bundle):
    root = REPO / "bundles" / bundle
    for name in ("train.json", "metadata.json", "logging.conf", "configs/metadata.json", "configs/evaluate.json",
                 "configs/multi_gpu_train.json", "configs/logging.conf", "docs/README.md", "LICENSE",
                 "models/.gitkeep"):
        assert (root / name).is_file(), name


@pytest.mark.parametrize("bundle", BUNDLES)
@pytest.mark.parametrize("name", ["metadata.json", "logging.conf"])
def test_files_beside_train_json_are_copies_of_the_configs_ones(bundle, name):
    # `monai.bundle run` looks for metadata.json and logging.conf beside the first config file
    root = REPO / "bundles" / bundle
    assert (root / name).read_bytes() == (root / "configs" / name).read_bytes()


@pytest.mark.parametrize("name", ["configs/evaluate.json", "configs/multi_gpu_train.json", "configs/logging.conf",
                                  "LICENSE"])
def test_shared_files_are_the_same_in_every_bundle(name):
    contents = {(REPO / "bundles" / bundle / name).read_bytes() for bundle in BUNDLES}
    assert len(contents) == 1


def test_train_configs_differ_only_in_the_bundle_keys():
    configs = {bundle: load(REPO / "bundles" / bundle / "train.json") for bundle in BUNDLES}
    reference = configs["refuge"]
    for bundle, config in configs.items():
        assert config.keys() == reference.keys()
        assert {key for key in config if config[key] != reference[key]} <= PER_BUNDLE_KEYS
        clusters, preset, demo = BUNDLES[bundle]
        assert (config["num_clusters"], config["preset"], config["demo"]) == (clusters, preset, demo)
        assert config["output_dir"] == f"runs/{bundle}"


def test_train_config_exposes_the_settings_and_the_paper_defaults():
    config = load(REPO / "bundles" / "refuge" / "train.json")
    assert SETTINGS <= set(config)
    assert config["training"] == "@run"
    paper = {"temperature": 0.5, "tau_plus": 0.1, "lambda_mod": 2.0, "gamma": 5.0, "learning_rate": 1e-3,
             "weight_decay": 1e-6, "dropout": 0.04, "batch_size": 32, "kernel_size": 7, "patch_size": 2}
    assert {key: config[key] for key in paper} == paper


@pytest.mark.parametrize(
    "bundle, beta, rampup",
    [
        ("refuge", 0.0, "$max(1, @epochs // 5)"),  # beta=1 pulled the real 1:9 fundus cohort towards equal clusters
        ("glaucoma1", 1.0, "$max(1, @epochs // 5)"),  # balanced classes: equal cluster sizes are the truth
        ("isic2018", 1.0, 0),  # beta=0 let one cluster swallow 74 % of real isic9 Train; beta=1 did not
    ],
)
def test_dec_phase_defaults_are_the_measured_ones(bundle, beta, rampup):
    """The DEC-phase settings chosen on real images (docs/results.md)."""
    config = load(REPO / "bundles" / bundle / "train.json")
    assert config["beta"] == beta
    assert config["gamma_rampup_epochs"] == rampup
    assert config["warmup_epochs"] == "$max(1, 3 * @epochs // 5)"


def _targets(node):
    if isinstance(node, dict):
        if "_target_" in node:
            yield node["_target_"]
        for value in node.values():
            yield from _targets(value)
    elif isinstance(node, list):
        for value in node:
            yield from _targets(value)


@pytest.mark.parametrize("name", ["train.json", "configs/evaluate.json", "configs/multi_gpu_train.json"])
def test_targets_are_full_dotted_paths(name):
    targets = set(_targets(load(REPO / "bundles" / "refuge" / name)))
    assert all(target.split(".")[0] in {"monai", "monai_debclust", "torch"} for target in targets), targets


def _expressions(node):
    if isinstance(node, str) and node.startswith("$"):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _expressions(value)
    elif isinstance(node, list):
        for value in node:
            yield from _expressions(value)


@pytest.mark.parametrize("bundle", BUNDLES)
def test_plugin_calls_of_more_than_one_argument_are_target_dictionaries(bundle):
    """A reader sees a plugin function's arguments by name: ``$`` strings call ours with one argument at most."""
    import re

    for config in sorted((REPO / "bundles" / bundle).rglob("*.json")):
        calls = [expression for expression in _expressions(load(config))
                 if re.search(r"monai_debclust\.[\w.]+\([^()]*,", expression)]
        assert not calls, f"{config.relative_to(REPO)}: {calls}"


@pytest.mark.parametrize("bundle", BUNDLES)
def test_metadata_has_the_zoo_fields_and_one_output_channel_per_cluster(bundle):
    metadata = load(REPO / "bundles" / bundle / "configs" / "metadata.json")
    assert METADATA_FIELDS <= set(metadata)
    assert metadata["version"] in metadata["changelog"]
    assert "monai-debclust" in metadata["required_packages_version"]
    assert any("2209.06941" in ref for ref in metadata["references"])  # the method
    assert any("Debiased Contrastive Learning" in ref for ref in metadata["references"])  # Chuang et al.
    assert any("Unsupervised Deep Embedding" in ref for ref in metadata["references"])  # DEC
    network_format = metadata["network_data_format"]
    assert network_format["inputs"]["image"]["num_channels"] == 3
    assert network_format["outputs"]["pred"]["num_channels"] == BUNDLES[bundle][0]


def test_repository_bundles_are_the_packaged_templates():
    # one source: bundles/<name> is a link to the package data monai_debclust/bundles/<name>
    packaged = REPO / "monai_debclust" / "bundles"
    assert sorted(path.name for path in packaged.iterdir() if path.is_dir()) == sorted(BUNDLES)
    for bundle in BUNDLES:
        assert (REPO / "bundles" / bundle).resolve() == (packaged / bundle).resolve()


@pytest.mark.parametrize("bundle", BUNDLES)
def test_metadata_names_the_template_it_came_from(bundle):
    assert load(REPO / "bundles" / bundle / "configs" / "metadata.json")["monai_debclust_template"] == bundle
