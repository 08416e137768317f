"""RandFlipRotate90: flips, quarter turns, axes."""

from __future__ import annotations

import pytest
import torch

from monai_debclust.transforms import RandFlipRotate90


def test_horizontal_flip_with_probability_one():
    img = torch.rand(3, 8, 8)
    assert torch.equal(RandFlipRotate90((-1,), flip_prob=1.0)(img), img.flip(-1))


def test_both_flips():
    img = torch.rand(3, 8, 8)
    assert torch.equal(RandFlipRotate90((-1, -2), flip_prob=1.0)(img), img.flip(-1, -2))


def test_first_spatial_axis_of_a_volume_is_depth():
    img = torch.rand(1, 4, 6, 6)
    assert torch.equal(RandFlipRotate90((0,), flip_prob=1.0)(img), img.flip(1))


def test_quarter_turns_are_uniform_over_three_angles():
    img = torch.rand(3, 8, 8)
    symmetry = RandFlipRotate90((), rotate90_prob=1.0).set_random_state(0)
    turns = []
    for _ in range(60):
        out = symmetry(img)
        turns += [k for k in (1, 2, 3) if torch.equal(out, torch.rot90(img, k, (-2, -1)))]
    assert len(turns) == 60 and {turns.count(k) for k in (1, 2, 3)} <= set(range(12, 29))


def test_probability_zero_is_identity():
    img = torch.rand(3, 8, 8)
    assert RandFlipRotate90((-1, -2), flip_prob=0.0, rotate90_prob=0.0)(img) is img


def test_rejects_axes_the_image_lacks():
    with pytest.raises(ValueError, match="flip_axes"):
        RandFlipRotate90((2,), flip_prob=0.0)(torch.rand(3, 8, 8))


def test_rejects_probabilities_outside_unit_interval():
    with pytest.raises(ValueError, match="rotate90_prob"):
        RandFlipRotate90(rotate90_prob=1.5)
