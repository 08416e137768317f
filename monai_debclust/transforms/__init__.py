"""Two-view augmentation for contrastive learning: SimCLR steps as MONAI transforms, and presets.

:class:`TwoViewd` is the dictionary transform the trainer uses; :class:`RandView` draws one view;
:class:`BatchTwoViews` makes both views of a whole batch on its device, with the same ops. The
steps (:class:`RandResizedCrop`, :class:`RandFlipRotate90`, :class:`RandColorJitter`,
:class:`RandGrayscale`, :class:`RandGaussianBlur`) also work on their own, on channel-first float
images in ``[0, 1]`` or, through ``batch``, on batches of them; the functions take batches.
"""

from monai_debclust.transforms.batch import RandBatchTransform, to_unit_float
from monai_debclust.transforms.blur import RandGaussianBlur, blur_kernel_size, gaussian_blur
from monai_debclust.transforms.color import (
    LUMA_WEIGHTS,
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
from monai_debclust.transforms.crop import RandResizedCrop, resized_crop
from monai_debclust.transforms.presets import PRESETS, ViewPreset, get_preset
from monai_debclust.transforms.symmetry import RandFlipRotate90
from monai_debclust.transforms.views import BatchTwoViews, RandView, TwoViewd

__all__ = [
    "TwoViewd",
    "BatchTwoViews",
    "RandView",
    "RandBatchTransform",
    "to_unit_float",
    "ViewPreset",
    "PRESETS",
    "get_preset",
    "RandResizedCrop",
    "resized_crop",
    "RandFlipRotate90",
    "RandColorJitter",
    "RandGrayscale",
    "RandGaussianBlur",
    "gaussian_blur",
    "blur_kernel_size",
    "LUMA_WEIGHTS",
    "rgb_to_hsv",
    "hsv_to_rgb",
    "rgb_to_grayscale",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_saturation",
    "adjust_hue",
]
