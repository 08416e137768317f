"""review.json -> labels.csv: merges, moves, exclusions, refusals, and the round trip through ``cluster``."""

from __future__ import annotations

import csv
import json
import sys

import pytest

from monai_debclust import cli
from monai_debclust.data import ImageArchive, make_fundus_cohort
from monai_debclust.errors import SettingError
from monai_debclust.review import resolve_merges, review_labels

from .helpers import console_arguments, run

IDS = ["a.png", "b.png", "c.png", "d.png", "e.png"]
CLUSTERS = [0, 1, 2, 3, 3]


def _review(**decisions) -> dict:
    return {"format": 1, "cluster_names": {}, "merge": {}, "moved": {}, "excluded": [], **decisions}


def test_merge_chains_moves_names_and_exclusions():
    review = _review(cluster_names={"0": "healthy", "1": "glaucoma"}, merge={"3": "2", "2": "1"},
                     moved={"a.png": "3"}, excluded=["e.png"])
    labels, excluded = review_labels(review, IDS, CLUSTERS, num_clusters=5)
    # a moved into 3, which merges 3 -> 2 -> 1: glaucoma; d (cluster 3) follows the chain too
    assert labels == {"a.png": "glaucoma", "b.png": "glaucoma", "c.png": "glaucoma", "d.png": "glaucoma"}
    assert excluded == ["e.png"]
    labels, _ = review_labels(_review(cluster_names={"1": "glaucoma"}), IDS, CLUSTERS, num_clusters=4)
    assert labels["a.png"] == "cluster 0" and labels["b.png"] == "glaucoma" and labels["d.png"] == "cluster 3"


def test_merge_cycles_are_refused_and_chains_end_in_their_last_cluster():
    assert resolve_merges({3: 2, 2: 1}, 4) == [0, 1, 1, 1]
    with pytest.raises(SettingError, match=r"cycle \(1 -> 2 -> 1\)"):
        resolve_merges({1: 2, 2: 1}, 3)


@pytest.mark.parametrize("decisions, message", [
    ({"cluster_names": {"7": "x"}}, "names cluster '7' in cluster_names, but the run has clusters 0 to 3"),
    ({"merge": {"0": "9"}}, "names cluster '9' in merge"),
    ({"moved": {"zzz.png": "1"}}, "'moved' names 1 image\\(s\\) the run does not have: 'zzz.png'"),
    ({"excluded": ["nope.png"]}, "'excluded' names 1 image\\(s\\) the run does not have: 'nope.png'"),
    ({"moved": {"a.png": "12"}}, "names cluster '12' in moved\\['a.png'\\]"),
])
def test_a_review_of_another_run_is_refused(decisions, message):
    with pytest.raises(SettingError, match=message):
        review_labels(_review(**decisions), IDS, CLUSTERS, num_clusters=4)


def test_bad_review_files_are_refused(tmp_path, capsys):
    run_dir = tmp_path / "run" / "clustering"
    run_dir.mkdir(parents=True)
    (run_dir / "assignments.csv").write_text("id,cluster,confidence\na.png,0,0.9\n")
    review = tmp_path / "review.json"
    review.write_text(json.dumps({"format": 2}))
    assert cli.main(["labels", str(tmp_path / "run"), "--review", str(review), "--out", str(tmp_path / "l.csv")]) == 2
    assert "is not a review of format 1" in capsys.readouterr().err
    review.write_text(json.dumps({"format": 1, "renamed": {}}))
    assert cli.main(["labels", str(tmp_path / "run"), "--review", str(review), "--out", str(tmp_path / "l.csv")]) == 2
    assert "unknown key(s) renamed" in capsys.readouterr().err
    assert cli.main(["labels", str(tmp_path), "--review", str(review), "--out", str(tmp_path / "l.csv")]) == 2
    assert "no clustering results" in capsys.readouterr().err


def test_csv_layout_leaves_excluded_images_out(tmp_path):
    root = make_fundus_cohort(tmp_path / "cohort", counts={"glaucoma": 2, "normal": 3}, image_size=32, seed=0)
    ids = [item["id"] for item in ImageArchive(root).items]
    table = tmp_path / "labels" / "labels.csv"
    table.parent.mkdir()
    table.write_text("id,label\n" + "".join(f"{i},{'a' if k % 2 else 'b'}\n" for k, i in enumerate(ids[:3])))
    (table.parent / "excluded.txt").write_text(f"{ids[3]}\n")
    archive = ImageArchive(root, layout="csv", labels_csv=table)
    kept = [item["id"] for item in archive.items]
    assert ids[3] not in kept  # excluded: not part of the dataset
    assert ids[4] in kept and archive.items[kept.index(ids[4])]["label"] == -1  # unlisted: unlabelled
    assert archive.class_names == ["a", "b"]


def test_train_labels_csv_option_implies_the_csv_layout():
    args = cli.build_parser().parse_args(["train", "--bundle", "b", "--labels-csv", "x/labels.csv"])
    assert cli.train_overrides(args) == {"layout": "csv", "labels_csv": "x/labels.csv"}
    args = cli.build_parser().parse_args(["train", "--bundle", "b", "--labels-csv", "l.csv", "--layout", "refuge"])
    assert cli.train_overrides(args)["layout"] == "refuge"


@pytest.mark.slow
def test_review_labels_cluster_round_trip(bundle_run, messy_archive, trained_model, tmp_path, capsys):
    with open(bundle_run / "assignments.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    ids = [row["id"] for row in rows]
    review = tmp_path / "review.json"
    review.write_text(json.dumps({"format": 1, "cluster_names": {"0": "healthy"}, "merge": {},
                                  "moved": {ids[0]: "1"}, "excluded": ids[1:3]}))
    out = tmp_path / "reviewed" / "labels.csv"
    assert cli.main(["labels", str(bundle_run.parent), "--review", str(review), "--out", str(out)]) == 0
    assert "labels written to" in capsys.readouterr().out
    with open(out, newline="") as handle:
        labels = {row["id"]: row["label"] for row in csv.DictReader(handle)}
    assert set(labels) == set(ids) - set(ids[1:3])
    assert labels[ids[0]] == "cluster 1"
    assert {labels[row["id"]] for row in rows[3:] if row["cluster"] == "0"} <= {"healthy"}
    assert (out.parent / "excluded.txt").read_text().split() == ids[1:3]

    result = run([sys.executable, "-m", "monai_debclust.cli",
                  *console_arguments(messy_archive, tmp_path / "again", trained_model, layout="csv", labels_csv=out)])
    assert result.returncode == 0, result.stderr[-3000:]
    with open(tmp_path / "again" / "clustering" / "assignments.csv", newline="") as handle:
        again = {row["id"]: row["label"] for row in csv.DictReader(handle)}
    assert set(again) == set(labels)  # the excluded images are neither clustered nor evaluated
    assert all(again[i] == labels[i] for i in again)
    metrics = json.loads((tmp_path / "again" / "clustering" / "metrics.json").read_text())
    assert metrics["num_labelled"] == len(labels)
