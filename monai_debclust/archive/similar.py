"""The images of a clustered archive most similar to a file or to one of its images (``monai-debclust similar``).

A query that is an id of the run (a row of ``embeddings_index.csv``) uses its stored embedding and
leaves itself out; any other file is decoded with the run's preprocessing (``summary.json``
``settings.preprocessing``) and embedded with the run's model, so its embedding is comparable.
Similarity is the cosine of the embeddings, as in ``neighbours.csv``.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import torch

from monai_debclust.bundle import load_trained_network
from monai_debclust.curation import DEFAULT_WORKING_SIZE, CurateArchiveImaged
from monai_debclust.data import ToFloatd
from monai_debclust.engines.embedding import embed_batch
from monai_debclust.errors import SettingError
from monai_debclust.similarity import top_k_neighbours

__all__ = ["results_folder", "similar_images"]


def results_folder(run: str | os.PathLike) -> Path:
    """The folder holding ``embeddings.npy``: ``run`` itself or ``run/clustering``.

    Raises:
        SettingError: neither holds a clustering's results.
    """
    for folder in (Path(run), Path(run) / "clustering"):
        if (folder / "embeddings.npy").is_file() and (folder / "summary.json").is_file():
            return folder
    raise SettingError(f"no clustering results (embeddings.npy, summary.json) in {run} or {Path(run) / 'clustering'}.")


def _embed_file(path: Path, folder: Path, summary: dict, ckpt_path: str | os.PathLike | None) -> np.ndarray:
    settings = summary.get("settings", {})
    preprocessing = settings.get("preprocessing") or {"image_size": settings.get("image_size", 32),
                                                      "channels": settings.get("in_channels", 3),
                                                      "nifti_mode": settings.get("nifti_mode", "slice")}
    checkpoint = ckpt_path or summary.get("bundle", {}).get("checkpoint") or folder.parent / "models" / "model.pt"
    network = load_trained_network(checkpoint)
    # with curation the run's model input was made from the working-size decode: the query's is too
    transform = CurateArchiveImaged(preprocessing["image_size"], preprocessing.get("channels", 3),
                                    preprocessing.get("nifti_mode", "slice"),
                                    curation=bool(preprocessing.get("curation")),
                                    working_size=preprocessing.get("working_size", DEFAULT_WORKING_SIZE))
    image = ToFloatd(keys="image")({"image": transform({"path": str(path)})["image"][None]})["image"]
    with torch.inference_mode():
        return embed_batch(network, image)["features"].cpu().numpy()


def similar_images(run: str | os.PathLike, image: str | os.PathLike, k: int = 5,
                   ckpt_path: str | os.PathLike | None = None) -> list[dict]:
    """The ``k`` images of the run at ``run`` most similar to ``image`` (an id of the run or a file), best first.

    Returns:
        ``[dict(rank, id, row, similarity), ...]``.

    Raises:
        SettingError: no results at ``run``, or ``image`` is neither an id of the run nor a file.
    """
    folder = results_folder(run)
    summary = json.loads((folder / "summary.json").read_text())
    with open(folder / "embeddings_index.csv", newline="") as handle:
        ids = [row["id"] for row in csv.DictReader(handle)]
    embeddings = np.load(folder / "embeddings.npy", mmap_mode="r")
    row = {file_id: i for i, file_id in enumerate(ids)}.get(Path(image).as_posix())
    if row is not None:
        query, exclude = np.asarray(embeddings[row : row + 1]), row
    elif Path(image).is_file():
        query, exclude = _embed_file(Path(image), folder, summary, ckpt_path), None
    else:
        raise SettingError(f"{image} is neither an image id of the run in {folder} nor a file.")
    asked = min(k + (exclude is not None), len(ids))
    similarity, index = top_k_neighbours(np.asarray(embeddings), asked, queries=query)
    found = [(int(j), float(s)) for j, s in zip(index[0], similarity[0]) if j >= 0 and j != exclude][:k]
    return [{"rank": rank + 1, "id": ids[j], "row": j, "similarity": round(s, 6)} for rank, (j, s) in enumerate(found)]
