"""The streaming archive loader: batches in order from worker processes, and the default number of workers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from monai_debclust.data import LoadArchiveImaged, archive_loader, default_num_workers, model_threads
from monai_debclust.data import loading


@pytest.mark.parametrize("cores, device, workers", [(16, "cuda", 15), (16, "cpu", 8), (2, "cpu", 1), (1, "cpu", 1),
                                                    (1, "cuda", 1)])
def test_default_workers_follow_the_cores_available(monkeypatch, cores, device, workers):
    monkeypatch.setattr(loading, "available_cores", lambda: cores)
    assert default_num_workers(device) == workers


def test_workers_yield_every_file_once_in_order_with_the_bad_ones_listed(tmp_path):
    items = []
    for k in range(7):
        path = tmp_path / f"{k}.png"
        Image.fromarray(np.full((12, 12, 3), 30 * k, np.uint8)).save(path)
        items.append({"id": path.name, "path": str(path), "label": -1})
    (tmp_path / "3.png").write_bytes(b"")
    batches = list(archive_loader(items, LoadArchiveImaged(image_size=4, dtype=torch.uint8), 3, num_workers=2))
    assert [i for batch in batches for i in batch.get("id", [])] == ["0.png", "1.png", "2.png", "4.png", "5.png",
                                                                     "6.png"]
    assert [row for batch in batches for row in batch["skipped"]] == [("3.png", "empty file")]
    assert torch.equal(batches[-1]["image"][0], torch.full((3, 4, 4), 180, dtype=torch.uint8))


def test_model_threads_are_the_cores_the_workers_leave_and_are_restored(monkeypatch):
    monkeypatch.setattr(loading, "available_cores", lambda: 4)
    before = torch.get_num_threads()
    with model_threads(1, "cpu") as threads:
        assert threads == torch.get_num_threads() == 3
    with model_threads(8, "cpu") as threads:
        assert threads == 1
    with model_threads(0, "cpu") as threads:
        assert threads == before
    assert torch.get_num_threads() == before
