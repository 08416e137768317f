"""Benchmark archive clustering: end-to-end speed, model ceiling, peak memory, k-means at scale.

Four measurements, each printed as it finishes:

1. **End to end** on the real fundus photographs (``../shared/data/fundus4``): images/s of
   :class:`~monai_debclust.engines.inference.ArchiveClusterer` (decode -> embed -> assign ->
   write every output and the report) with 0, 1 and 2 loader workers, and the images/s of its
   embedding pass alone;
2. **Model ceiling**: images/s of ``network.embed`` on the same images decoded beforehand into
   one tensor; the end-to-end rate over this ceiling shows what reading and writing cost;
3. **Peak memory** (``VmHWM`` of a fresh process, and the ``ru_maxrss`` of its largest loader
   worker) clustering a synthetic archive of tiny PNGs, at a tenth of the size and at full size: bounded memory means
   the two peaks are close;
4. **k-means** of N x D embeddings (default 1,000,000 x 128, K = 7, long-tailed): faiss on all
   points against scikit-learn, which is timed on a subsample and extrapolated linearly
   (Lloyd iterations cost O(N K D); the printed figure says so).

The network has random weights (speed does not depend on them) and the sizes of the REFUGE
bundle's CPU defaults (ConvMixer dim 64, depth 4, kernel 7, patch 2, 32 px images).

    python benchmarks/cluster.py                       # the full run
    python benchmarks/cluster.py --fundus-images 400 --archive-size 20000 --kmeans-points 200000
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from PIL import Image

from monai_debclust.data import ImageArchive, LoadArchiveImaged, load_image
from monai_debclust.engines.inference import ArchiveClusterer
from monai_debclust.evaluation.kmeans import faiss_available, kmeans
from monai_debclust.networks import DebClustNet

FUNDUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "fundus4"


def network_args(dim: int, depth: int) -> dict:
    return {"encoder": "convmixer", "num_clusters": 2,
            "encoder_kwargs": {"dim": dim, "depth": depth, "kernel_size": 7, "patch_size": 2}}


def build_network(dim: int, depth: int) -> DebClustNet:
    torch.manual_seed(0)
    return DebClustNet(**network_args(dim, depth)).eval()


def cluster(items: list[dict], root: Path, network: DebClustNet, image_size: int, output_dir: Path,
            workers: int, batch_size: int) -> tuple[float, dict]:
    """Seconds of one complete clustering run and its summary."""
    archive = SimpleNamespace(items=items, class_names=None, root=root)
    clusterer = ArchiveClusterer(archive, network, LoadArchiveImaged("image", image_size=image_size), output_dir,
                                 batch_size=batch_size, num_workers=workers, chunk_size=4096, progress=False,
                                 load_settings={"image_size": image_size})
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the run's own summary lines
        summary = clusterer.run()
    return time.perf_counter() - started, summary


def end_to_end(args: argparse.Namespace) -> None:
    if not args.fundus_dir.is_dir():
        print(f"[end to end] skipped: no fundus images at {args.fundus_dir}")
        return
    items = ImageArchive(args.fundus_dir).items
    items = sorted(random.Random(0).sample(items, min(args.fundus_images, len(items))), key=lambda i: i["id"])
    network = build_network(args.dim, args.depth)
    print(f"[end to end] {len(items)} fundus photographs (256 px JPEG/PNG) -> {args.image_size} px, "
          f"ConvMixer dim {args.dim} depth {args.depth}, batch {args.batch_size}, torch threads "
          f"{torch.get_num_threads()}")
    rates = {}
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as output_dir:
            seconds, summary = cluster(items, args.fundus_dir, network, args.image_size, Path(output_dir),
                                       workers, args.batch_size)
        rates[workers] = len(items) / seconds
        timings = summary["timings"]
        print(f"  workers={workers}: {rates[workers]:7.1f} images/s end to end ({seconds:.1f} s: embed "
              f"{timings['embed_s']:.1f} s at {timings['images_per_s']:.1f} images/s, assign "
              f"{timings['assign_s']:.1f} s, report {timings['report_s']:.1f} s)")

    images = torch.stack([load_image(item["path"], args.image_size) for item in items])
    with torch.inference_mode():
        network.embed(images[: args.batch_size])  # warm-up
        started = time.perf_counter()
        for start in range(0, len(images), args.batch_size):
            network.embed(images[start : start + args.batch_size])
        ceiling = len(images) / (time.perf_counter() - started)
    print(f"[model only] {ceiling:7.1f} images/s on pre-decoded tensors (the ceiling on this machine)")
    for workers, rate in rates.items():
        print(f"  workers={workers}: end to end / ceiling = {rate / ceiling:.2f}")


def write_tiny_archive(root: Path, size: int, side: int = 16) -> None:
    """``size`` random ``side`` px RGB PNGs in folders of 1,000."""
    rng = np.random.default_rng(0)
    for index in range(size):
        folder = root / f"{index // 1000:04d}"
        if index % 1000 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(folder / f"{index:07d}.png",
                                                                                   compress_level=1)


def child_cluster(archive: Path, limit: int, workers: int) -> None:
    """Run in a fresh process: cluster the first ``limit`` images, print its peak memory as JSON."""
    items = ImageArchive(archive).items[:limit]
    network = build_network(8, 1)
    with tempfile.TemporaryDirectory() as output_dir:
        seconds, _ = cluster(items, archive, network, 16, Path(output_dir), workers, 256)
    workers_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"images": len(items), "seconds": seconds, "peak_mib": peak_rss_mib(),
                      "worker_peak_mib": workers_peak}))


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB.

    ``VmHWM`` where Linux provides it: ``ru_maxrss`` of a process started by ``fork`` + ``exec``
    also counts the resident memory its parent had at the fork.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_memory(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "archive"
        started = time.perf_counter()
        write_tiny_archive(archive, args.archive_size)
        print(f"[peak memory] wrote {args.archive_size} 16 px PNGs in {time.perf_counter() - started:.0f} s; "
              f"tiny ConvMixer (dim 8, depth 1), {args.memory_workers} workers")
        for limit in (args.archive_size // 10, args.archive_size):
            result = subprocess.run(
                [sys.executable, __file__, "--child-cluster", str(archive), str(limit), str(args.memory_workers)],
                capture_output=True, text=True, check=True,
            )
            stats = json.loads(result.stdout.strip().splitlines()[-1])
            print(f"  {stats['images']:>8d} images: peak RSS {stats['peak_mib']:6.0f} MiB (largest worker "
                  f"{stats['worker_peak_mib']:.0f} MiB), {stats['images'] / stats['seconds']:.0f} images/s")


def long_tailed_points(count: int, dim: int, clusters: int) -> np.ndarray:
    """``count`` points around ``clusters`` Gaussian centres with sizes falling 1 : 1/2 : 1/4 ..."""
    rng = np.random.default_rng(0)
    weights = 0.5 ** np.arange(clusters)
    members = rng.choice(clusters, size=count, p=weights / weights.sum())
    centres = rng.normal(0.0, 3.0, (clusters, dim)).astype(np.float32)
    return centres[members] + rng.standard_normal((count, dim), dtype=np.float32)


def kmeans_at_scale(args: argparse.Namespace) -> None:
    points = long_tailed_points(args.kmeans_points, args.kmeans_dim, args.kmeans_k)
    print(f"[k-means] {len(points)} x {args.kmeans_dim} float32 ({points.nbytes / 2**20:.0f} MiB), K={args.kmeans_k}, "
          f"n_init={args.n_init}, max_iter={args.max_iter}")
    if faiss_available():
        started = time.perf_counter()
        kmeans(points, args.kmeans_k, n_init=args.n_init, max_iter=args.max_iter, backend="faiss")
        print(f"  faiss, all points:        {time.perf_counter() - started:7.1f} s")
    else:
        print("  faiss: not installed (pip install faiss-cpu)")
    sample = points[: min(args.sklearn_points, len(points))]
    started = time.perf_counter()
    kmeans(sample, args.kmeans_k, n_init=args.n_init, max_iter=args.max_iter, backend="sklearn")
    seconds = time.perf_counter() - started
    scale = len(points) / len(sample)
    estimate = "" if scale == 1 else f" -> about {seconds * scale:.1f} s for all {len(points)} (linear extrapolation)"
    print(f"  scikit-learn, {len(sample)} points: {seconds:7.1f} s{estimate}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fundus-dir", type=Path, default=FUNDUS)
    parser.add_argument("--fundus-images", type=int, default=4000, help="fundus photographs to cluster (at most 4000)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--archive-size", type=int, default=100_000)
    parser.add_argument("--memory-workers", type=int, default=2)
    parser.add_argument("--kmeans-points", type=int, default=1_000_000)
    parser.add_argument("--kmeans-dim", type=int, default=128)
    parser.add_argument("--kmeans-k", type=int, default=7)
    parser.add_argument("--n-init", type=int, default=None, help="k-means restarts (default: each backend's own, 3 faiss, 10 sklearn)")
    parser.add_argument("--max-iter", type=int, default=None, help="iterations per restart (default: 50 faiss, 300 sklearn)")
    parser.add_argument("--sklearn-points", type=int, default=100_000)
    parser.add_argument("--only", choices=["end-to-end", "memory", "kmeans"], nargs="+",
                        default=["end-to-end", "memory", "kmeans"])
    parser.add_argument("--child-cluster", nargs=3, metavar=("ARCHIVE", "LIMIT", "WORKERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_cluster:
        child_cluster(Path(args.child_cluster[0]), int(args.child_cluster[1]), int(args.child_cluster[2]))
        return
    steps = {"end-to-end": end_to_end, "memory": peak_memory, "kmeans": kmeans_at_scale}
    for name in args.only:
        steps[name](args)


if __name__ == "__main__":
    main()
