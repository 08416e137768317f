"""Batched views: a sample of a batch gets what it gets alone, seeds fix the views, presets keep their parameters."""

from __future__ import annotations

import pytest
import torch

from monai_debclust.transforms import (
    PRESETS,
    BatchTwoViews,
    RandColorJitter,
    RandFlipRotate90,
    RandGaussianBlur,
    RandGrayscale,
    RandResizedCrop,
    RandView,
    TwoViewd,
    ViewPreset,
)
from monai_debclust.transforms.batch import Params, cat_params

BATCH = 8


def rows(params: Params, start: int, stop: int) -> Params:
    """The parameters of samples ``start:stop`` of a batch."""
    return {key: rows(value, start, stop) if isinstance(value, dict) else value[start:stop] for key, value in params.items()}


def fundus_batch(batch: int = BATCH, size: int = 32) -> torch.Tensor:
    """Coloured discs on black, as uint8: the circular field of view of fundus photographs."""
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    inside = ((yy - (size - 1) / 2) ** 2 + (xx - (size - 1) / 2) ** 2) <= (0.4 * size) ** 2
    images = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0)) * 0.6 + 0.3
    return (images * inside * 255).round().to(torch.uint8)


STEPS = [
    RandResizedCrop(scale=(0.08, 1.0)),
    RandResizedCrop(spatial_size=(12, 20), scale=(0.3, 1.0)),
    RandFlipRotate90((-1, -2), flip_prob=0.5, rotate90_prob=0.75),
    RandColorJitter(prob=0.8),
    RandGrayscale(prob=0.5),
    RandGaussianBlur(prob=0.5),
    *(RandView(name) for name in sorted(PRESETS)),
]


@pytest.mark.parametrize("step", STEPS, ids=lambda step: type(step).__name__)
def test_sample_of_a_batch_equals_the_sample_alone_with_its_parameters(step):
    images = torch.rand(BATCH, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    params = step.draw(images, torch.Generator().manual_seed(2))
    batched = step.apply(images, params)
    for i in range(BATCH):
        alone = step.apply(images[i : i + 1], rows(params, i, i + 1))
        assert torch.allclose(batched[i], alone[0], atol=1e-6), i
    assert not torch.equal(images, batched)  # every step changed some sample


def test_volumes_in_batches_equal_volumes_alone():
    view = RandView("default")
    volumes = torch.rand(4, 1, 8, 16, 16)
    params = view.draw(volumes, torch.Generator().manual_seed(0))
    batched = view.apply(volumes, params)
    assert batched.shape == volumes.shape
    for i in range(4):
        assert torch.allclose(batched[i], view.apply(volumes[i : i + 1], rows(params, i, i + 1))[0], atol=1e-6)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_two_viewd_is_batch_two_views_of_a_batch_of_one(preset):
    img = torch.rand(3, 32, 32)
    transform = TwoViewd(preset=preset).set_random_state(3)
    params = transform.randomize(img)
    expected = transform.views.apply(img[None], params)
    out = TwoViewd(preset=preset).set_random_state(3)({"image": img})
    assert torch.equal(out["view1"], expected[0][0]) and torch.equal(out["view2"], expected[1][0])


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_batch_two_views_of_each_sample_equal_its_views_alone(preset):
    views, images = BatchTwoViews(preset), fundus_batch()
    params = views.draw(images, torch.Generator().manual_seed(4))
    view1, view2 = views.apply(images, params)
    for i in range(BATCH):
        alone = views.apply(images[i : i + 1], cat_params([rows(params, i, i + 1), rows(params, BATCH + i, BATCH + i + 1)]))
        assert torch.allclose(view1[i], alone[0][0], atol=1e-6) and torch.allclose(view2[i], alone[1][0], atol=1e-6)


def test_same_generator_seed_same_views_another_seed_others():
    views, images = BatchTwoViews("dermoscopy"), fundus_batch()
    first = views(images, torch.Generator().manual_seed(0))
    again = views(images, torch.Generator().manual_seed(0))
    other = views(images, torch.Generator().manual_seed(1))
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not any(torch.equal(a, b) for a, b in zip(first, other))
    assert not torch.equal(*first)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64])
def test_views_are_float_in_unit_range_with_the_batch_shape(dtype):
    images = fundus_batch()
    images = images if dtype == torch.uint8 else images.to(dtype) / 255
    for view in BatchTwoViews("default")(images, torch.Generator().manual_seed(0)):
        assert view.shape == images.shape and view.dtype == (torch.float32 if dtype == torch.uint8 else dtype)
        assert view.min() >= 0 and view.max() <= 1


def test_uint8_views_equal_the_views_of_the_scaled_floats():
    images, views = fundus_batch(), BatchTwoViews("fundus")
    from_uint8 = views(images, torch.Generator().manual_seed(5))
    from_float = views(images.float() / 255, torch.Generator().manual_seed(5))
    assert all(torch.equal(a, b) for a, b in zip(from_uint8, from_float))


