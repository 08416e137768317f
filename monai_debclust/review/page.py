"""The interactive report: one self-contained ``report.html`` (plus ``thumbnails/``) to browse and review a run.

The page holds its data once, as compact column arrays in one inline JSON block, and its script
and style inline (vanilla JavaScript, nothing from the network). It shows

* the 2-D map of the embeddings (:func:`~monai_debclust.review.embedding_map.embedding_map_2d`,
  the method named on the page) on a canvas; hovering a point shows its thumbnail, a click opens
  the image at a readable size with its nearest neighbours;
* per-cluster galleries paging through every image, with confidence, outlier, quality and
  duplicate badges, filtered by cluster, label and flag; only the visible page's thumbnails are
  requested (``src`` is set when a page is drawn), so 10^5 images open as fast as 100;
* the duplicate groups of ``duplicates.csv``, conflicting labels first, a row of thumbnails per
  group with each member's kind, similarity and label, paged the same way;
* the review: name clusters, merge a cluster into another, move or exclude images, and download
  the decisions as ``review.json`` (a Blob download, no server) for ``monai-debclust labels``.

It reads what a clustering run left in its folder: ``assignments.csv`` (with the quality flag
columns ``dark, light, blurry, low_information`` and the DICOM columns when archive curation
wrote them), ``embeddings.npy``, ``neighbours.csv`` and ``duplicates.csv`` when present (else the
neighbours are searched here and no duplicate badges are shown), and ``thumbnails/<row>.jpg``
(the missing ones made here from the original files).
"""

from __future__ import annotations

import csv
import html
import json
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from monai_debclust.review.embedding_map import MAP_METHODS, embedding_map_2d
from monai_debclust.review.thumbnails import THUMBNAIL_DIR, ensure_thumbnails
from monai_debclust.similarity import top_k_neighbours

__all__ = ["FLAG_BITS", "QUALITY_COLUMNS", "DICOM_COLUMNS", "NEIGHBOURS", "review_page_data", "render_review_page"]

#: Per-image flags as bits of one integer in the page's data.
FLAG_BITS = {"outlier": 1, "dark": 2, "light": 4, "blurry": 8, "low_information": 16, "duplicate": 32,
             "label_conflict": 64, "thumbnail": 128}
#: Quality flag columns of ``assignments.csv`` shown as badges when present.
QUALITY_COLUMNS = ("dark", "light", "blurry", "low_information")
#: DICOM columns of ``assignments.csv`` shown in the image panel when present.
DICOM_COLUMNS = ("patient", "study", "series", "modality", "laterality", "study_year")
#: Nearest neighbours shown per image.
NEIGHBOURS = 8
_MAP_SCALE = 10_000  # map coordinates are integers in [0, _MAP_SCALE]


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


def _neighbours(folder: Path, embeddings: np.ndarray, count: int) -> np.ndarray:
    """``(N, NEIGHBOURS)`` rows of each row's nearest neighbours, ``-1`` padded: ``neighbours.csv`` or a search."""
    table = np.full((count, NEIGHBOURS), -1, dtype=np.int64)
    path = folder / "neighbours.csv"
    if path.is_file():
        found: dict[int, list[tuple[float, int]]] = {}
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                found.setdefault(int(row["row"]), []).append((float(row["rank"]), int(row["neighbour_row"])))
        for row, ranked in found.items():
            best = [neighbour for _, neighbour in sorted(ranked)][:NEIGHBOURS]
            table[row, : len(best)] = best
        return table
    if count > 1:
        _, found = top_k_neighbours(np.asarray(embeddings, dtype=np.float32), min(NEIGHBOURS, count - 1))
        table[:, : found.shape[1]] = found
    return table


def _duplicates(folder: Path, row_of: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray, dict[str, list] | None]:
    """``(group, conflict)`` per row (group ``-1`` for images in none) and the groups, from ``duplicates.csv``.

    Returns:
        The two per-row arrays and, ``None`` without the file, the members as column arrays:
        ``rows``, ``kind`` (an index into ``kinds``) and ``similarity`` (to the group's first
        member), group after group with the groups whose labels conflict first and otherwise in
        the file's order (which :meth:`~monai_debclust.similarity.DuplicateGroups.records` already
        writes conflicts first).
    """
    group = np.full(len(row_of), -1, dtype=np.int64)
    conflict = np.zeros(len(row_of), dtype=bool)
    path = folder / "duplicates.csv"
    if not path.is_file():
        return group, conflict, None
    members, seen, kinds = [], {}, {}
    with open(path, newline="", encoding="utf-8") as handle:
        for entry in csv.DictReader(handle):
            row = row_of.get(entry["id"])
            if row is not None:
                group[row], conflict[row] = int(entry["group"]), _truthy(entry.get("conflict"))
                seen.setdefault(int(group[row]), len(seen))
                members.append((row, kinds.setdefault(entry["kind"], len(kinds)), float(entry["similarity"])))
    conflicting = set(group[conflict].tolist())
    members.sort(key=lambda member: (int(group[member[0]]) not in conflicting, seen[int(group[member[0]])]))
    return group, conflict, {"rows": [m[0] for m in members], "kind": [m[1] for m in members],
                             "similarity": [round(m[2], 6) for m in members], "kinds": list(kinds)}


