"""Seeding: set_random_state, set_determinism and MONAI DataLoader workers."""

from __future__ import annotations

import pytest
import torch
from monai.data import DataLoader, Dataset
from monai.transforms import Compose
from monai.utils import set_determinism

from monai_debclust.transforms import TwoViewd


def views(transform: TwoViewd, img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    out = transform({"image": img})
    return out["view1"], out["view2"]


@pytest.mark.parametrize("preset", ["default", "fundus", "dermoscopy"])
def test_same_seed_same_views_different_seed_different(preset):
    img = torch.rand(3, 32, 32)
    first = views(TwoViewd(preset=preset).set_random_state(3), img)
    again = views(TwoViewd(preset=preset).set_random_state(3), img)
    other = views(TwoViewd(preset=preset).set_random_state(4), img)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not any(torch.equal(a, b) for a, b in zip(first, other))


def test_reseeding_restarts_the_stream():
    img = torch.rand(3, 16, 16)
    transform = TwoViewd().set_random_state(7)
    first = views(transform, img)
    views(transform, img)
    transform.set_random_state(7)
    assert all(torch.equal(a, b) for a, b in zip(first, views(transform, img)))


@pytest.fixture
def restore_determinism():
    yield
    set_determinism(seed=None)


def load_all(seed: int, num_workers: int) -> list[torch.Tensor]:
    set_determinism(seed=seed)
    images = [{"image": torch.full((3, 16, 16), i / 8) + 0.05 * torch.rand(3, 16, 16)} for i in range(8)]
    dataset = Dataset(images, transform=Compose([TwoViewd(preset="fundus")]))
    loader = DataLoader(dataset, batch_size=4, num_workers=num_workers)
    return [torch.cat([batch["view1"], batch["view2"]]) for batch in loader]


@pytest.mark.parametrize("num_workers", [0, 2])
def test_dataloader_batches_are_reproducible(restore_determinism, num_workers):
    first, again, other = load_all(0, num_workers), load_all(0, num_workers), load_all(1, num_workers)
    assert len(first) == 2 and all(torch.equal(a, b) for a, b in zip(first, again))
    assert not any(torch.equal(a, b) for a, b in zip(first, other))
