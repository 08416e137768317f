"""Two random views of an image for contrastive learning, keeping the plain image for clustering."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, Randomizable, Transform
from monai.utils import MAX_SEED, convert_to_tensor

from monai_debclust.transforms.blur import RandGaussianBlur
from monai_debclust.transforms.color import RandColorJitter, RandGrayscale
from monai_debclust.transforms.crop import RandResizedCrop
from monai_debclust.transforms.presets import ViewPreset, get_preset
from monai_debclust.transforms.symmetry import RandFlipRotate90

__all__ = ["RandView", "TwoViewd"]


class RandView(Randomizable, Transform):
    """One random view of a channel-first float image in ``[0, 1]``: the SimCLR chain of a preset.

    Random resized crop (back to the input size) -> flips -> rotation by 90 degree multiples ->
    colour jitter -> grayscale -> Gaussian blur -> field-of-view mask, each step as configured by
    the :class:`~monai_debclust.transforms.presets.ViewPreset`. The output is a plain
    ``torch.Tensor`` of the input's shape and dtype, clipped to ``[0, 1]``; the input (a tensor,
    ``MetaTensor`` or array) is not modified.

    With a ``fov_threshold`` (the ``fundus`` preset) the field-of-view mask is computed from the
    input, cropped and flipped together with it (the bilinear resize leaves a one-pixel soft edge,
    which keeps the rim of an enlarged crop from turning into a staircase), and the view is
    multiplied by it at the end: everything outside the field of view is exactly 0.

    ``set_random_state`` seeds every step from this transform's own generator, so one seed fixes
    the whole chain.

    Args:
        preset: ``"default"``, ``"fundus"``, ``"dermoscopy"`` or a :class:`ViewPreset`.
        overrides: :class:`ViewPreset` fields to replace, e.g. ``blur_prob=0.0``.
    """

    def __init__(self, preset: str | ViewPreset = "default", **overrides: Any) -> None:
        self.preset = get_preset(preset, **overrides)
        p = self.preset
        self.spatial: list[Randomizable] = [
            RandResizedCrop(scale=p.crop_scale, ratio=p.crop_ratio),
            RandFlipRotate90(p.flip_axes, flip_prob=p.flip_prob, rotate90_prob=p.rotate90_prob),
        ]
        self.intensity: list[Randomizable] = [
            RandColorJitter(p.brightness, p.contrast, p.saturation, p.hue, prob=p.jitter_prob),
            RandGrayscale(prob=p.grayscale_prob),
            RandGaussianBlur(prob=p.blur_prob, sigma_range=p.blur_sigma, kernel_fraction=p.blur_kernel_fraction),
        ]

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> RandView:
        """Seed this transform, then each step from it."""
        super().set_random_state(seed, state)
        for step in self.spatial + self.intensity:
            step.set_random_state(seed=int(self.R.randint(MAX_SEED, dtype="uint32")))
        return self

    def _check(self, img: torch.Tensor) -> None:
        name = self.preset.name
        if not torch.is_floating_point(img):
            raise TypeError(f"RandView expects a float image in [0, 1], got dtype {img.dtype}; scale it first.")
        if img.ndim - 1 not in self.preset.spatial_dims:
            if img.ndim - 1 in (2, 3):
                supported = " and ".join(f"{dims}-D" for dims in self.preset.spatial_dims)
                raise NotImplementedError(
                    f"preset {name!r} is for {supported} images, got shape {tuple(img.shape)}; "
                    "preset 'default' handles 3-D volumes."
                )
            raise ValueError(f"expected a (C, H, W) or (C, D, H, W) image, got shape {tuple(img.shape)}.")
        if self.preset.rotate90_prob > 0 and img.shape[-1] != img.shape[-2]:
            raise ValueError(
                f"preset {name!r} rotates by 90 degrees, which needs square images; got shape {tuple(img.shape)}."
            )

    def __call__(self, img: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Draw one view of ``img`` ``(C, H, W)`` (or ``(C, D, H, W)`` where the preset allows)."""
        img = convert_to_tensor(img, track_meta=False)
        self._check(img)
        threshold = self.preset.fov_threshold
        view = img if threshold is None else torch.cat([img, (img.amax(0, keepdim=True) > threshold).to(img.dtype)])
        for step in self.spatial:
            view = step(view)
        if threshold is not None:
            view, inside = view[:-1], view[-1:].clamp(0, 1)
        for step in self.intensity:
            view = step(view)
        view = view.clamp(0, 1)  # interpolation and blur round a hair past [0, 1]
        return view if threshold is None else view * inside


class TwoViewd(Randomizable, MapTransform):
    """Add two independent random views of ``data[key]`` under ``view_keys``; ``data[key]`` is kept as is.

    The input of the joint model: the views feed the contrastive branch and the plain image the
    clustering branch. Each view is drawn by one :class:`RandView` of the preset (the SimCLR recipe
    by default; ``"fundus"`` and ``"dermoscopy"`` adapt it, see
    :data:`~monai_debclust.transforms.presets.PRESETS`).

    Randomness comes from this transform's own generator (MONAI's ``Randomizable``):
    ``set_random_state(seed)`` fixes both views, and ``monai.data.DataLoader`` seeds it per worker,
    so ``monai.utils.set_determinism(seed)`` makes a data loader's batches reproducible for any
    number of workers.

    Args:
        keys: the one key of the image.
        preset: ``"default"``, ``"fundus"``, ``"dermoscopy"`` or a :class:`ViewPreset`.
        view_keys: the two keys the views are written to.
        allow_missing_keys: return samples without ``keys`` unchanged instead of raising.
        overrides: :class:`ViewPreset` fields to replace, e.g. ``blur_prob=0.0, grayscale_prob=0.0``.
    """

    def __init__(
        self,
        keys: KeysCollection = "image",
        preset: str | ViewPreset = "default",
        view_keys: Sequence[Hashable] = ("view1", "view2"),
        allow_missing_keys: bool = False,
        **overrides: Any,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        if len(self.keys) != 1:
            raise ValueError(f"TwoViewd takes one image key, got {self.keys}.")
        if len(view_keys) != 2 or len(set(view_keys)) != 2:
            raise ValueError(f"view_keys must be two distinct keys, got {tuple(view_keys)}.")
        self.view_keys = tuple(view_keys)
        self.view = RandView(preset, **overrides)

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> TwoViewd:
        """Seed this transform, then its view chain from it."""
        super().set_random_state(seed, state)
        self.view.set_random_state(seed=int(self.R.randint(MAX_SEED, dtype="uint32")))
        return self

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        """Return a copy of ``data`` with the two views added."""
        d = dict(data)
        for key in self.key_iterator(d):
            d[self.view_keys[0]] = self.view(d[key])
            d[self.view_keys[1]] = self.view(d[key])
        return d
