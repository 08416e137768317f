"""Encoder features and soft cluster assignments of a whole data set, in evaluation mode."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from monai.networks.utils import eval_mode
from torch import nn

from monai_debclust.utils.dist import unwrap_network

__all__ = ["embed_batch", "embed_dataset"]


def embed_batch(network: nn.Module, images: torch.Tensor, amp: bool = False) -> dict[str, torch.Tensor]:
    """``{"features": h, "q": q}`` of ``images`` (no views), as float32: the one embedding pass.

    ``h = network.embed(images)`` and ``q = network.clustering(h)``, what the network's forward
    gives as ``features`` and ``q``. Runs the bare module (never ``DistributedDataParallel``'s
    forward, which would wait for the other ranks), with gradients off; the caller sets training
    or evaluation mode.
    """
    module = unwrap_network(network)
    with torch.no_grad(), torch.autocast(images.device.type, enabled=amp):
        features = module.embed(images)
        q = module.clustering(features)
    return {"features": features.float(), "q": q.float()}


def embed_dataset(
    network: nn.Module,
    data_loader: Iterable,
    device: str | torch.device,
    amp: bool = False,
    image_key: str = "image",
    keys: Sequence[str] = ("label", "index"),
) -> dict[str, torch.Tensor]:
    """Embed every batch of ``data_loader`` with ``network`` in evaluation mode.

    Batch normalisation and dropout are in evaluation mode while embedding and the network's
    mode is restored afterwards, so a handler may call this in the middle of training.

    Args:
        network: the joint model (``forward(image) -> dict(features, q)``), possibly wrapped.
        data_loader: batches of dictionaries with ``image_key`` and ``keys``.
        device: where the network is.
        amp: autocast the forward pass (on CUDA).
        image_key: key of the images.
        keys: other per-sample tensors to collect alongside (those a batch lacks are skipped).

    Returns:
        ``{"features": (N, D), "q": (N, K), **{key: (N,) for key in keys}}`` on the CPU, in
        the loader's order.
    """
    device = torch.device(device)
    collected: dict[str, list[torch.Tensor]] = {}
    with eval_mode(unwrap_network(network)):
        for batch in data_loader:
            outputs = embed_batch(network, batch[image_key].to(device), amp=amp and device.type == "cuda")
            outputs.update({key: torch.as_tensor(batch[key]) for key in keys if key in batch})
            for key, value in outputs.items():
                collected.setdefault(key, []).append(value.cpu())
    if not collected:
        raise ValueError("the data loader yielded no batch to embed.")
    return {key: torch.cat(values) for key, values in collected.items()}
