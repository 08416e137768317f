"""Real-data study: train a bundle on a real archive, then score its features against floors.

Three kinds of row, all on the same decoded images (32 px unless ``--image-size``):

* ``floor``: raw pixels -> PCA-50 (the floors of ``../shared/data/SOURCE.md``);
* ``run``: a bundle's ``training`` in a subprocess with the given overrides and wall-clock
  budget (``--epochs``), then the learned features of every image scored by kNN-20 (5-fold),
  k-means with K clusters, and the model's own clustering head;
* ``simclr`` is a ``run`` of the bundle's ``--method simclr`` (NT-Xent, no clustering branch).

Every method of the comparison, with seeds and the four protocols, is one command of the
experiment runner instead: ``monai-debclust experiment benchmarks/grids/realdata.yaml``.

Examples (from the repository root)::

    python scripts/make_longtail_subset.py ../shared/data/fundus4 runs/fundus_1to9 \
        --counts glaucoma=100 normal=900
    python benchmarks/realdata.py floor runs/fundus_1to9
    python benchmarks/realdata.py run runs/fundus_1to9 --bundle refuge --output runs/real/refuge \
        --epochs 40
    python benchmarks/realdata.py run runs/fundus_1to9 --bundle refuge --output runs/real/simclr \
        --epochs 40 --simclr
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from monai_debclust.data import ImageArchive, load_cohort
from monai_debclust.bundle import load_trained_network
from monai_debclust.evaluation import cluster_report, kmeans, knn_cross_validate

SIMCLR = ["--method", "simclr"]


def _decoded(dataset_dir: Path, image_size: int) -> tuple[torch.Tensor, np.ndarray, list[str]]:
    archive = ImageArchive(dataset_dir, layout="folder")
    samples, skipped = load_cohort(archive.items, image_size, progress=False)
    if skipped:
        print(f"skipped {len(skipped)} unreadable files")
    images = torch.stack([s["image"] for s in samples]).float() / 255.0
    return images, np.array([s["label"] for s in samples]), archive.class_names


def _scores(features: np.ndarray, labels: np.ndarray, assignments: np.ndarray, class_names: list[str]) -> dict:
    report = cluster_report(labels, assignments, class_names=class_names)
    knn = knn_cross_validate(features, labels, k=20, folds=5, seed=0)
    return {
        "cluster_accuracy": report["accuracy"],
        "cluster_macro_f1": report["macro_f1"],
        "cluster_minority_f1": report["minority_f1"],
        "cluster_sizes": np.bincount(assignments).tolist(),
        "knn_accuracy": knn["accuracy"],
        "knn_macro_f1": knn["macro_f1"],
        "knn_per_class_f1": knn["per_class_f1"],
    }


def _kmeans_scores(features: np.ndarray, labels: np.ndarray, class_names: list[str], num_clusters: int) -> dict:
    _, assignments = kmeans(features, num_clusters, seed=0)
    return _scores(features, labels, assignments, class_names)


def floor(args: argparse.Namespace) -> dict:
    from sklearn.decomposition import PCA

    images, labels, class_names = _decoded(args.dataset_dir, args.image_size)
    features = PCA(50, random_state=0).fit_transform(images.flatten(1).numpy())
    return {"row": "raw pixels + PCA-50", **_kmeans_scores(features, labels, class_names, args.num_clusters)}


def run(args: argparse.Namespace) -> dict:
    command = [
        sys.executable, "-m", "monai.bundle", "run", "training",
        "--config_file", f"bundles/{args.bundle}/train.json",
        "--dataset_dir", str(args.dataset_dir), "--output_dir", str(args.output),
        "--epochs", str(args.epochs), "--image_size", str(args.image_size),
        "--num_clusters", str(args.num_clusters), *(SIMCLR if args.simclr else []), *args.overrides,
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - start
    network = load_trained_network(args.output / "models" / "model.pt")
    images, labels, class_names = _decoded(args.dataset_dir, args.image_size)
    with torch.no_grad():
        out = [network(batch) for batch in images.split(256)]
    features = torch.cat([o["features"] for o in out]).numpy()
    head = torch.cat([o["q"] for o in out]).argmax(1).numpy()
    name = "SimCLR (NT-Xent)" if args.simclr else "debclust"
    rows = {"row": f"{name} + k-means", "train_seconds": round(seconds, 1), "overrides": args.overrides,
            **_kmeans_scores(features, labels, class_names, args.num_clusters)}
    if not args.simclr:
        rows["head"] = _scores(features, labels, head, class_names)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["floor", "run"])
    parser.add_argument("dataset_dir", type=Path, help="folder-per-class archive")
    parser.add_argument("--bundle", default="refuge")
    parser.add_argument("--output", type=Path, default=Path("runs/real/run"))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--num-clusters", type=int, default=2)
    parser.add_argument("--simclr", action="store_true", help="NT-Xent, no clustering branch")
    parser.add_argument("--results", type=Path, default=Path("runs/real/results.jsonl"))
    args, overrides = parser.parse_known_args(argv)  # anything else is a bundle override
    args.overrides = [o for o in overrides if o != "--"]
    result = {"dataset": str(args.dataset_dir), **(floor(args) if args.mode == "floor" else run(args))}
    print(json.dumps(result, indent=1))
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with args.results.open("a") as handle:
        handle.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
