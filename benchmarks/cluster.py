"""Benchmark archive clustering: end to end against its two ceilings, peak memory, k-means at scale.

For the real fundus photographs (``../shared/data/fundus4``, 256 px JPEG/PNG) and for a generated
archive of 100,000 synthetic fundus JPEGs (256 px, written to a temporary folder), each printed
as it finishes:

1. **End to end**: images/s of a complete :class:`~monai_debclust.archive.clusterer.ArchiveClusterer`
   run (decode -> embed -> assign -> write every output and the report) in a fresh process, with
   the bundle's loading (``LoadArchiveImaged``, ``uint8``, reduced-scale JPEG decoding) and its
   default number of decoding workers; and that process's peak memory (``VmHWM``, and the
   largest worker's);
2. **Decode-only ceiling**: the same loader, same workers, with no model (the fastest the files
   can be decoded here), the best of ``--repeats`` passes;
3. **Model-only ceiling**: images/s of ``network.embed`` as the clusterer runs it (channels
   last) on batches already in memory, the best of ``--repeats`` passes;
4. the ratio of end to end to the lower ceiling, and to the overlap bound
   ``1 / (1/decode + 1/model)``, what perfect overlap reaches when both share the same cores;
5. for the generated archive, the peak memory at a tenth of the size too: bounded memory means
   the two peaks are close;
6. **k-means** of N x D embeddings (default 1,000,000 x 128, K = 7, long-tailed): faiss on all
   points against scikit-learn, which is timed on a subsample and extrapolated linearly
   (Lloyd iterations cost O(N K D); the printed figure says so).

The network has random weights (speed does not depend on them) and the sizes of the REFUGE
bundle's CPU defaults (ConvMixer dim 64, depth 4, kernel 7, patch 2, 32 px images).

    python benchmarks/cluster.py                       # the full run
    python benchmarks/cluster.py --archive-size 20000 --kmeans-points 200000 --only fundus archive
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

from monai_debclust.data import ImageArchive, LoadArchiveImaged, archive_loader, default_num_workers, render_fundus
from monai_debclust.archive import ArchiveClusterer
from monai_debclust.similarity import faiss_available, kmeans
from monai_debclust.networks import DebClustNet

FUNDUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "fundus4"
#: Distinct synthetic photographs the generated archive's files cycle through.
GENERATED_POOL = 64


def build_network(dim: int, depth: int) -> DebClustNet:
    torch.manual_seed(0)
    return DebClustNet("convmixer", num_clusters=2, encoder_kwargs={
        "dim": dim, "depth": depth, "kernel_size": 7, "patch_size": 2}).eval()


def loading(image_size: int) -> LoadArchiveImaged:
    """The bundles' loading transform (``configs/inference.json``)."""
    return LoadArchiveImaged("image", image_size=image_size, dtype=torch.uint8)


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


def child_cluster(args: argparse.Namespace, items_file: Path) -> None:
    """Run in a fresh process: cluster the items listed in ``items_file``, print figures as JSON."""
    listing = json.loads(items_file.read_text())
    archive = SimpleNamespace(items=listing["items"], class_names=None, root=Path(listing["root"]))
    network = build_network(args.dim, args.depth)
    with tempfile.TemporaryDirectory() as output_dir:
        clusterer = ArchiveClusterer(archive, network, loading(args.image_size), output_dir,
                                     batch_size=args.batch_size, num_workers=args.workers, chunk_size=4096,
                                     progress=False, load_settings={"image_size": args.image_size})
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # the run's own summary lines
            summary = clusterer.run()
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "embed_rate": summary["timings"]["images_per_s"],
                      "workers": summary["settings"]["num_workers"], "peak_mib": peak_rss_mib(),
                      "worker_peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))


