"""Inspect curation's near-duplicate pairs on a real archive: how many, and a montage to look at.

Decodes every image of ``--archive`` as ``monai-debclust cluster`` does with curation on
(:class:`~monai_debclust.curation.CurateArchiveImaged`: the working-size decode and its 16 x 16
pixel signature), finds every pair at cosine >= ``--threshold`` and the pairs just under it, prints
their counts (and how many cross a class folder), and writes ``--montage``: the lowest-scoring
pairs at or above the threshold (those most likely to be wrongly grouped) and the highest under
it, side by side with their similarity, for a person to judge. The montage shows the archive's
images: keep it out of the repository.

    python benchmarks/duplicate_pairs.py --archive ../shared/data/fundus4 --montage /tmp/pairs.jpg
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from monai_debclust.curation import CurateArchiveImaged
from monai_debclust.data import ImageArchive
from monai_debclust.similarity import DEFAULT_THRESHOLD, near_duplicate_pairs

TILE = 128


def curated(archive: Path) -> tuple[list[str], np.ndarray, list[bytes]]:
    """Ids, pixel signatures and thumbnails of every readable image, as curation makes them."""
    items = ImageArchive(archive, layout="folder").items
    transform = CurateArchiveImaged(image_size=32)
    ids, signatures, thumbnails = [], [], []
    for item in items:
        d = transform(item)
        ids.append(item["id"])
        signatures.append(d["signature"])
        thumbnails.append(d["thumbnail"])
    return ids, np.stack(signatures), thumbnails


def montage(pairs: list[tuple[int, int, float]], ids: list[str], thumbnails: list[bytes], path: Path) -> None:
    """Pairs as rows of two thumbnails with their ids and similarity."""
    sheet = Image.new("RGB", (2 * TILE + 260, TILE * len(pairs)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, (i, j, similarity) in enumerate(pairs):
        for column, k in enumerate((i, j)):
            tile = Image.open(io.BytesIO(thumbnails[k])).convert("RGB")
            tile.thumbnail((TILE, TILE))
            sheet.paste(tile, (column * TILE, row * TILE))
        draw.text((2 * TILE + 6, row * TILE + 40), f"{similarity:.5f}\n{ids[i]}\n{ids[j]}", fill="black")
    sheet.save(path, quality=85)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, required=True, help="a folder with one sub-folder per class")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--below", type=float, default=0.995, help="lower end of the 'just under' band")
    parser.add_argument("--show", type=int, default=12, help="pairs of each kind in the montage")
    parser.add_argument("--montage", type=Path, required=True)
    args = parser.parse_args()
    ids, signatures, thumbnails = curated(args.archive)
    pairs, similarity = near_duplicate_pairs(signatures, args.below)
    above = similarity >= args.threshold
    cross = [ids[i].split("/")[0] != ids[j].split("/")[0] for i, j in pairs]
    print(f"{len(ids)} images; {int(above.sum())} pairs at >= {args.threshold} "
          f"({int(np.sum(above & np.array(cross, dtype=bool)))} across class folders); "
          f"{int((~above).sum())} pairs in [{args.below}, {args.threshold})")
    order_above = np.flatnonzero(above)[np.argsort(similarity[above])][: args.show]
    order_below = np.flatnonzero(~above)[np.argsort(-similarity[~above])][: args.show]
    shown = [(int(pairs[k, 0]), int(pairs[k, 1]), float(similarity[k])) for k in (*order_above, *order_below)]
    for i, j, s in shown:
        print(f"{s:.5f}  {ids[i]}  {ids[j]}")
    montage(shown, ids, thumbnails, args.montage)
    print(f"montage: {args.montage} (the {len(order_above)} lowest pairs at or above the threshold, "
          f"then the {len(order_below)} highest under it)")


if __name__ == "__main__":
    main()
