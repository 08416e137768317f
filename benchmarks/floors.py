"""The floors of the study's protocols: raw pixels and an untrained encoder, scored as a trained model is.

A trained arm that scores no better than these has learnt nothing the protocol can see; arms that
all sit on the floor are a warning about the budget, not a finding about the methods. For each data
folder (class sub-folders) the images are decoded at the study's 32 px, and two feature sets are
scored by :func:`~monai_debclust.evaluation.evaluate_protocols` with the same pixel duplicate groups
as the study (``--duplicate-cache`` shares its cache):

* ``pixels``: the 32 x 32 x 3 pixels, each channel standardised over the data set;
* ``untrained``: the study's encoder (ConvMixer dim 32, depth 2, kernel 5, patch 4) at its seed-0
  initial weights, the features every arm starts from.

    python benchmarks/floors.py runs/study/screen/data/fundus_r9 --classes normal glaucoma
    python benchmarks/floors.py runs/study/screen/data/fundus_r9 --classes normal glaucoma \
        --patient-pattern '^(\d+)_(?:left|right)'       # both eyes of one patient in one fold
    python benchmarks/floors.py ../shared/data/isic9/Train --test ../shared/data/isic9/Test
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

import numpy as np
import torch

from monai_debclust.data import IMAGE_EXTENSIONS, load_cohort
from monai_debclust.evaluation import evaluate_protocols
from monai_debclust.networks import DebClustNet
from monai_debclust.similarity import pixel_duplicate_groups

ROWS = ("knn", "linear", "kmeans")


def listing(folder: Path, classes: list[str], test: bool) -> list[dict]:
    return [{"path": str(path), "id": f"{'test/' if test else ''}{path.relative_to(folder).as_posix()}",
             "label": index, "test": test}
            for index, name in enumerate(classes)
            for path in sorted((folder / name).iterdir()) if path.suffix.lower() in IMAGE_EXTENSIONS]


def untrained_features(images: torch.Tensor, seed: int = 0) -> np.ndarray:
    torch.manual_seed(seed)
    network = DebClustNet("convmixer", num_clusters=2, projection_hidden=256,
                          encoder_kwargs={"dim": 32, "depth": 2, "kernel_size": 5, "patch_size": 4}).eval()
    with torch.no_grad():
        return torch.cat([network.embed(batch.float() / 255.0) for batch in images.split(256)]).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--classes", nargs="+", help="class folders in label order (default: all, sorted)")
    parser.add_argument("--test", type=Path, help="the data set's own test folder (isic9 Test/)")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--duplicate-cache", type=Path, help="the study's duplicate cache folder")
    parser.add_argument("--patient-pattern", help="regular expression whose first group, matched on a file "
                        "name, is its patient id (a non-matching name has none)")
    args = parser.parse_args()
    classes = args.classes or sorted(p.name for p in args.folder.iterdir() if p.is_dir())
    items = listing(args.folder, classes, False) + (listing(args.test, classes, True) if args.test else [])
    samples, skipped = load_cohort(items, args.image_size, progress=False, num_workers=min(2, os.cpu_count() or 1))
    kept = {sample["id"] for sample in samples}
    items = [item for item in items if item["id"] in kept]
    images = torch.stack([sample["image"] for sample in samples])
    labels = np.array([sample["label"] for sample in samples])
    groups = pixel_duplicate_groups([item["path"] for item in items], cache_dir=args.duplicate_cache)
    is_test = np.array([item["test"] for item in items]) if args.test else None
    patients = None
    if args.patient_pattern:
        found = [re.match(args.patient_pattern, Path(item["path"]).name) for item in items]
        patients = [match.group(1) if match else "" for match in found]
    pixels = images.reshape(len(images), -1).float().numpy()
    pixels = (pixels - pixels.mean(axis=0)) / (pixels.std(axis=0) + 1e-6)
    print(f"{args.folder}: {len(items)} images ({len(skipped)} skipped), classes {classes}")
    for name, features in (("pixels", pixels), ("untrained", untrained_features(images))):
        scores = evaluate_protocols(features, labels, classes, protocols=("linear", "knn", "clustering"),
                                    groups=groups, extra_keys=patients, is_test=is_test)
        cells = "  ".join(f"{row} f1 {scores[row]['f1']:.3f} minority {scores[row]['minority_f1']:.3f}"
                          for row in ROWS if row in scores)
        print(f"{name:>9}: {cells}", flush=True)


if __name__ == "__main__":
    main()
