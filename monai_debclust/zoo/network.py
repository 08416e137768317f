"""The network a bundle's Model Zoo checks run: ``image -> q``, named as in ``models/model.pt``."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AssignmentNetwork"]


class AssignmentNetwork(nn.Module):
    """A trained joint network seen as one tensor-valued network, ``image -> q`` ``(B, K)``.

    The Model Zoo's checks run a bundle's ``network_def``: ``verify_net_in_out`` wants one output
    tensor whose dim 1 is ``outputs.pred.num_channels``, and ``ckpt_export`` loads
    ``models/model.pt`` into it strictly before tracing it to TorchScript. ``model.pt`` is the
    trained network's own state dict (``encoder.*``, ``clustering.*``, ...), so this module holds
    the network's sub-modules under their own names instead of wrapping the network (as
    :class:`~monai_debclust.networks.SoftAssignmentNet` does, which prefixes every name with
    ``network.``): its state dict *is* the network's.

    Args:
        network: a trained :class:`~monai_debclust.networks.DebClustNet` (anything with
            ``assign(image) -> q``).
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        for name, child in network.named_children():
            self.add_module(name, child)
        for name, parameter in network.named_parameters(recurse=False):
            self.register_parameter(name, parameter)
        for name, buffer in network.named_buffers(recurse=False):
            self.register_buffer(name, buffer)
        self.assign = network.assign

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.assign(image)
