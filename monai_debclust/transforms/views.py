"""Two random views of images for contrastive learning: one image at a time, or a whole batch on its device.

:class:`RandView` is the SimCLR chain of a preset as one :class:`~monai_debclust.transforms.batch.RandBatchTransform`;
:class:`BatchTwoViews` draws two views of every image of a batch (on a GPU: thousands of images
per second); :class:`TwoViewd` is the per-sample dictionary transform of the data pipeline. All
three run the same batched ops, so a sample's views depend only on its parameters.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, Randomizable, Transform
from monai.utils import MAX_SEED, convert_to_tensor

from monai_debclust.transforms.batch import Params, RandBatchTransform, cat_params, slice_params, to_unit_float
from monai_debclust.transforms.blur import RandGaussianBlur
from monai_debclust.transforms.color import RandColorJitter, RandGrayscale
from monai_debclust.transforms.crop import RandResizedCrop
from monai_debclust.transforms.presets import ViewPreset, get_preset
from monai_debclust.transforms.symmetry import RandFlipRotate90

__all__ = ["RandView", "BatchTwoViews", "TwoViewd"]

#: The steps of the chain that move pixels; the field-of-view mask follows them.
SPATIAL_STEPS = ("crop", "symmetry")
#: The steps that change intensities, after the spatial ones.
INTENSITY_STEPS = ("jitter", "grayscale", "blur")


class RandView(RandBatchTransform):
    """One random view of float images in ``[0, 1]``: the SimCLR chain of a preset.

    Random resized crop (back to the input size) -> flips -> rotation by 90 degree multiples ->
    colour jitter -> grayscale -> Gaussian blur -> field-of-view mask, each step as configured by
    the :class:`~monai_debclust.transforms.presets.ViewPreset`. The output is a plain
    ``torch.Tensor`` of the input's shape and dtype, clipped to ``[0, 1]``; the input (a tensor,
    ``MetaTensor`` or array) is not modified.

    Called on one image ``(C, H, W)`` (or ``(C, D, H, W)`` where the preset allows) it draws from
    its steps' MONAI generators: ``set_random_state`` seeds every step from this transform's own
    generator, so one seed fixes the whole chain. :meth:`batch` transforms ``(B, C, ...)`` with
    parameters drawn from a ``torch.Generator``; :meth:`draw` gives its parameters,
    ``{step: parameters}`` for the steps ``crop``, ``symmetry``, ``jitter``, ``grayscale``, ``blur``.

    With a ``fov_threshold`` (the ``fundus`` preset) the field-of-view mask is computed from the
    input, cropped and flipped together with it (the linear resize leaves a one-pixel soft edge,
    which keeps the rim of an enlarged crop from turning into a staircase), and the view is
    multiplied by it at the end: everything outside the field of view is exactly 0.

    Args:
        preset: ``"default"``, ``"fundus"``, ``"dermoscopy"`` or a :class:`ViewPreset`.
        overrides: :class:`ViewPreset` fields to replace, e.g. ``blur_prob=0.0``.
    """

    def __init__(self, preset: str | ViewPreset = "default", **overrides: Any) -> None:
        self.preset = p = get_preset(preset, **overrides)
        self.steps: dict[str, RandBatchTransform] = {
            "crop": RandResizedCrop(scale=p.crop_scale, ratio=p.crop_ratio),
            "symmetry": RandFlipRotate90(p.flip_axes, flip_prob=p.flip_prob, rotate90_prob=p.rotate90_prob),
            "jitter": RandColorJitter(p.brightness, p.contrast, p.saturation, p.hue, prob=p.jitter_prob),
            "grayscale": RandGrayscale(prob=p.grayscale_prob),
            "blur": RandGaussianBlur(prob=p.blur_prob, sigma_range=p.blur_sigma, kernel_fraction=p.blur_kernel_fraction),
        }

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> RandView:
        """Seed this transform, then each step from it."""
        super().set_random_state(seed, state)
        for step in self.steps.values():
            step.set_random_state(seed=int(self.R.randint(MAX_SEED, dtype="uint32")))
        return self

    def check(self, images: torch.Tensor) -> None:
        name, shape = self.preset.name, tuple(images.shape[1:])
        if not torch.is_floating_point(images):
            raise TypeError(f"RandView expects float images in [0, 1], got dtype {images.dtype}; scale them first.")
        if images.ndim - 2 not in self.preset.spatial_dims:
            if images.ndim - 2 in (2, 3):
                supported = " and ".join(f"{dims}-D" for dims in self.preset.spatial_dims)
                raise NotImplementedError(
                    f"preset {name!r} is for {supported} images, got shape {shape}; "
                    "preset 'default' handles 3-D volumes."
                )
            raise ValueError(f"expected a (C, H, W) or (C, D, H, W) image, got shape {shape}.")
        if self.preset.rotate90_prob > 0 and images.shape[-1] != images.shape[-2]:
            raise ValueError(f"preset {name!r} rotates by 90 degrees, which needs square images; got shape {shape}.")
        self.steps["symmetry"].check(images)

    def draw(self, images: torch.Tensor, generator: torch.Generator | None = None) -> Params:
        """Every step's parameters for a batch, drawn in the order of the chain."""
        return {name: step.draw(images, generator) for name, step in self.steps.items()}

    def randomize(self, data: torch.Tensor) -> None:
        """Draw every step's parameters for one image ``data`` ``(C, *spatial)`` from the steps' own generators."""
        for step in self.steps.values():
            step.randomize(data)
        self.params = {name: step.params for name, step in self.steps.items()}

    def apply(self, images: torch.Tensor, params: Params) -> torch.Tensor:
        """The chain on a float batch ``(B, C, *spatial)`` in ``[0, 1]``, each sample with its parameters."""
        threshold = self.preset.fov_threshold
        view = images
        if threshold is not None:
            view = torch.cat([images, (images.amax(1, keepdim=True) > threshold).to(images.dtype)], dim=1)
        for name in SPATIAL_STEPS:
            view = self.steps[name].apply(view, params[name])
        if threshold is not None:
            view, inside = view[:, :-1], view[:, -1:].clamp(0, 1)
        for name in INTENSITY_STEPS:
            view = self.steps[name].apply(view, params[name])
        view = view.clamp(0, 1)  # interpolation and blur round a hair past [0, 1]
        return view if threshold is None else view * inside

    def __call__(self, img: torch.Tensor | np.ndarray, randomize: bool = True) -> torch.Tensor:
        """Draw one view of ``img`` ``(C, H, W)`` (or ``(C, D, H, W)`` where the preset allows)."""
        return super().__call__(convert_to_tensor(img, track_meta=False), randomize)


