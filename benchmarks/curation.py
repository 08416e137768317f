"""Benchmark curation: duplicate grouping + top-5 neighbours at scale, their recall, and the end-to-end cost.

1. **Scale** (``--sizes``, default 10^5 and 10^6 generated embeddings of dim 128): the time and
   peak memory (``VmHWM`` of a fresh process) of :func:`~monai_debclust.similarity.group_duplicates`
   (content hashes + cosine >= 0.999, as ``duplicates.csv``) plus
   :func:`~monai_debclust.similarity.top_k_neighbours` with k = 5 (as ``neighbours.csv``); past
   :data:`~monai_debclust.similarity.EXACT_SEARCH_LIMIT` rows the grouping's range search uses faiss'
   inverted lists and the top-5 search an HNSW graph.
   The embeddings are made like a trained model's: a long-tailed mixture of 200 clusters in a
   16-dimensional latent space, mapped linearly to 128 dimensions, plus isotropic noise, and 1 %
   of them planted as near-copies.
2. **Recall** of the HNSW top-5 against exact search on a 10^5 sample (2,000 queries),
   for several ``ef_search`` depths, on those embeddings and on isotropic Gaussian vectors (the worst case:
   in 128 dimensions every random vector is nearly as far from all others, so neighbours are
   arbitrary and no index finds them cheaply).
3. **End to end**: images/s of ``ArchiveClusterer.run`` on a 20,000-file archive built from
   ``../shared/data/fundus4`` (hard links, five names per photograph), curation on against
   curation off, each in a fresh process, in the same invocation; the ratio is the cost of curation.

    nice -n 10 python benchmarks/curation.py                      # all three
    python benchmarks/curation.py --only scale --sizes 100000
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from monai_debclust.archive import ArchiveClusterer
from monai_debclust.curation import CurateArchiveImaged
from monai_debclust.networks import DebClustNet
from monai_debclust.similarity import group_duplicates, top_k_neighbours, unit_rows

FUNDUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "fundus4"


def peak_rss_mib() -> float:
    """This process's peak resident memory (``VmHWM``) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def generated_embeddings(count: int, dim: int = 128, seed: int = 0) -> np.ndarray:
    """Unit embeddings shaped like a model's (see the module docstring), 1 % planted near-copies."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, 201) ** 1.1
    cluster = rng.choice(200, count, p=weights / weights.sum())
    latent = rng.standard_normal((200, 16)).astype(np.float32)[cluster]
    latent += 0.5 * rng.standard_normal((count, 16)).astype(np.float32)
    x = latent @ rng.standard_normal((16, dim)).astype(np.float32)
    x += 0.3 * rng.standard_normal((count, dim)).astype(np.float32)
    copies = rng.choice(count, count // 100, replace=False)
    x[copies[1::2]] = x[copies[::2]][: len(copies[1::2])] + 1e-3 * rng.standard_normal((len(copies[1::2]), dim))
    return unit_rows(x)


def child_scale(count: int) -> None:
    """In a fresh process: group + neighbours of ``count`` generated embeddings; print JSON figures."""
    x = generated_embeddings(count)
    hashes = [f"{i:x}" for i in range(count)]
    base = peak_rss_mib()
    started = time.perf_counter()
    groups = group_duplicates(x, hashes, threshold=0.999)
    grouped = time.perf_counter()
    top_k_neighbours(x, 5)
    done = time.perf_counter()
    print(json.dumps({"count": count, "group_s": grouped - started, "neighbours_s": done - grouped,
                      "total_s": done - started, "peak_mib": peak_rss_mib(), "embeddings_mib": x.nbytes / 2**20,
                      "before_mib": base, "groups": groups.summary()["groups"]}))


def recall(sample: int = 100_000, queries: int = 2_000, depths: tuple[int, ...] = (8, 16, 32, 64)) -> None:
    rng = np.random.default_rng(1)
    for name, x in (("model-like", generated_embeddings(sample, seed=1)),
                    ("gaussian", unit_rows(rng.standard_normal((sample, 128)).astype(np.float32)))):
        rows = rng.choice(sample, queries, replace=False)
        _, exact = top_k_neighbours(x, 5, queries=x[rows], exact_limit=sample)
        for depth in depths:
            started = time.perf_counter()
            _, approximate = top_k_neighbours(x, 5, queries=x[rows], exact_limit=0, ef_search=depth)
            seconds = time.perf_counter() - started
            hit = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(exact, approximate)])
            print(f"recall@5 {name:>10} n={sample:,} ef_search={depth:>3}: {hit:.4f}  ({seconds:.1f} s with the index build)",
                  flush=True)


def child_cluster(root: Path, curation: bool, image_size: int) -> None:
    """In a fresh process: cluster every file under ``root``; print JSON figures."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    items = [{"id": p.relative_to(root).as_posix(), "path": str(p), "label": -1} for p in files]
    archive = SimpleNamespace(items=items, class_names=None, root=root)
    torch.manual_seed(0)
    network = DebClustNet("convmixer", num_clusters=2, encoder_kwargs={"dim": 64, "depth": 4, "kernel_size": 7,
                                                                        "patch_size": 2}).eval()
    with tempfile.TemporaryDirectory() as output, tempfile.TemporaryDirectory() as config:
        transform = CurateArchiveImaged(image_size, curation=curation, dicom_secret=Path(config) / "secret")
        clusterer = ArchiveClusterer(archive, network, transform, output, batch_size=64, chunk_size=4096,
                                     progress=False, curation=curation, map_points=5000)
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            summary = clusterer.run()
        seconds = time.perf_counter() - started
    print(json.dumps({"images": len(items), "seconds": seconds, "rate": len(items) / seconds,
                      "embed_rate": summary["timings"]["images_per_s"], "timings": summary["timings"],
                      "peak_mib": peak_rss_mib(), "curation": summary["curation"]}))


