"""Shared test fixtures: the real-data folder beside the checkout, golden values, small torch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA = SHARED / "data"

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def golden() -> dict:
    """Exact float64 loss values for tiny inputs (tests/golden/README.md says how they were computed)."""
    return json.loads((REPO / "tests" / "golden" / "losses.json").read_text())


@pytest.fixture(scope="session")
def fundus_dir() -> Path:
    path = DATA / "fundus4"
    if not path.is_dir():
        pytest.skip(f"real fundus images not found at {path} (../shared/data is absent)")
    return path


@pytest.fixture(scope="session")
def isic_dir() -> Path:
    path = DATA / "isic9"
    if not path.is_dir():
        pytest.skip(f"real dermoscopy images not found at {path} (../shared/data is absent)")
    return path
