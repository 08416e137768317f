"""Two-view augmentation for contrastive learning: SimCLR steps as MONAI transforms, and presets.

:class:`TwoViewd` is the dictionary transform the trainer uses; :class:`RandView` draws one view;
the steps (:class:`RandResizedCrop`, :class:`RandFlipRotate90`, :class:`RandColorJitter`,
:class:`RandGrayscale`, :class:`RandGaussianBlur`) also work on their own, on channel-first float
tensors in ``[0, 1]``.
"""

from monai_debclust.transforms.blur import RandGaussianBlur, blur_kernel_size, gaussian_blur
from monai_debclust.transforms.color import (
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
from monai_debclust.transforms.crop import RandResizedCrop
from monai_debclust.transforms.presets import PRESETS, ViewPreset, get_preset
from monai_debclust.transforms.symmetry import RandFlipRotate90
from monai_debclust.transforms.views import RandView, TwoViewd

__all__ = [
    "TwoViewd",
    "RandView",
    "ViewPreset",
    "PRESETS",
    "get_preset",
    "RandResizedCrop",
    "RandFlipRotate90",
    "RandColorJitter",
    "RandGrayscale",
    "RandGaussianBlur",
    "gaussian_blur",
    "blur_kernel_size",
    "rgb_to_hsv",
    "hsv_to_rgb",
    "rgb_to_grayscale",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_saturation",
    "adjust_hue",
]