def _child(arguments: list[str]) -> dict:
    result = subprocess.run([sys.executable, __file__, *arguments], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def end_to_end(fundus: Path, size: int, image_size: int) -> None:
    sources = sorted(p for p in fundus.rglob("*") if p.is_file())
    if not sources:
        print(f"end to end: skipped, no photographs under {fundus}")
        return
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "archive"
        for n in range(size):
            source = sources[n % len(sources)]
            target = root / f"copy{n // len(sources)}" / source.relative_to(fundus)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(source, target)
        runs = {}
        for curation in (False, True):
            runs[curation] = _child(["--child-cluster", str(root), "--curation", str(int(curation)),
                                     "--image-size", str(image_size)])
            print(f"end to end, curation {'on ' if curation else 'off'}: {runs[curation]['rate']:7.1f} img/s "
                  f"({runs[curation]['images']:,} images in {runs[curation]['seconds']:.1f} s; embedding "
                  f"{runs[curation]['embed_rate']} img/s; peak {runs[curation]['peak_mib']:.0f} MiB; seconds: "
                  + ", ".join(f"{key} {value:.1f}" for key, value in runs[curation]["timings"].items()
                              if key.endswith("_s")) + ")", flush=True)
        print(f"end to end ratio on/off: {runs[True]['rate'] / runs[False]['rate']:.3f}  (goal >= 0.8)")
        print(f"curation summary: {json.dumps(runs[True]['curation'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--archive-size", type=int, default=20_000)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--fundus-dir", type=Path, default=FUNDUS)
    parser.add_argument("--only", nargs="+", choices=["scale", "recall", "end-to-end"],
                        default=["scale", "recall", "end-to-end"])
    parser.add_argument("--child-scale", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-cluster", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--curation", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_scale:
        return child_scale(args.child_scale)
    if args.child_cluster:
        return child_cluster(args.child_cluster, bool(args.curation), args.image_size)
    if "scale" in args.only:
        for count in args.sizes:
            figures = _child(["--child-scale", str(count)])
            print(f"scale n={count:>9,}: grouping {figures['group_s']:6.1f} s + top-5 neighbours "
                  f"{figures['neighbours_s']:6.1f} s = {figures['total_s']:6.1f} s; peak {figures['peak_mib']:.0f} MiB "
                  f"(embeddings {figures['embeddings_mib']:.0f} MiB; {figures['groups']:,} duplicate groups; "
                  "goal at 10^6: <= 300 s, <= 4096 MiB)", flush=True)
    if "recall" in args.only:
        recall()
    if "end-to-end" in args.only:
        end_to_end(args.fundus_dir, args.archive_size, args.image_size)


if __name__ == "__main__":
    main()
