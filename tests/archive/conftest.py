"""Fixtures of the archive-clustering tests: a tiny trained model and a small messy archive.

The model is a DebClustNet with a one-block ConvMixer of 8 channels whose centres are
initialised by k-means on the archive's features (as training does), saved with the training
engine's own :func:`save_trained_network`, so ``model.pt`` + ``network.json`` have exactly the
format a bundle's training run leaves.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from monai_debclust.data import ImageArchive, load_cohort, make_fundus_cohort
from monai_debclust.bundle.outputs import save_trained_network
from monai_debclust.networks import DebClustNet

from .helpers import IMAGE_SIZE, NETWORK_ARGS, bundle_command, run


@pytest.fixture(scope="session", autouse=True)
def user_config(tmp_path_factory) -> Path:
    """A config folder of the tests' own, so the DICOM key is not made in the user's home."""
    folder = tmp_path_factory.mktemp("config")
    previous = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("XDG_CONFIG_HOME")
    else:
        os.environ["XDG_CONFIG_HOME"] = previous


@pytest.fixture(scope="session")
def messy_archive(tmp_path_factory) -> Path:
    """24 synthetic fundus images (6 glaucoma, 18 normal) plus unreadable and non-image files."""
    root = make_fundus_cohort(tmp_path_factory.mktemp("archive") / "fundus",
                              counts={"glaucoma": 6, "normal": 18}, image_size=IMAGE_SIZE, seed=0)
    jpeg = io.BytesIO()
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(jpeg, format="JPEG")
    (root / "glaucoma" / "truncated.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    (root / "normal" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    (root / "normal" / "empty.png").write_bytes(b"")
    (root / "scan.dcm").write_bytes(b"not a DICOM file at all")
    (root / "notes.txt").write_text("acquisition notes\n")
    (root / "normal" / "README.md").write_text("# normal eyes\n")
    return root


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory, messy_archive) -> Path:
    """``models/model.pt`` of a tiny DebClustNet whose centres are k-means centres of the archive."""
    torch.manual_seed(0)
    network = DebClustNet(**NETWORK_ARGS).eval()
    samples, _ = load_cohort(ImageArchive(messy_archive, layout="folder").items, IMAGE_SIZE, progress=False)
    with torch.no_grad():
        features = network.embed(torch.stack([s["image"] for s in samples]).float() / 255.0)
    network.clustering.initialise_centres(features, seed=0)
    return save_trained_network(network, tmp_path_factory.mktemp("training") / "models", NETWORK_ARGS)


@pytest.fixture(scope="session")
def bundle_run(tmp_path_factory, messy_archive, trained_model) -> Path:
    """Results folder of one ``python -m monai.bundle run inference`` on the messy archive."""
    output_dir = tmp_path_factory.mktemp("bundle_run")
    result = run(bundle_command(messy_archive, output_dir, trained_model))
    assert result.returncode == 0, result.stderr[-3000:]
    return output_dir / "clustering"


@pytest.fixture()
def console_script() -> str:
    """The installed ``monai-debclust`` executable."""
    path = shutil.which("monai-debclust", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    if path is None:
        pytest.skip("the monai-debclust console script is not installed (pip install -e .)")
    return path
