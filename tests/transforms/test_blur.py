"""Gaussian blur: kernel size, smoothing, constants, 3-D."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from monai_debclust.transforms import RandGaussianBlur, blur_kernel_size, gaussian_blur


@pytest.mark.parametrize("shape, expected", [((128, 128), 13), ((224, 224), 23), ((16, 16), 3), ((40, 64), 5)])
def test_kernel_is_about_a_tenth_and_odd(shape, expected):
    assert blur_kernel_size(shape) == expected


def test_blur_reduces_variance():
    img = torch.rand(3, 32, 32)
    out = RandGaussianBlur(prob=1.0).set_random_state(0)(img)
    assert out.shape == img.shape and out.var() < 0.8 * img.var()


def test_matches_a_direct_convolution():
    images, sigmas, size = torch.rand(2, 3, 20, 24, dtype=torch.float64), (1.3, 0.4), 7
    blurred = gaussian_blur(images, torch.tensor(sigmas), size)
    for img, sigma, out in zip(images, sigmas, blurred):
        taps = torch.tensor([math.exp(-(i**2) / (2 * sigma**2)) for i in range(-3, 4)], dtype=torch.float64)
        kernel = torch.outer(taps, taps) / taps.sum() ** 2
        padded = F.pad(img[None], [3] * 4, mode="reflect")
        expected = F.conv2d(padded, kernel.expand(3, 1, size, size), groups=3)[0]
        assert torch.allclose(out, expected, atol=1e-12)


def test_larger_sigma_blurs_more():
    img = torch.rand(1, 3, 32, 32)
    assert gaussian_blur(img, 2.0, 5).var() < gaussian_blur(img, 0.5, 5).var()


def test_blur_keeps_a_constant_image():
    img = torch.full((2, 3, 16, 16), 0.3)
    assert torch.allclose(gaussian_blur(img, 1.5, 7), img, atol=1e-6)


def test_volume_blur():
    img = torch.rand(1, 8, 16, 16)
    out = RandGaussianBlur(prob=1.0).set_random_state(0)(img)
    assert out.shape == img.shape and out.var() < img.var()


def test_prob_zero_is_identity():
    img = torch.rand(3, 8, 8)
    assert RandGaussianBlur(prob=0.0)(img) is img


def test_sigma_is_drawn_in_range():
    blur = RandGaussianBlur(prob=1.0, sigma_range=(0.5, 0.7)).set_random_state(0)
    for _ in range(20):
        blur.randomize()
        assert 0.5 <= blur.params["sigma"].item() <= 0.7


def test_rejects_even_or_too_long_kernel():
    with pytest.raises(ValueError, match="odd kernel_size"):
        gaussian_blur(torch.rand(1, 3, 8, 8), 1.0, 4)
    with pytest.raises(ValueError, match="odd kernel_size"):
        gaussian_blur(torch.rand(1, 3, 4, 4), 1.0, 9)
