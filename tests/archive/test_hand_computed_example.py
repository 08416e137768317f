"""A run whose every number can be worked out by hand: uniform grey images, a 1-D 'embedding'.

The stub network embeds an image as its mean intensity and has two centres, 0.2 and 0.8, so a
dark image goes to cluster 0 and a bright one to cluster 1. The archive holds 6 normal images
(5 dark, 1 bright), 4 glaucoma images (1 dark, 3 bright) and one unlabelled image at its root:

    class \\ cluster    0   1
    normal             5   1
    glaucoma           1   3
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from monai_debclust.data import ImageArchive, LoadArchiveImaged
from monai_debclust.archive import ArchiveClusterer
from monai_debclust.evaluation import format_report
from monai_debclust.networks import ClusteringHead

SIZE = 16
DARK, BRIGHT = 51, 204  # grey levels 0.2 and 0.8: exactly on the centres
GREYS = {
    "normal": [DARK, DARK, DARK, 40, 60, BRIGHT],
    "glaucoma": [DARK, BRIGHT, 190, 215],
}


class MeanIntensityNet(nn.Module):
    """``embed(x)`` = mean intensity, one feature; centres 0.2 and 0.8."""

    def __init__(self) -> None:
        super().__init__()
        self.clustering = ClusteringHead(1, 2)
        with torch.no_grad():
            self.clustering.centres.copy_(torch.tensor([[0.2], [0.8]]))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(1, 2, 3))[:, None]


class Results(NamedTuple):
    summary: dict
    metrics: dict
    rows: dict[str, dict[str, str]]
    root: Path
    output_dir: Path


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Results:
    root = tmp_path_factory.mktemp("grey")
    for label, greys in GREYS.items():
        (root / label).mkdir()
        for i, grey in enumerate(greys):
            Image.fromarray(np.full((SIZE, SIZE), grey, np.uint8)).save(root / label / f"{i}.png")
    Image.fromarray(np.full((SIZE, SIZE), 128, np.uint8)).save(root / "unlabelled.png")
    output_dir = tmp_path_factory.mktemp("results")
    clusterer = ArchiveClusterer(ImageArchive(root, layout="folder"), MeanIntensityNet(),
                                 LoadArchiveImaged("image", image_size=SIZE), output_dir, progress=False)
    summary = clusterer.run()
    with open(output_dir / "assignments.csv", newline="") as handle:
        rows = {row["id"]: row for row in csv.DictReader(handle)}
    return Results(summary, json.loads((output_dir / "metrics.json").read_text()), rows, root, output_dir)


def test_metrics_equal_the_hand_computed_ones(results):
    metrics = results.metrics
    # cluster 0 -> normal, cluster 1 -> glaucoma; 8 of the 10 labelled images agree
    assert metrics["mapping"] == {"0": 1, "1": 0}  # JSON keys; class ids: glaucoma 0, normal 1
    assert metrics["accuracy"] == pytest.approx(8 / 10)
    assert metrics["per_class"]["glaucoma"] == pytest.approx({"precision": 3 / 4, "recall": 3 / 4, "f1": 3 / 4,
                                                              "support": 4})
    assert metrics["per_class"]["normal"] == pytest.approx({"precision": 5 / 6, "recall": 5 / 6, "f1": 5 / 6,
                                                            "support": 6})
    assert metrics["macro_f1"] == pytest.approx((3 / 4 + 5 / 6) / 2)
    assert metrics["binary_f1"] == pytest.approx(3 / 4) and metrics["positive_class"] == "glaucoma"
    assert metrics["confusion"] == [[1, 3], [5, 1]]  # rows glaucoma, normal; columns clusters 0, 1
    assert metrics["num_labelled"] == 10 and metrics["num_unlabelled"] == 1

    # ARI: sum C(n_ij, 2) = 10 + 3 = 13; rows and columns both give C(6,2) + C(4,2) = 21; C(10,2) = 45
    expected_index = 21 * 21 / 45
    assert metrics["ari"] == pytest.approx((13 - expected_index) / (21 - expected_index))
    # NMI: mutual information over the (equal) entropy of the labels and of the clusters
    joint = {(5, 6, 6), (1, 6, 4), (1, 4, 6), (3, 4, 4)}  # (n_ij, n_i, n_j)
    mutual = sum(n / 10 * math.log(n * 10 / (a * b)) for n, a, b in joint)
    entropy = -(0.6 * math.log(0.6) + 0.4 * math.log(0.4))
    assert metrics["nmi"] == pytest.approx(mutual / entropy)


def test_assignment_columns_equal_the_student_t_by_hand(results):
    rows = results.rows
    on_centre = rows["normal/0.png"]  # feature 0.2: distance 0 to centre 0, 0.6 to centre 1
    q0 = 1.0 / (1.0 + 1.0 / (1.0 + 0.6**2))  # q_ij proportional to 1 / (1 + d^2), alpha = 1
    assert int(on_centre["cluster"]) == 0 and float(on_centre["distance"]) == pytest.approx(0.0, abs=1e-6)
    assert float(on_centre["q_0"]) == pytest.approx(q0, abs=1e-6)
    assert float(on_centre["confidence"]) == pytest.approx(q0, abs=1e-6)
    grey = rows["glaucoma/2.png"]  # 190 / 255 -> cluster 1 at distance 0.8 - 190/255
    assert int(grey["cluster"]) == 1 and float(grey["distance"]) == pytest.approx(0.8 - 190 / 255, abs=1e-6)
    assert rows["unlabelled.png"]["label"] == ""


def test_summary_counts_and_imbalance_by_hand(results):
    summary = results.summary
    assert summary["labels"] == {"class_names": ["glaucoma", "normal"], "labelled": 10}
    # clusters: 0 holds 5 + 1 dark labelled images; 1 holds 1 + 3 bright ones and the unlabelled 0.502
    assert summary["clusters"]["counts"] == [6, 5]
    assert summary["clusters"]["imbalance_ratio"] == pytest.approx(6 / 5)


def test_the_per_class_table_is_printed_at_the_end(results, capsys):
    summary = ArchiveClusterer(ImageArchive(results.root, layout="folder"), MeanIntensityNet(),
                               LoadArchiveImaged("image", image_size=SIZE), results.output_dir, progress=False).run()
    assert summary["images"]["from_earlier_run"] == 11  # the second run only re-assigns and re-reports
    assert format_report(results.metrics) in capsys.readouterr().out
