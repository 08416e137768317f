"""The common shape of the view steps: one random op on a batch, per-sample parameters, two ways to draw them.

Every step of the two-view chain (crop, symmetries, colour jitter, grayscale, blur) is a
:class:`RandBatchTransform`. Its torch op, :meth:`~RandBatchTransform.apply`, takes a batch
``(B, C, *spatial)`` and a dictionary of per-sample parameters (CPU tensors with ``B`` rows) and
runs vectorised over the batch, on whatever device the batch is on. The parameters come from
either

* :meth:`~RandBatchTransform.draw`, for a whole batch from a ``torch.Generator`` (the batched
  path: :class:`~monai_debclust.transforms.BatchTwoViews`, the trainer's on-device views), or
* :meth:`~RandBatchTransform.randomize`, for one image from the transform's own MONAI generator
  (``self.R``, seeded by ``set_random_state`` and by MONAI's data loader workers), so that calling
  the transform on one channel-first image ``(C, *spatial)`` works as any MONAI transform.

Both paths run the same :meth:`~RandBatchTransform.apply`, so a sample of a batch and the same
image alone, with the same parameters, get the same output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from monai.transforms import Randomizable, Transform

__all__ = ["RandBatchTransform", "Params", "apply_to_chosen", "cat_params", "slice_params", "to_unit_float"]

#: Per-sample parameters of a step: CPU tensors whose first axis is the batch (nested for a chain).
Params = dict[str, Any]


def to_unit_float(images: torch.Tensor) -> torch.Tensor:
    """``uint8`` images to ``float32 / 255``; floating-point images (assumed in ``[0, 1]``) unchanged: the one
    uint8 -> float step of training and inference."""
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    if not torch.is_floating_point(images):
        raise TypeError(f"expected uint8 or float images in [0, 1], got dtype {images.dtype}.")
    return images


def cat_params(parts: Sequence[Params]) -> Params:
    """Concatenate the parameters of several batches (e.g. of single images) into those of one batch."""
    first = parts[0]
    return {
        key: cat_params([part[key] for part in parts]) if isinstance(value, dict) else torch.cat([p[key] for p in parts])
        for key, value in first.items()
    }


def slice_params(params: Params, start: int, stop: int) -> Params:
    """The parameters of samples ``start .. stop - 1`` of a batch (nested like ``params``)."""
    return {key: slice_params(value, start, stop) if isinstance(value, dict) else value[start:stop]
            for key, value in params.items()}


def apply_to_chosen(
    images: torch.Tensor, chosen: torch.Tensor, op: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """``images`` with ``op(images[index], index)`` in place of the samples where ``chosen`` (a CPU bool ``(B,)``) holds.

    ``index`` is the CPU tensor of the chosen rows, for ``op`` to pick its parameters. The result
    is ``images`` itself when no sample is chosen, ``op``'s output when all are, and a new tensor
    otherwise; the input is never modified. The choice is made on the CPU, so a batch on a GPU is
    never synchronised to read it.
    """
    index = chosen.nonzero().flatten()
    if index.numel() == 0:
        return images
    if index.numel() == images.shape[0]:
        return op(images, index)
    rows = index.to(images.device, non_blocking=True)
    return images.index_copy(0, rows, op(images.index_select(0, rows), index))


def per_sample(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``(B,)`` values as ``(B, 1, ..., 1)`` in ``like``'s dtype and device, to broadcast over its samples."""
    return values.to(device=like.device, dtype=like.dtype, non_blocking=True).view(-1, *([1] * (like.ndim - 1)))


class RandBatchTransform(Randomizable, Transform):
    """A random step whose op runs on a batch with per-sample parameters; see the module docstring.

    Subclasses implement :meth:`draw` (a batch, from a ``torch.Generator``), :meth:`randomize`
    (one image, from ``self.R``, setting ``self.params``) and :meth:`apply`.
    """

    params: Params

    def draw(self, images: torch.Tensor, generator: torch.Generator | None = None) -> Params:
        """Per-sample parameters for the batch ``images`` ``(B, C, *spatial)`` (only its shape is read)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement draw.")

    def apply(self, images: torch.Tensor, params: Params) -> torch.Tensor:
        """The op on a batch ``(B, C, *spatial)`` with the parameters of its ``B`` samples."""
        raise NotImplementedError(f"{type(self).__name__} does not implement apply.")

    def check(self, images: torch.Tensor) -> None:
        """Raise for a batch this step cannot transform; nothing by default."""

    def batch(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Transform a batch ``(B, C, *spatial)`` with parameters drawn from ``generator`` (default: torch's global one)."""
        self.check(images)
        return self.apply(images, self.draw(images, generator))

    def __call__(self, img: torch.Tensor, randomize: bool = True) -> torch.Tensor:
        """Transform one channel-first image ``(C, *spatial)``, drawing its parameters from ``self.R`` unless told not to."""
        images = img[None]
        self.check(images)
        if randomize:
            self.randomize(img)
        out = self.apply(images, self.params)
        return img if out is images else out[0]