def test_fundus_views_keep_the_surround_black_in_a_batch():
    images = fundus_batch()
    outside = images[0].amax(0) == 0
    views = BatchTwoViews("fundus", crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), jitter_prob=1.0, blur_prob=1.0)
    for view in views(images, torch.Generator().manual_seed(0)):
        assert torch.all(view[:, :, outside] == 0)


def test_batched_draws_follow_the_preset():
    preset = PRESETS["fundus"]
    images = torch.empty(4000, 3, 64, 64)
    params = RandView("fundus").draw(images, torch.Generator().manual_seed(0))
    area = params["crop"]["sizes"].prod(1) / 64**2
    aspect = params["crop"]["sizes"][:, 1] / params["crop"]["sizes"][:, 0]
    assert area.min() >= preset.crop_scale[0] - 0.02 and area.max() <= 1
    assert aspect.min() >= preset.crop_ratio[0] - 0.05 and aspect.max() <= preset.crop_ratio[1] + 0.05
    assert params["symmetry"]["flips"].shape == (4000, 1) and not params["symmetry"]["turns"].any()
    for got, expected in [(params["symmetry"]["flips"], preset.flip_prob), (params["jitter"]["apply"], preset.jitter_prob),
                          (params["grayscale"]["apply"], preset.grayscale_prob), (params["blur"]["apply"], preset.blur_prob)]:
        assert got.float().mean().item() == pytest.approx(expected, abs=0.03)
    hue = params["jitter"]["factors"][:, 3]
    assert hue.abs().max() <= preset.hue and hue.abs().max() > 0.9 * preset.hue
    sigma = params["blur"]["sigma"]
    assert sigma.min() >= preset.blur_sigma[0] and sigma.max() <= preset.blur_sigma[1]
    assert sorted(params["jitter"]["order"][0].tolist()) == [0, 1, 2, 3]


def test_dermoscopy_batches_draw_all_eight_symmetries_uniformly():
    params = RandView("dermoscopy").draw(torch.empty(8000, 3, 16, 16), torch.Generator().manual_seed(0))
    symmetry = params["symmetry"]["turns"] * 2 + params["symmetry"]["flips"][:, 0]
    counts = torch.bincount(symmetry, minlength=8).float() / 8000
    assert torch.allclose(counts, torch.full((8,), 1 / 8), atol=0.02)


def test_presets_keep_their_parameters():
    simclr = ViewPreset("simclr")
    assert (simclr.crop_scale, simclr.flip_axes, simclr.flip_prob, simclr.rotate90_prob) == ((0.08, 1.0), (-1,), 0.5, 0.0)
    assert (simclr.brightness, simclr.contrast, simclr.saturation, simclr.hue, simclr.jitter_prob) == (0.4, 0.4, 0.4, 0.1, 0.8)
    assert (simclr.grayscale_prob, simclr.blur_prob, simclr.blur_sigma, simclr.fov_threshold) == (0.2, 0.5, (0.1, 2.0), None)
    assert PRESETS["default"] == ViewPreset("default")
    assert PRESETS["fundus"] == ViewPreset("fundus", hue=0.02, fov_threshold=0.04, spatial_dims=(2,))
    assert PRESETS["dermoscopy"] == ViewPreset("dermoscopy", rotate90_prob=0.75, spatial_dims=(2,))


def test_shrinking_crop_averages_instead_of_aliasing():
    checkerboard = ((torch.arange(32)[:, None] + torch.arange(32)[None]) % 2).float().expand(1, 1, 32, 32)
    whole = RandResizedCrop(spatial_size=8, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    out = whole.batch(checkerboard, torch.Generator().manual_seed(0))
    assert out.shape == (1, 1, 8, 8) and torch.allclose(out, torch.full_like(out, 0.5), atol=1e-6)


def test_batch_two_views_refuses_what_the_preset_refuses():
    with pytest.raises(ValueError, match="square"):
        BatchTwoViews("dermoscopy")(torch.rand(2, 3, 16, 24))
    with pytest.raises(TypeError, match="uint8 or float"):
        BatchTwoViews()(torch.zeros(2, 3, 8, 8, dtype=torch.int32))


@pytest.mark.parametrize("preset", ["default", "fundus", "dermoscopy"])
def test_cpu_chunks_make_the_views_of_one_pass_exactly(preset):
    images = (torch.rand(21, 3, 24, 24, generator=torch.Generator().manual_seed(3)) * 255).to(torch.uint8)
    whole = BatchTwoViews(preset, cpu_chunk=None)(images, torch.Generator().manual_seed(5))
    chunked = BatchTwoViews(preset, cpu_chunk=8)(images, torch.Generator().manual_seed(5))
    for expected, got in zip(whole, chunked):
        assert torch.equal(expected, got)