def review_page_data(folder: str | os.PathLike, archive_root: str | os.PathLike, map_method: str = "auto",
                     seed: int = 0) -> dict[str, Any]:
    """The page's data from a clustering folder (see the module docstring); makes missing thumbnails.

    Args:
        folder: the run's clustering folder (``assignments.csv``, ``embeddings.npy``, ...).
        archive_root: the archive the ids are relative to (thumbnails are made from its files).
        map_method: see :func:`~monai_debclust.review.embedding_map.embedding_map_2d`.
        seed: random state of the map.
    """
    folder = Path(folder)
    with open(folder / "assignments.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    ids = [row["id"] for row in rows]
    embeddings = np.load(folder / "embeddings.npy", mmap_mode="r")
    points, method = embedding_map_2d(np.asarray(embeddings), map_method, seed)
    low, high = points.min(axis=0), points.max(axis=0)
    scaled = np.rint((points - low) / np.maximum(high - low, 1e-12) * _MAP_SCALE).astype(np.int64)
    made = ensure_thumbnails(folder / THUMBNAIL_DIR, [Path(archive_root) / image_id for image_id in ids])
    group, conflict, duplicates = _duplicates(folder, {image_id: k for k, image_id in enumerate(ids)})
    flags = np.zeros(len(ids), dtype=np.int64)
    for k, row in enumerate(rows):
        bits = FLAG_BITS["outlier"] * _truthy(row.get("outlier"))
        bits |= sum(FLAG_BITS[name] for name in QUALITY_COLUMNS if _truthy(row.get(name)))
        flags[k] = bits | FLAG_BITS["thumbnail"] * (folder / THUMBNAIL_DIR / f"{k}.jpg").exists()
    flags |= FLAG_BITS["duplicate"] * (group >= 0) | FLAG_BITS["label_conflict"] * conflict
    label_names = sorted({row.get("label") or "" for row in rows} - {""})
    label_index = {name: k for k, name in enumerate(label_names)}
    dicom = {name: [row.get(name) or "" for row in rows] for name in DICOM_COLUMNS if name in (rows[0] if rows else {})}
    return {
        "ids": ids,
        "cluster": [int(row["cluster"]) for row in rows],
        "confidence": [round(1000 * float(row["confidence"])) for row in rows],
        "x": scaled[:, 0].tolist(), "y": scaled[:, 1].tolist(),
        "flags": flags.tolist(),
        "label": [label_index.get(row.get("label") or "", -1) for row in rows],
        "label_names": label_names,
        "duplicate_group": group.tolist(),
        "duplicates": duplicates,
        "neighbours": _neighbours(folder, embeddings, len(ids)).ravel().tolist(),
        "neighbours_k": NEIGHBOURS,
        "dicom": dicom,
        "flag_bits": FLAG_BITS,
        "map_method": MAP_METHODS[method],
        "thumbnails": THUMBNAIL_DIR,
        "thumbnails_made": made,
    }


def _asset(name: str) -> str:
    return resources.files("monai_debclust.review").joinpath("assets", name).read_text(encoding="utf-8")


def render_review_page(data: Mapping[str, Any], num_clusters: int, title: str, sections: str) -> str:
    """The page as one HTML string.

    Args:
        data: :func:`review_page_data`.
        num_clusters: clusters of the run (empty ones included).
        title: the archive, shown in the title.
        sections: HTML of the run's summary (tables, figures) placed below the interactive part.
    """
    payload = json.dumps({**data, "num_clusters": num_clusters}, separators=(",", ":"))
    payload = payload.replace("</", "<\\/")  # the JSON block must not close its script element
    return "\n".join([
        "<!DOCTYPE html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>Clustering report: {html.escape(title)}</title>",
        f"<style>{_asset('report.css')}</style></head><body>",
        _asset("report.html").replace("{{title}}", html.escape(title)),
        f"<script type='application/json' id='report-data'>{payload}</script>",
        f"<script>{_asset('report.js')}</script>",
        sections,
        "</body></html>",
    ])
