"""The one definition of the grey value of an RGB pixel, for every layer that needs it."""

from __future__ import annotations

__all__ = ["LUMA_WEIGHTS"]

#: ITU-R BT.601 luma weights (``0.299 r + 0.587 g + 0.114 b``), the grayscale of PIL and torchvision.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
