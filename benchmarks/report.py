"""Benchmark the interactive report at scale: building it, its size, and how fast Chromium opens it.

Writes a synthetic clustering folder of ``--rows`` images (random long-tailed clusters, 32-D
embeddings, quality flags and duplicate groups on a few rows; every thumbnail a copy of one
``THUMBNAIL_SIZE`` JPEG's bytes, so making them costs little), builds ``report.html`` with the given map method, and
has headless Chromium open it ``--repeats`` times: the page records in ``data-ready-ms`` the
milliseconds from navigation start to its first full draw (data parsed, map drawn, first gallery
page laid out).

    python benchmarks/report.py --rows 100000 --map pca
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from monai_debclust.review.page import render_review_page, review_page_data
from monai_debclust.review.thumbnails import THUMBNAIL_SIZE


def synthetic_run(folder: Path, rows: int, clusters: int = 7, seed: int = 0) -> Path:
    """A clustering folder of ``rows`` images: assignments, embeddings, duplicates and linked thumbnails."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    share = np.exp(-np.arange(clusters) / 2.0)
    cluster = rng.choice(clusters, rows, p=share / share.sum())
    centres = rng.normal(size=(clusters, 32)) * 3
    np.save(folder / "embeddings.npy", (centres[cluster] + rng.normal(size=(rows, 32))).astype(np.float32))
    with open(folder / "assignments.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "cluster", "confidence", "outlier", "label", "dark", "light", "blurry", "low_information"])
        for k in range(rows):
            flags = [int(rng.random() < 0.01) for _ in range(4)]
            writer.writerow([f"site{k % 13}/patient{k // 40:05d}/image_{k:06d}.png", cluster[k],
                             f"{rng.uniform(0.4, 1):.6f}", int(rng.random() < 0.01), f"class{cluster[k] % 3}", *flags])
    with open(folder / "duplicates.csv", "w", newline="") as handle:
        handle.write("group,id,kind,similarity,label,conflict\n")
        for group, k in enumerate(range(0, rows, 997)):
            handle.write(f"{group},site{k % 13}/patient{k // 40:05d}/image_{k:06d}.png,near,0.99,x,0\n")
    thumbnails = folder / "thumbnails"
    thumbnails.mkdir()
    Image.new("RGB", (THUMBNAIL_SIZE, THUMBNAIL_SIZE), (180, 90, 40)).save(thumbnails / "0.jpg", quality=80)
    jpeg = (thumbnails / "0.jpg").read_bytes()
    for k in range(1, rows):
        (thumbnails / f"{k}.jpg").write_bytes(jpeg)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--map", default="pca", help="auto, umap, tsne or pca")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory() as work:
        folder = synthetic_run(Path(work) / "clustering", args.rows)
        started = time.perf_counter()
        data = review_page_data(folder, Path(work) / "archive", args.map)
        page = render_review_page(data, 7, "synthetic", "")
        (folder / "report.html").write_text(page, encoding="utf-8")
        print(f"{args.rows} rows: built in {time.perf_counter() - started:.1f} s ({data['map_method']}), "
              f"report.html {len(page.encode()) / 2**20:.1f} MiB")
        if chromium is None:
            print("no Chromium: open time not measured")
            return
        for repeat in range(args.repeats):
            with tempfile.TemporaryDirectory() as profile:
                dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,1200",
                                      f"--user-data-dir={profile}", "--dump-dom", (folder / "report.html").as_uri()],
                                     capture_output=True, text=True, timeout=300).stdout
            ready = re.search(r'data-ready-ms="(\d+)"', dom)
            tiles = dom.count('src="thumbnails/')
            print(f"open {repeat + 1}: first full draw after {ready.group(1) if ready else '?'} ms, "
                  f"{tiles} thumbnails requested")


if __name__ == "__main__":
    main()
