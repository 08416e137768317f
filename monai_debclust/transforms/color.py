"""Colour augmentation: RGB <-> HSV in torch, colour jitter and random grayscale.

All functions take channel-first float tensors in ``[0, 1]`` with any number of spatial axes,
``(C, H, W)`` or ``(C, D, H, W)``. Saturation, hue and grayscale are defined for RGB only
(``C == 3``); brightness and contrast work for any channel count.
"""

from __future__ import annotations

import torch
from monai.transforms import RandomizableTransform

__all__ = [
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

#: ITU-R BT.601 luma weights, the grayscale of PIL and torchvision.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def _require_rgb(img: torch.Tensor, what: str) -> None:
    if img.ndim < 3 or img.shape[0] != 3:
        raise ValueError(f"{what} needs a channel-first RGB image (3, ...), got shape {tuple(img.shape)}.")


def rgb_to_hsv(img: torch.Tensor) -> torch.Tensor:
    """RGB ``(3, ...)`` in ``[0, 1]`` to HSV ``(3, ...)``: hue in ``[0, 1)``, saturation and value in ``[0, 1]``.

    ``v = max``, ``s = (max - min) / max`` and the hue is the position on the colour hexagon,
    ``h = ((g - b) / delta mod 6) / 6`` when red is the maximum, ``((b - r) / delta + 2) / 6`` for
    green and ``((r - g) / delta + 4) / 6`` for blue; grey pixels (``delta = 0``) get ``h = 0``.
    """
    _require_rgb(img, "rgb_to_hsv")
    red, green, blue = img.unbind(0)
    value = img.amax(dim=0)
    delta = value - img.amin(dim=0)
    chromatic = delta > 0
    safe_delta = torch.where(chromatic, delta, torch.ones_like(delta))
    hue = torch.where(
        red == value,
        ((green - blue) / safe_delta) % 6,
        torch.where(green == value, (blue - red) / safe_delta + 2, (red - green) / safe_delta + 4),
    )
    hue = torch.where(chromatic, hue / 6, torch.zeros_like(hue))
    saturation = torch.where(value > 0, delta / value.clamp_min(torch.finfo(img.dtype).tiny), torch.zeros_like(delta))
    return torch.stack([hue, saturation, value])


def hsv_to_rgb(img: torch.Tensor) -> torch.Tensor:
    """HSV ``(3, ...)`` to RGB ``(3, ...)``, the inverse of :func:`rgb_to_hsv`.

    Channel ``n`` (5 for red, 3 for green, 1 for blue) is ``v - v s clip(min(k, 4 - k), 0, 1)``
    with ``k = (n + 6 h) mod 6``.
    """
    _require_rgb(img, "hsv_to_rgb")
    hue, saturation, value = img[0:1], img[1:2], img[2:3]
    offsets = torch.tensor([5.0, 3.0, 1.0], dtype=img.dtype, device=img.device).view(3, *([1] * (img.ndim - 1)))
    k = (offsets + 6 * hue) % 6
    return value - value * saturation * torch.minimum(k, 4 - k).clamp(0, 1)


def rgb_to_grayscale(img: torch.Tensor) -> torch.Tensor:
    """Luma ``0.299 r + 0.587 g + 0.114 b`` of an RGB ``(3, ...)`` image, shape ``(1, ...)``."""
    _require_rgb(img, "rgb_to_grayscale")
    weights = torch.tensor(LUMA_WEIGHTS, dtype=img.dtype, device=img.device)
    return torch.tensordot(weights, img, dims=1)[None]


def adjust_brightness(img: torch.Tensor, factor: float) -> torch.Tensor:
    """Scale intensities by ``factor`` and clip to ``[0, 1]``; ``factor = 1`` is the identity."""
    return (img * factor).clamp(0, 1)


def adjust_contrast(img: torch.Tensor, factor: float) -> torch.Tensor:
    """Blend with the mean grey level: ``factor * img + (1 - factor) * mean``, clipped to ``[0, 1]``.

    The mean is that of the luma for RGB and of all intensities otherwise.
    """
    mean = (rgb_to_grayscale(img) if img.shape[0] == 3 else img).mean()
    return (img * factor + mean * (1 - factor)).clamp(0, 1)


def adjust_saturation(img: torch.Tensor, factor: float) -> torch.Tensor:
    """Blend an RGB image with its grayscale: ``factor * img + (1 - factor) * gray``, clipped to ``[0, 1]``."""
    return (img * factor + rgb_to_grayscale(img) * (1 - factor)).clamp(0, 1)


def adjust_hue(img: torch.Tensor, shift: float) -> torch.Tensor:
    """Rotate the hue of an RGB image by ``shift`` turns (``1/3`` turns red into green)."""
    hsv = rgb_to_hsv(img)
    hsv[0] = (hsv[0] + shift) % 1
    return hsv_to_rgb(hsv)


class RandColorJitter(RandomizableTransform):
    """With probability ``prob``, jitter brightness, contrast, saturation and hue in a random order.

    The SimCLR colour distortion (Chen et al., 2020), as torchvision's ``ColorJitter``: factors
    ``b, c, s ~ U(max(0, 1 - strength), 1 + strength)`` and a hue shift ``~ U(-hue, hue)``, applied
    in a random permutation. A strength of 0 leaves that property unchanged.

    Saturation and hue are defined for RGB only: images with another channel count (e.g. a
    1-channel grey image) get brightness and contrast only.

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
        super().__init__(prob)
        for name, strength in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
            if strength < 0:
                raise ValueError(f"{name} must be >= 0, got {strength}.")
        if not 0 <= hue <= 0.5:
            raise ValueError(f"hue must be within [0, 0.5], got {hue}.")
        self.ranges = [(max(0.0, 1 - s), 1 + s) if s > 0 else None for s in (brightness, contrast, saturation)]
        self.ranges.append((-hue, hue) if hue > 0 else None)
        self._order: list[int] = []
        self._factors: list[float | None] = []

    def randomize(self, data: object = None) -> None:
        """Decide whether to jitter, then draw the order and the four factors."""
        super().randomize(None)
        if not self._do_transform:
            return
        self._order = [int(i) for i in self.R.permutation(4)]
        self._factors = [None if bounds is None else float(self.R.uniform(*bounds)) for bounds in self.ranges]

    def __call__(self, img: torch.Tensor, randomize: bool = True) -> torch.Tensor:
        """Jitter a channel-first float image in ``[0, 1]``."""
        if randomize:
            self.randomize()
        if not self._do_transform:
            return img
        operations = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)
        rgb_only = (adjust_saturation, adjust_hue)
        for index in self._order:
            operation, factor = operations[index], self._factors[index]
            if factor is None or (operation in rgb_only and img.shape[0] != 3):
                continue
            img = operation(img, factor)
        return img


class RandGrayscale(RandomizableTransform):
    """With probability ``prob``, replace an RGB image by its luma repeated on the three channels.

    Images with a channel count other than 3 are returned unchanged.

    Args:
        prob: probability of converting an image.
    """

    def __init__(self, prob: float = 0.2) -> None:
        super().__init__(prob)

    def __call__(self, img: torch.Tensor, randomize: bool = True) -> torch.Tensor:
        """Convert a channel-first float image in ``[0, 1]``."""
        if randomize:
            self.randomize(None)
        if not self._do_transform or img.shape[0] != 3:
            return img
        return rgb_to_grayscale(img).expand_as(img).contiguous()
