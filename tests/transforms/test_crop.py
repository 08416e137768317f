"""RandResizedCrop: output size, box statistics, identity and fallback."""

from __future__ import annotations

import math

import pytest
import torch

from monai_debclust.transforms import RandResizedCrop


@pytest.mark.parametrize("shape", [(3, 32, 32), (3, 24, 32), (1, 8, 16, 16)])
def test_output_spatial_size_equals_input(shape):
    crop = RandResizedCrop().set_random_state(0)
    img = torch.rand(shape)
    for _ in range(5):
        out = crop(img)
        assert out.shape == img.shape and out.dtype == img.dtype


def test_spatial_size_sets_the_output_size():
    out = RandResizedCrop(spatial_size=(12, 20)).set_random_state(0)(torch.rand(3, 32, 32))
    assert out.shape == (3, 12, 20)


def test_boxes_follow_scale_and_ratio():
    crop = RandResizedCrop(scale=(0.2, 0.5), ratio=(3 / 4, 4 / 3)).set_random_state(1)
    for _ in range(50):
        crop.randomize(torch.empty(1, 200, 200))
        height, width = crop.params["sizes"][0].tolist()
        assert 0.2 - 0.02 <= height * width / 200**2 <= 0.5 + 0.02
        assert 3 / 4 - 0.02 <= width / height <= 4 / 3 + 0.02


def test_volume_box_covers_the_scale_of_the_volume():
    crop = RandResizedCrop(scale=(0.3, 0.3), ratio=(1, 1)).set_random_state(0)
    crop.randomize(torch.empty(1, 20, 40, 40))
    sizes = crop.params["sizes"][0].tolist()
    assert math.prod(sizes) / (20 * 40 * 40) == pytest.approx(0.3, rel=0.05)


def test_crop_contains_the_crop_of_a_ramp():
    # On a horizontal ramp a crop keeps the ramp's direction: values increase left to right.
    ramp = torch.linspace(0, 1, 32).expand(3, 32, 32)
    out = RandResizedCrop().set_random_state(0)(ramp)
    assert torch.all(out[:, :, 1:] >= out[:, :, :-1] - 1e-6)
    assert out.min() >= 0 and out.max() <= 1


def test_whole_image_crop_is_identity():
    img = torch.rand(3, 16, 16)
    assert torch.allclose(RandResizedCrop(scale=(1, 1), ratio=(1, 1))(img), img, atol=1e-6)


def test_unreachable_ratio_falls_back_to_whole_image():
    img = torch.rand(3, 16, 16)
    assert torch.allclose(RandResizedCrop(scale=(1, 1), ratio=(3, 4))(img), img, atol=1e-6)


@pytest.mark.parametrize("kwargs", [{"scale": (0.0, 1.0)}, {"scale": (0.5, 1.5)}, {"ratio": (2.0, 1.0)}])
def test_rejects_bad_ranges(kwargs):
    with pytest.raises(ValueError, match="must satisfy"):
        RandResizedCrop(**kwargs)


def test_rejects_a_batch():
    with pytest.raises(ValueError, match="C, H, W"):
        RandResizedCrop()(torch.rand(2, 3, 4, 8, 8))
