"""Colour ops and the colour-jitter / grayscale transforms."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest
import torch

from monai_debclust.transforms import (
    RandColorJitter,
    RandGrayscale,
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    hsv_to_rgb,
    rgb_to_grayscale,
    rgb_to_hsv,
)


def test_rgb_to_hsv_matches_colorsys():
    img = torch.rand(3, 6, 7, dtype=torch.float64)
    img[:, 0, 0] = 0.5  # grey: hue and saturation 0
    img[:, 0, 1] = 0.0  # black
    expected = np.array([colorsys.rgb_to_hsv(*img[:, i, j].tolist()) for i in range(6) for j in range(7)])
    assert np.allclose(rgb_to_hsv(img[None])[0].reshape(3, -1).T.numpy(), expected, atol=1e-12)


def test_hsv_round_trip():
    img = torch.rand(2, 3, 2, 5, 5, dtype=torch.float64)  # a batch of two RGB volumes
    assert torch.allclose(hsv_to_rgb(rgb_to_hsv(img)), img, atol=1e-12)


@pytest.mark.parametrize(
    "shift, expected", [(1 / 3, (0.0, 1.0, 0.0)), (2 / 3, (0.0, 0.0, 1.0)), (-1 / 3, (0.0, 0.0, 1.0))]
)
def test_hue_shift_rotates_pure_red(shift, expected):
    red = torch.zeros(1, 3, 2, 2)
    red[:, 0] = 1
    out = adjust_hue(red, shift)
    assert torch.allclose(out, torch.tensor(expected).view(1, 3, 1, 1).expand(1, 3, 2, 2), atol=1e-6)


def test_hue_shift_keeps_saturation_and_value():
    img = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    before, after = rgb_to_hsv(img), rgb_to_hsv(adjust_hue(img, torch.tensor([0.21, -0.4], dtype=torch.float64)))
    assert torch.allclose(before[:, 1:], after[:, 1:], atol=1e-9)


def test_grayscale_is_bt601_luma():
    img = torch.rand(2, 3, 4, 4)
    expected = 0.299 * img[:, 0] + 0.587 * img[:, 1] + 0.114 * img[:, 2]
    assert torch.allclose(rgb_to_grayscale(img)[:, 0], expected, atol=1e-6)


def test_brightness_contrast_saturation_factors():
    img = torch.rand(1, 3, 8, 8) * 0.5
    assert torch.allclose(adjust_brightness(img, 2.0), img * 2)
    flat = adjust_contrast(img, 0.0)
    assert torch.allclose(flat, rgb_to_grayscale(img).mean().expand_as(img))
    grey = adjust_saturation(img, 0.0)
    assert torch.allclose(grey, rgb_to_grayscale(img).expand_as(img))


def test_per_sample_factors_adjust_each_sample_by_its_own():
    img = torch.rand(3, 3, 8, 8) * 0.5
    factors = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    for adjust in (adjust_brightness, adjust_contrast, adjust_saturation):
        out = adjust(img, factors)
        for i, factor in enumerate(factors.tolist()):
            assert torch.allclose(out[i], adjust(img[i : i + 1], factor)[0], atol=1e-6)


def test_zero_strength_jitter_is_identity():
    img = torch.rand(3, 16, 16)
    jitter = RandColorJitter(brightness=0, contrast=0, saturation=0, hue=0, prob=1.0).set_random_state(0)
    assert torch.equal(jitter(img), img)


def test_jitter_changes_the_image_and_stays_in_range():
    img = torch.rand(3, 16, 16)
    out = RandColorJitter(prob=1.0).set_random_state(0)(img)
    assert not torch.allclose(out, img) and out.min() >= 0 and out.max() <= 1 and out.shape == img.shape


def test_jitter_draws_factors_in_range_and_varies_the_order():
    jitter = RandColorJitter(brightness=0.4, contrast=0.2, saturation=0.1, hue=0.05, prob=1.0).set_random_state(0)
    orders = set()
    for _ in range(30):
        jitter.randomize()
        b, c, s, h = jitter.params["factors"][0].tolist()
        assert 0.6 <= b <= 1.4 and 0.8 <= c <= 1.2 and 0.9 <= s <= 1.1 and -0.05 <= h <= 0.05
        orders.add(tuple(jitter.params["order"][0].tolist()))
    assert len(orders) > 5


def test_jitter_of_one_channel_uses_brightness_and_contrast_only():
    img = torch.rand(1, 16, 16)
    only_colour = RandColorJitter(brightness=0, contrast=0, saturation=0.9, hue=0.5, prob=1.0)
    assert torch.equal(only_colour(img), img)
    out = RandColorJitter(prob=1.0).set_random_state(0)(img)
    assert out.shape == img.shape and not torch.equal(out, img)


def test_jitter_prob_zero_is_identity():
    img = torch.rand(3, 8, 8)
    assert RandColorJitter(prob=0.0)(img) is img


@pytest.mark.parametrize("kwargs", [{"brightness": -0.1}, {"hue": 0.6}])
def test_jitter_rejects_bad_strengths(kwargs):
    with pytest.raises(ValueError):
        RandColorJitter(**kwargs)


def test_grayscale_gives_equal_channels():
    img = torch.rand(3, 16, 16)
    out = RandGrayscale(prob=1.0)(img)
    assert out.shape == img.shape
    assert torch.equal(out[0], out[1]) and torch.equal(out[1], out[2])
    assert torch.allclose(out[0], rgb_to_grayscale(img[None])[0, 0])


def test_grayscale_leaves_one_channel_unchanged():
    img = torch.rand(1, 8, 8)
    assert RandGrayscale(prob=1.0)(img) is img


def test_rgb_only_functions_reject_other_channel_counts():
    with pytest.raises(ValueError, match="RGB"):
        rgb_to_hsv(torch.rand(2, 1, 4, 4))
