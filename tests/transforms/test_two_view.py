"""TwoViewd and RandView: views, presets, shapes, errors."""

from __future__ import annotations

import pytest
import torch
from monai.data import MetaTensor

from monai_debclust.transforms import PRESETS, RandView, TwoViewd, ViewPreset, get_preset

#: Overrides that switch off everything but the geometric steps under test.
GEOMETRY_ONLY = dict(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), jitter_prob=0.0, grayscale_prob=0.0, blur_prob=0.0)


def fundus_like(size: int = 32) -> torch.Tensor:
    """A coloured disc on black: the circular field of view of a fundus photograph."""
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    inside = ((yy - (size - 1) / 2) ** 2 + (xx - (size - 1) / 2) ** 2) <= (0.4 * size) ** 2
    img = torch.rand(3, size, size) * 0.6 + 0.3
    return img * inside


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_two_views_differ_and_image_is_kept(preset):
    img = torch.rand(3, 32, 32)
    original = img.clone()
    out = TwoViewd(preset=preset).set_random_state(0)({"image": img, "id": "a.png", "label": 1})
    assert out["image"] is img and torch.equal(img, original)
    assert out["id"] == "a.png" and out["label"] == 1
    assert not torch.equal(out["view1"], out["view2"])
    for key in ("view1", "view2"):
        view = out[key]
        assert type(view) is torch.Tensor and view.shape == img.shape and view.dtype == img.dtype
        assert view.min() >= 0 and view.max() <= 1


def test_custom_view_keys_and_input_left_unmodified():
    data = {"img": torch.rand(3, 16, 16)}
    out = TwoViewd(keys="img", view_keys=("a", "b"))(data)
    assert set(out) == {"img", "a", "b"} and set(data) == {"img"}


@pytest.mark.parametrize("make", [lambda x: x.numpy(), lambda x: MetaTensor(x), lambda x: x.double()])
def test_accepts_numpy_metatensor_and_float64(make):
    img = make(torch.rand(3, 16, 16))
    view = RandView().set_random_state(0)(img)
    assert type(view) is torch.Tensor and view.shape == (3, 16, 16)
    assert view.dtype == torch.as_tensor(img).dtype


def test_horizontal_flip_with_probability_one():
    img = torch.rand(3, 16, 16)
    view = RandView(flip_prob=1.0, **GEOMETRY_ONLY)(img)
    assert torch.allclose(view, img.flip(-1), atol=1e-6)


def test_fundus_never_flips_vertically():
    img = torch.rand(3, 16, 16)
    view = RandView("fundus", fov_threshold=None, **GEOMETRY_ONLY).set_random_state(0)
    for _ in range(20):
        out = view(img)
        assert torch.allclose(out, img, atol=1e-6) or torch.allclose(out, img.flip(-1), atol=1e-6)


def test_dermoscopy_draws_all_eight_symmetries():
    img = torch.rand(3, 16, 16)
    symmetries = {k * 2 + f: torch.rot90(img.flip(-1) if f else img, k, (-2, -1)) for k in range(4) for f in range(2)}
    view = RandView("dermoscopy", **GEOMETRY_ONLY).set_random_state(0)
    seen = set()
    for _ in range(80):
        out = view(img)
        matches = [key for key, sym in symmetries.items() if torch.allclose(out, sym, atol=1e-6)]
        assert len(matches) == 1
        seen.update(matches)
    assert seen == set(symmetries)  # rotations by 90, 180, 270 and the vertical flip included
    assert any(torch.allclose(view(img), img.flip(-2), atol=1e-6) for _ in range(40))


def test_fundus_keeps_outside_of_the_field_of_view_black():
    img = fundus_like()
    outside = img.amax(0) == 0
    masked = RandView("fundus", crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), jitter_prob=1.0, blur_prob=1.0)
    unmasked = RandView("fundus", crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), jitter_prob=1.0, blur_prob=1.0,
                        fov_threshold=None)
    lifted = False
    for seed in range(10):
        view = masked.set_random_state(seed)(img)
        assert torch.all(view[:, outside] == 0)  # the disc is symmetric under the horizontal flip
        lifted |= bool(unmasked.set_random_state(seed)(img)[:, outside].max() > 0)
    assert lifted  # without the mask, blur and contrast do lift the surround


def test_fundus_mask_follows_the_crop():
    img = fundus_like()
    mask = (img.amax(0, keepdim=True) > PRESETS["fundus"].fov_threshold).float().expand(3, -1, -1)
    plain = dict(fov_threshold=None)
    for seed in range(5):
        masked = RandView("fundus").set_random_state(seed)(img)
        unmasked = RandView("fundus", **plain).set_random_state(seed)(img)
        geometry = RandView("fundus", jitter_prob=0.0, grayscale_prob=0.0, blur_prob=0.0, **plain)
        moved = geometry.set_random_state(seed)(mask)
        assert torch.allclose(masked, unmasked * moved[:1], atol=1e-6)


def test_one_channel_image_through_every_step():
    img = torch.rand(1, 16, 16)
    view = RandView(jitter_prob=1.0, grayscale_prob=1.0, blur_prob=1.0).set_random_state(0)(img)
    assert view.shape == img.shape and not torch.equal(view, img)


def test_default_preset_handles_volumes():
    img = torch.rand(1, 8, 16, 16)
    out = TwoViewd().set_random_state(0)({"image": img})
    assert out["view1"].shape == img.shape and not torch.equal(out["view1"], out["view2"])


@pytest.mark.parametrize("preset", ["fundus", "dermoscopy"])
def test_photograph_presets_refuse_volumes_by_name(preset):
    with pytest.raises(NotImplementedError, match=preset):
        RandView(preset)(torch.rand(3, 8, 16, 16))


def test_rejects_integer_images():
    with pytest.raises(TypeError, match="float"):
        RandView()(torch.zeros(3, 8, 8, dtype=torch.uint8))


def test_rejects_non_image_shapes():
    with pytest.raises(ValueError, match="C, H, W"):
        RandView()(torch.rand(16, 16))


def test_dermoscopy_needs_square_images():
    with pytest.raises(ValueError, match="square"):
        RandView("dermoscopy")(torch.rand(3, 16, 24))


def test_overrides_replace_preset_fields():
    preset = get_preset("fundus", blur_prob=0.0)
    assert preset.blur_prob == 0.0 and preset.fov_threshold == PRESETS["fundus"].fov_threshold
    assert TwoViewd(preset=ViewPreset("mine", hue=0.0)).views.preset.hue == 0.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"preset": "ct"}, "unknown preset"),
        ({"blur_probability": 0.1}, "unknown preset field"),
        ({"keys": ("image", "mask")}, "one image key"),
        ({"view_keys": ("v", "v")}, "two distinct keys"),
    ],
)
def test_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TwoViewd(**kwargs)


def test_missing_key_allowed_when_asked():
    assert TwoViewd(allow_missing_keys=True)({"id": "x"}) == {"id": "x"}
