"""Throughput of the two-view augmentation: per-sample ``TwoViewd`` against batched ``BatchTwoViews``.

Both paths run the same ops (``monai_debclust.transforms``); the per-sample path is the one the
bundles' data pipelines run today (one ``uint8`` image at a time, scaled to float, two views),
the batched one makes both views of a whole ``uint8`` batch in one pass, as the trainer does on
its device with ``views=``. Images are synthetic fundus-like discs (the content does not change
the cost). Figures are images per second (one image = its two views), the best of ``--repeats``
timed passes after one warm-up pass, measured in the same run for every row; on CUDA the batched
path is also timed on the GPU (per-sample is a CPU-side path and is not).

    python benchmarks/views.py --sizes 32 224 --batch-size 256 --threads 1 2
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from monai_debclust.transforms import BatchTwoViews, TwoViewd


def fundus_like(batch: int, size: int) -> torch.Tensor:
    """``uint8`` colour discs on black, ``(batch, 3, size, size)``."""
    generator = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    inside = ((yy - (size - 1) / 2) ** 2 + (xx - (size - 1) / 2) ** 2) <= (0.45 * size) ** 2
    images = torch.rand(batch, 3, size, size, generator=generator) * 0.7 + 0.2
    return (images * inside * 255).round().to(torch.uint8)


def best_seconds(run: Callable[[], object], repeats: int, sync: Callable[[], None]) -> float:
    """The fastest of ``repeats`` timed calls of ``run``, after one untimed call."""
    run()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 224], help="image sides")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch CPU thread counts")
    parser.add_argument("--preset", default="fundus", help="view preset")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    def no_sync() -> None:
        return None

    print(f"preset {args.preset}, batch {args.batch_size}, images/s (two views each), best of {args.repeats}")
    print(f"{'size':>5} {'path':<22} {'device':<7} {'threads':>7} {'images/s':>10}")
    for size in args.sizes:
        images = fundus_like(args.batch_size, size)
        per_sample = TwoViewd(preset=args.preset).set_random_state(0)
        batched = BatchTwoViews(args.preset)
        generator = torch.Generator().manual_seed(0)
        rows = []
        for threads in args.threads:
            torch.set_num_threads(threads)
            seconds = best_seconds(lambda: [per_sample({"image": image}) for image in images], args.repeats, no_sync)
            rows.append(("per-sample TwoViewd", "cpu", threads, seconds))
            seconds = best_seconds(lambda: batched(images, generator), args.repeats, no_sync)
            rows.append(("batched BatchTwoViews", "cpu", threads, seconds))
        if torch.cuda.is_available():
            on_gpu = images.cuda()
            seconds = best_seconds(lambda: batched(on_gpu, generator), args.repeats, torch.cuda.synchronize)
            rows.append(("batched BatchTwoViews", "cuda", torch.get_num_threads(), seconds))
        for path, device, threads, seconds in rows:
            print(f"{size:>5} {path:<22} {device:<7} {threads:>7} {args.batch_size / seconds:>10.0f}", flush=True)


if __name__ == "__main__":
    main()
