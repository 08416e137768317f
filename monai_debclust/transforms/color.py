"""Colour augmentation on batches: RGB <-> HSV in torch, colour jitter and random grayscale.

All functions take batches of channel-first float images in ``[0, 1]`` with any number of
spatial axes, ``(B, C, H, W)`` or ``(B, C, D, H, W)``, and per-sample factors (a ``(B,)`` tensor,
or one number for all). Saturation, hue and grayscale are defined for RGB only (``C == 3``);
brightness and contrast work for any channel count.
"""

from __future__ import annotations

import torch

from monai_debclust.transforms.batch import Params, RandBatchTransform, apply_to_chosen, per_sample
from monai_debclust.utils.colour import LUMA_WEIGHTS

__all__ = [
    "LUMA_WEIGHTS",
    "rgb_to_hsv",
    "hsv_to_rgb",
    "rgb_to_grayscale",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_saturation",
    "adjust_hue",
    "RandColorJitter",
    "RandGrayscale",
]



def _require_rgb(images: torch.Tensor, what: str) -> None:
    if images.ndim < 4 or images.shape[1] != 3:
        raise ValueError(f"{what} needs a batch of RGB images (B, 3, ...), got shape {tuple(images.shape)}.")


def _factor(factor: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor | float:
    """A number as is, per-sample factors (computed in float64 by the callers) shaped to broadcast over ``like``."""
    return per_sample(factor, like) if isinstance(factor, torch.Tensor) else factor


def rgb_to_hsv(images: torch.Tensor) -> torch.Tensor:
    """RGB ``(B, 3, ...)`` in ``[0, 1]`` to HSV: hue in ``[0, 1)``, saturation and value in ``[0, 1]``.

    ``v = max``, ``s = (max - min) / max`` and the hue is the position on the colour hexagon,
    ``h = ((g - b) / delta mod 6) / 6`` when red is the maximum, ``((b - r) / delta + 2) / 6`` for
    green and ``((r - g) / delta + 4) / 6`` for blue; grey pixels (``delta = 0``) get ``h = 0``.
    """
    _require_rgb(images, "rgb_to_hsv")
    red, green, blue = images.unbind(1)
    value = images.amax(dim=1)
    delta = value - images.amin(dim=1)
    chromatic = delta > 0
    safe_delta = torch.where(chromatic, delta, torch.ones_like(delta))
    hue = torch.where(
        red == value,
        ((green - blue) / safe_delta) % 6,
        torch.where(green == value, (blue - red) / safe_delta + 2, (red - green) / safe_delta + 4),
    )
    hue = torch.where(chromatic, hue / 6, torch.zeros_like(hue))
    tiny = torch.finfo(images.dtype).tiny
    saturation = torch.where(value > 0, delta / value.clamp_min(tiny), torch.zeros_like(delta))
    return torch.stack([hue, saturation, value], dim=1)


def hsv_to_rgb(images: torch.Tensor) -> torch.Tensor:
    """HSV ``(B, 3, ...)`` to RGB ``(B, 3, ...)``, the inverse of :func:`rgb_to_hsv`.

    Channel ``n`` (5 for red, 3 for green, 1 for blue) is ``v - v s clip(min(k, 4 - k), 0, 1)``
    with ``k = (n + 6 h) mod 6``.
    """
    _require_rgb(images, "hsv_to_rgb")
    hue, saturation, value = images[:, 0:1], images[:, 1:2], images[:, 2:3]
    offsets = torch.tensor([5.0, 3.0, 1.0], dtype=images.dtype, device=images.device)
    k = (offsets.view(1, 3, *([1] * (images.ndim - 2))) + 6 * hue) % 6
    return value - value * saturation * torch.minimum(k, 4 - k).clamp(0, 1)


def rgb_to_grayscale(images: torch.Tensor) -> torch.Tensor:
    """Luma ``0.299 r + 0.587 g + 0.114 b`` of RGB images ``(B, 3, ...)``, shape ``(B, 1, ...)``."""
    _require_rgb(images, "rgb_to_grayscale")
    weights = torch.tensor(LUMA_WEIGHTS, dtype=images.dtype, device=images.device)
    return torch.tensordot(images, weights, dims=([1], [0])).unsqueeze(1)


def adjust_brightness(images: torch.Tensor, factor: torch.Tensor | float) -> torch.Tensor:
    """Scale intensities by ``factor`` and clip to ``[0, 1]``; ``factor = 1`` is the identity."""
    return (images * _factor(factor, images)).clamp(0, 1)


def adjust_contrast(images: torch.Tensor, factor: torch.Tensor | float) -> torch.Tensor:
    """Blend each image with its mean grey level: ``factor * img + (1 - factor) * mean``, clipped to ``[0, 1]``.

    The mean is that of the luma for RGB and of all intensities otherwise.
    """
    grey = rgb_to_grayscale(images) if images.shape[1] == 3 else images
    mean = grey.mean(dim=tuple(range(1, images.ndim)), keepdim=True)
    return (images * _factor(factor, images) + mean * _factor(1 - factor, images)).clamp(0, 1)


def adjust_saturation(images: torch.Tensor, factor: torch.Tensor | float) -> torch.Tensor:
    """Blend RGB images with their grayscale: ``factor * img + (1 - factor) * gray``, clipped to ``[0, 1]``."""
    grey = rgb_to_grayscale(images)
    return (images * _factor(factor, images) + grey * _factor(1 - factor, images)).clamp(0, 1)


def adjust_hue(images: torch.Tensor, shift: torch.Tensor | float) -> torch.Tensor:
    """Rotate the hue of RGB images by ``shift`` turns (``1/3`` turns red into green)."""
    hsv = rgb_to_hsv(images)
    hue = (hsv[:, 0:1] + _factor(shift, images)) % 1
    return hsv_to_rgb(torch.cat([hue, hsv[:, 1:]], dim=1))


class RandColorJitter(RandBatchTransform):
    """With probability ``prob``, jitter brightness, contrast, saturation and hue in a random order.

    The SimCLR colour distortion (Chen et al., 2020), as torchvision's ``ColorJitter``: factors
    ``b, c, s ~ U(max(0, 1 - strength), 1 + strength)`` and a hue shift ``~ U(-hue, hue)``, applied
    in a random permutation. A strength of 0 leaves that property unchanged.

    Saturation and hue are defined for RGB only: images with another channel count (e.g. a
    1-channel grey image) get brightness and contrast only.

    Parameters: ``apply`` ``(B,)`` bool, ``order`` ``(B, 4)`` a permutation of the four
    adjustments (0 brightness, 1 contrast, 2 saturation, 3 hue) and ``factors`` ``(B, 4)``.
    A batch is jittered position by position: at each of the four positions every adjustment
    runs once, on the samples that have it there.

    Args:
        brightness: strength of the brightness factor, ``>= 0``.
        contrast: strength of the contrast factor, ``>= 0``.
        saturation: strength of the saturation factor, ``>= 0``.
        hue: largest hue shift in turns, within ``[0, 0.5]``.
        prob: probability of jittering an image at all.
    """

    def __init__(
        self,
        brightness: float = 0.4,
        contrast: float = 0.4,
        saturation: float = 0.4,
        hue: float = 0.1,
        prob: float = 0.8,
    ) -> None:
        for name, strength in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
            if strength < 0:
                raise ValueError(f"{name} must be >= 0, got {strength}.")
        if not 0 <= hue <= 0.5:
            raise ValueError(f"hue must be within [0, 0.5], got {hue}.")
        self.prob = prob
        self.ranges = [(max(0.0, 1 - s), 1 + s) if s > 0 else None for s in (brightness, contrast, saturation)]
        self.ranges.append((-hue, hue) if hue > 0 else None)

    def draw(self, images: torch.Tensor, generator: torch.Generator | None = None) -> Params:
        """Whether, in which order and by how much each sample of a batch is jittered."""
        batch = images.shape[0]
        chosen = torch.rand(batch, generator=generator) < self.prob
        order = torch.rand(batch, 4, generator=generator).argsort(dim=1)
        unit = torch.rand(batch, 4, generator=generator, dtype=torch.float64)
        low = torch.tensor([0.0 if bounds is None else bounds[0] for bounds in self.ranges], dtype=torch.float64)
        high = torch.tensor([0.0 if bounds is None else bounds[1] for bounds in self.ranges], dtype=torch.float64)
        return {"apply": chosen, "order": order, "factors": low + (high - low) * unit}

    def randomize(self, data: object = None) -> None:
        """Decide whether to jitter, then draw the order and the four factors, from ``self.R``."""
        chosen = self.R.rand() < self.prob
        order, factors = list(range(4)), [0.0] * 4
        if chosen:
            order = [int(i) for i in self.R.permutation(4)]
            factors = [0.0 if bounds is None else float(self.R.uniform(*bounds)) for bounds in self.ranges]
        self.params = {
            "apply": torch.tensor([chosen]),
            "order": torch.tensor([order]),
            "factors": torch.tensor([factors], dtype=torch.float64),
        }

    def apply(self, images: torch.Tensor, params: Params) -> torch.Tensor:
        """Jitter a batch of channel-first float images in ``[0, 1]``."""
        operations = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)
        rgb = images.shape[1] == 3
        # schedule[b, position, index]: sample b runs adjustment `index` at `position`
        schedule = params["apply"][:, None, None] & (params["order"][:, :, None] == torch.arange(4))
        present = schedule.any(dim=0).tolist()
        out = images
        for position in range(4):
            for index, operation in enumerate(operations):
                if not present[position][index] or self.ranges[index] is None or (index >= 2 and not rgb):
                    continue
                chosen, factors = schedule[:, position, index], params["factors"][:, index]
                out = apply_to_chosen(out, chosen, lambda x, rows, op=operation, f=factors: op(x, f[rows]))
        return out


class RandGrayscale(RandBatchTransform):
    """With probability ``prob``, replace an RGB image by its luma repeated on the three channels.

    Images with a channel count other than 3 are returned unchanged. Parameters: ``apply`` ``(B,)`` bool.

    Args:
        prob: probability of converting an image.
    """

    def __init__(self, prob: float = 0.2) -> None:
        self.prob = prob

    def draw(self, images: torch.Tensor, generator: torch.Generator | None = None) -> Params:
        """Which samples of a batch become grey."""
        return {"apply": torch.rand(images.shape[0], generator=generator) < self.prob}

    def randomize(self, data: object = None) -> None:
        """Decide from ``self.R`` whether to convert."""
        self.params = {"apply": torch.tensor([self.R.rand() < self.prob])}

    def apply(self, images: torch.Tensor, params: Params) -> torch.Tensor:
        """Convert the chosen samples of a batch of channel-first float images in ``[0, 1]``."""
        if images.shape[1] != 3:
            return images
        return apply_to_chosen(images, params["apply"], lambda x, _: rgb_to_grayscale(x).expand_as(x).contiguous())