def end_to_end(args: argparse.Namespace, root: Path, items: list[dict]) -> dict:
    """Figures of one complete clustering run of ``items`` in a fresh process."""
    with tempfile.TemporaryDirectory() as folder:
        items_file = Path(folder) / "items.json"
        items_file.write_text(json.dumps({"root": str(root), "items": items}))
        command = [sys.executable, __file__, "--child-cluster", str(items_file), "--dim", str(args.dim),
                   "--depth", str(args.depth), "--image-size", str(args.image_size),
                   "--batch-size", str(args.batch_size)] + (["--workers", str(args.workers)]
                                                            if args.workers is not None else [])
        result = subprocess.run(command, capture_output=True, text=True, check=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["rate"] = len(items) / figures["seconds"]
    return figures


def decode_ceiling(args: argparse.Namespace, items: list[dict], workers: int) -> float:
    """Images/s of the clusterer's loader alone, same workers, the best of ``--repeats`` passes."""
    best = 0.0
    for _ in range(args.repeats):
        started, count = time.perf_counter(), 0
        for batch in archive_loader(items, loading(args.image_size), args.batch_size, workers):
            count += len(batch.get("id", ())) + len(batch["skipped"])
        best = max(best, count / (time.perf_counter() - started))
    return best


def model_ceiling(args: argparse.Namespace, images: int = 4096) -> float:
    """Images/s of ``embed`` as the clusterer runs it, on ``uint8`` batches in memory; the best of ``--repeats``."""
    network = build_network(args.dim, args.depth).to(memory_format=torch.channels_last)
    pixels = torch.randint(0, 256, (images, 3, args.image_size, args.image_size), dtype=torch.uint8)
    best = 0.0
    with torch.inference_mode():
        network.embed(pixels[: args.batch_size].float())  # warm-up
        for _ in range(args.repeats):
            started = time.perf_counter()
            for start in range(0, images, args.batch_size):
                batch = pixels[start : start + args.batch_size].float().div_(255.0)
                network.embed(batch.contiguous(memory_format=torch.channels_last))
            best = max(best, images / (time.perf_counter() - started))
    return best


def report(name: str, args: argparse.Namespace, root: Path, items: list[dict]) -> None:
    """Print end to end, both ceilings and the ratios for ``items``."""
    run = end_to_end(args, root, items)
    decode = decode_ceiling(args, items, run["workers"])
    model = model_ceiling(args)
    bound = 1.0 / (1.0 / decode + 1.0 / model)
    print(f"[{name}] {len(items)} images, ConvMixer {args.dim}/{args.depth}, {args.image_size} px, batch "
          f"{args.batch_size}, {run['workers']} decoding workers, {torch.get_num_threads()} torch threads")
    print(f"  end to end        {run['rate']:8.0f} images/s  ({run['seconds']:.1f} s; embedding pass "
          f"{run['embed_rate']:.0f} images/s)")
    print(f"  decode-only ceiling {decode:6.0f} images/s  (same loader and workers, no model)")
    print(f"  model-only ceiling  {model:6.0f} images/s  (embed on batches in memory)")
    print(f"  end to end / lower ceiling = {run['rate'] / min(decode, model):.2f}; / overlap bound "
          f"{bound:.0f} images/s = {run['rate'] / bound:.2f}")
    print(f"  peak RSS {run['peak_mib']:.0f} MiB (largest worker {run['worker_peak_mib']:.0f} MiB)", flush=True)


def real_fundus(args: argparse.Namespace) -> None:
    if not args.fundus_dir.is_dir():
        print(f"[real fundus] skipped: no fundus images at {args.fundus_dir}")
        return
    items = ImageArchive(args.fundus_dir).items
    items = sorted(random.Random(0).sample(items, min(args.fundus_images, len(items))), key=lambda i: i["id"])
    report("real fundus", args, args.fundus_dir, items)


def write_generated_archive(root: Path, size: int) -> None:
    """``size`` 256 px synthetic fundus JPEGs in folders of 1,000, cycling through a pool of photographs."""
    rng = np.random.default_rng(0)
    pool = []
    for index in range(GENERATED_POOL):
        encoded = io.BytesIO()
        label = "glaucoma" if index % 10 == 0 else "normal"
        Image.fromarray(render_fundus(label, 256, rng)).save(encoded, format="JPEG", quality=90)
        pool.append(encoded.getvalue())
    for index in range(size):
        folder = root / f"{index // 1000:04d}"
        if index % 1000 == 0:
            folder.mkdir(parents=True)
        (folder / f"{index:07d}.jpg").write_bytes(pool[index % GENERATED_POOL])


def generated_archive(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "archive"
        started = time.perf_counter()
        write_generated_archive(root, args.archive_size)
        items = ImageArchive(root).items
        print(f"[generated archive] wrote {len(items)} 256 px fundus JPEGs in {time.perf_counter() - started:.0f} s")
        tenth = end_to_end(args, root, items[: len(items) // 10])
        print(f"  a tenth ({len(items) // 10} images): {tenth['rate']:.0f} images/s end to end, peak RSS "
              f"{tenth['peak_mib']:.0f} MiB (largest worker {tenth['worker_peak_mib']:.0f} MiB)")
        report("generated archive", args, root, items)


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
    parser.add_argument("--workers", type=int, default=None,
                        help=f"decoding workers (default: the bundle's, {default_num_workers('cpu')} here)")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2, help="passes of each ceiling; the best is printed")
    parser.add_argument("--archive-size", type=int, default=100_000)
    parser.add_argument("--kmeans-points", type=int, default=1_000_000)
    parser.add_argument("--kmeans-dim", type=int, default=128)
    parser.add_argument("--kmeans-k", type=int, default=7)
    parser.add_argument("--n-init", type=int, default=None, help="k-means restarts (default: each backend's own, 3 faiss, 10 sklearn)")
    parser.add_argument("--max-iter", type=int, default=None, help="iterations per restart (default: 50 faiss, 300 sklearn)")
    parser.add_argument("--sklearn-points", type=int, default=100_000)
    parser.add_argument("--only", choices=["fundus", "archive", "kmeans"], nargs="+",
                        default=["fundus", "archive", "kmeans"])
    parser.add_argument("--child-cluster", type=Path, metavar="ITEMS_JSON", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_cluster:
        child_cluster(args, args.child_cluster)
        return
    steps = {"fundus": real_fundus, "archive": generated_archive, "kmeans": kmeans_at_scale}
    for name in args.only:
        steps[name](args)


if __name__ == "__main__":
    main()