class BatchTwoViews(Transform):
    """Two random views of every image of a batch, made by batched torch ops on the batch's device.

    ``views(images, generator) -> (view1, view2)`` for ``images`` ``(B, C, H, W)`` (or volumes
    where the preset allows), ``uint8`` (scaled by 1/255) or float in ``[0, 1]``. Each view is a
    :class:`RandView` of the preset; the parameters of all ``2B`` views come from ``generator``
    (CPU; the default is torch's global one), first those of ``view1``, so the views depend on the
    generator's seed and not on the device. Both views are made in one pass over a ``2B`` batch.

    On the CPU the ``2B`` views are made ``cpu_chunk`` at a time (the same parameters, so the same
    views): a few dozen images' float intermediates stay in the cache where 2 x 256 images at
    224 px would not.

    Args:
        preset: ``"default"``, ``"fundus"``, ``"dermoscopy"`` or a :class:`ViewPreset`.
        cpu_chunk: views made per pass on the CPU; None makes all ``2B`` in one pass.
        overrides: :class:`ViewPreset` fields to replace, e.g. ``blur_prob=0.0``.
    """

    def __init__(self, preset: str | ViewPreset = "default", cpu_chunk: int | None = 32, **overrides: Any) -> None:
        if cpu_chunk is not None and cpu_chunk < 1:
            raise ValueError(f"cpu_chunk must be >= 1 or None, got {cpu_chunk}.")
        self.view = RandView(preset, **overrides)
        self.cpu_chunk = cpu_chunk

    @property
    def preset(self) -> ViewPreset:
        return self.view.preset

    def draw(self, images: torch.Tensor, generator: torch.Generator | None = None) -> Params:
        """The parameters of ``view1`` then ``view2`` of a batch, as those of one ``2B`` batch."""
        return cat_params([self.view.draw(images, generator), self.view.draw(images, generator)])

    def apply(self, images: torch.Tensor, params: Params) -> tuple[torch.Tensor, torch.Tensor]:
        """Both views of a batch with given parameters (``2B`` rows, ``view1``'s first)."""
        images = to_unit_float(images)
        both, rows = torch.cat([images, images]), 2 * images.shape[0]
        if images.device.type != "cpu" or self.cpu_chunk is None or rows <= self.cpu_chunk:
            both = self.view.apply(both, params)
        else:
            both = torch.cat([self.view.apply(both[start : start + self.cpu_chunk],
                                              slice_params(params, start, start + self.cpu_chunk))
                              for start in range(0, rows, self.cpu_chunk)])
        return both[: images.shape[0]], both[images.shape[0] :]

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(view1, view2)`` of ``images`` ``(B, C, *spatial)``, each of their shape, float in ``[0, 1]``."""
        images = to_unit_float(images)
        self.view.check(images)
        return self.apply(images, self.draw(images, generator))


class TwoViewd(Randomizable, MapTransform):
    """Add two independent random views of ``data[key]`` under ``view_keys``; ``data[key]`` is kept as is.

    The input of the joint model: the views feed the contrastive branch and the plain image the
    clustering branch. The views are those of :class:`BatchTwoViews` for a batch of this one
    image (the SimCLR recipe by default; ``"fundus"`` and ``"dermoscopy"`` adapt it, see
    :data:`~monai_debclust.transforms.presets.PRESETS`); a ``uint8`` image is scaled by 1/255.

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
        self.views = BatchTwoViews(preset, **overrides)

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> TwoViewd:
        """Seed this transform, then its view chain from it."""
        super().set_random_state(seed, state)
        self.views.view.set_random_state(seed=int(self.R.randint(MAX_SEED, dtype="uint32")))
        return self

    def randomize(self, data: torch.Tensor) -> Params:
        """The parameters of both views of one image ``data`` ``(C, *spatial)``, as a batch of two."""
        parts = []
        for _ in range(2):
            self.views.view.randomize(data)
            parts.append(self.views.view.params)
        return cat_params(parts)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        """Return a copy of ``data`` with the two views added."""
        d = dict(data)
        for key in self.key_iterator(d):
            image = to_unit_float(convert_to_tensor(d[key], track_meta=False))[None]
            self.views.view.check(image)
            view1, view2 = self.views.apply(image, self.randomize(image[0]))
            d[self.view_keys[0]], d[self.view_keys[1]] = view1[0], view2[0]
        return d
