"""Throughput of the training input pipeline: read + resize + two views, by DataLoader workers.

Reads the first ``--n`` images (sorted paths) of the real fundus set through
``GuardedDataset`` + ``LoadArchiveImaged`` (decode, resize to ``--image-size``) + ``TwoViewd``
(``--preset``), batched by MONAI's DataLoader with ``skip_collate``, once per worker count; one
pass per row, worker start-up included. Then the same views on pre-decoded tensors, which is
the augmentation cost alone. Every process uses one torch thread.

    python benchmarks/data.py --n 400 --image-size 128 --workers 0 1 2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from monai.data import DataLoader
from monai.transforms import Compose
from monai.utils import set_determinism

from monai_debclust.data.dataset import GuardedDataset, LoadArchiveImaged, load_image, skip_collate
from monai_debclust.data.readers import IMAGE_EXTENSIONS
from monai_debclust.transforms import TwoViewd

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fundus4"


def archive_items(root: Path, n: int) -> list[dict]:
    """The first ``n`` image files under ``root`` (sorted relative paths) as archive items."""
    paths = sorted(p for p in root.rglob("*") if p.is_file() and p.name.lower().endswith(IMAGE_EXTENSIONS))[:n]
    if not paths:
        raise SystemExit(f"no images under {root}")
    return [{"id": p.relative_to(root).as_posix(), "path": str(p), "label": -1} for p in paths]


def time_loader(items: list[dict], transform: Compose, workers: int, batch_size: int) -> tuple[float, int]:
    """Seconds for one pass over ``items`` and the number of images that came out."""
    loader = DataLoader(
        GuardedDataset(items, transform), batch_size=batch_size, num_workers=workers, collate_fn=skip_collate
    )
    start, count = time.perf_counter(), 0
    for batch in loader:
        count += len(batch.get("id", []))
    return time.perf_counter() - start, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="image folder (searched recursively)")
    parser.add_argument("--n", type=int, default=400, help="number of images")
    parser.add_argument("--image-size", type=int, default=128, help="side the images are resized to")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2], help="DataLoader worker counts")
    parser.add_argument("--preset", default="fundus", help="TwoViewd preset")
    args = parser.parse_args()

    torch.set_num_threads(1)
    set_determinism(seed=0)
    items = archive_items(args.data_dir, args.n)
    load = LoadArchiveImaged(keys="image", image_size=args.image_size)
    views = TwoViewd(keys="image", preset=args.preset)
    print(f"{len(items)} images from {args.data_dir}, resized to {args.image_size} px, preset {args.preset!r}, "
          f"batch {args.batch_size}, 1 torch thread per process")
    print(f"{'pipeline':<34}{'workers':>8}{'seconds':>10}{'images/s':>10}")
    rows = [("read + resize", Compose([load]), args.workers[0])]
    rows += [("read + resize + two views", Compose([load, views]), workers) for workers in args.workers]
    for name, transform, workers in rows:
        seconds, count = time_loader(items, transform, workers, args.batch_size)
        print(f"{name:<34}{workers:>8}{seconds:>10.2f}{count / seconds:>10.0f}")

    images = [load_image(item["path"], args.image_size) for item in items]
    views.set_random_state(0)
    start = time.perf_counter()
    for image in images:
        views({"image": image})
    seconds = time.perf_counter() - start
    print(f"{'two views on decoded tensors':<34}{'-':>8}{seconds:>10.2f}{len(images) / seconds:>10.0f}")


if __name__ == "__main__":
    main()
