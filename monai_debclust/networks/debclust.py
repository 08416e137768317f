"""The joint model: encoder ``f``, projection head ``g`` and DEC clustering head on one encoder."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from monai_debclust.networks.factory import get_encoder
from monai_debclust.networks.heads import ClusteringHead, ProjectionHead

__all__ = ["DebClustNet", "SoftAssignmentNet", "project_views", "resolve_encoder"]


def resolve_encoder(encoder: nn.Module | str, encoder_kwargs: dict[str, Any] | None = None) -> nn.Module:
    """``encoder`` itself, or the encoder named ``encoder`` built by :func:`get_encoder` with ``encoder_kwargs``."""
    if isinstance(encoder, str):
        return get_encoder(encoder, **(encoder_kwargs or {}))
    if encoder_kwargs:
        raise ValueError("encoder_kwargs are only used when encoder is given by name.")
    if not isinstance(getattr(encoder, "out_channels", None), int):
        raise ValueError(f"the encoder must say the length of its feature in an int `out_channels`: {type(encoder)}.")
    return encoder


def project_views(
    encoder: nn.Module, projection: nn.Module, view1: torch.Tensor | None, view2: torch.Tensor | None
) -> dict[str, torch.Tensor]:
    """``{"z1": g(f(view1)), "z2": g(f(view2))}`` for the views given, in one pass of ``f`` and ``g``.

    The views are concatenated along the batch, so in training mode the batch normalisations of
    the encoder and of the projection see both views together (as in SimCLR).
    """
    views = {key: view for key, view in (("z1", view1), ("z2", view2)) if view is not None}
    if not views:
        return {}
    z = projection(encoder(torch.cat(list(views.values()), dim=0)))
    return dict(zip(views, z.split([len(view) for view in views.values()], dim=0)))


class DebClustNet(nn.Module):
    """Joint debiased representation and clustering network (Zheng et al., 2022, "Joint Debiased
    Representation and Image Clustering Learning with Self-Supervision", arXiv:2209.06941).

    One encoder ``f`` feeds two branches:

    * representation: ``z = g(f(view))`` for the two augmented views, ``g`` a
      :class:`ProjectionHead`; the views go to the contrastive loss;
    * clustering: ``h = f(image)`` of the un-augmented image and its Student-t assignment
      ``q(h)`` to the centres of a :class:`ClusteringHead`; ``q`` goes to the DEC loss.

    Batch normalisation: in training mode the two views run through ``f`` as one batch (one
    pass, shared statistics), and the un-augmented image runs through ``f`` on its own, so the
    statistics of plain images never mix with those of augmented ones; the running statistics
    used in evaluation mode are updated by both passes.

    Args:
        encoder: an ``nn.Module`` with ``out_channels``, or the name of one for :func:`get_encoder`
            (``"convmixer"``, ``"resnet18"``, ``"coatnet"``), which suits MONAI bundle configs.
        num_clusters: number of clusters ``K``.
        projection_hidden: hidden width of ``g``.
        projection_dim: length of ``z``.
        alpha: degrees of freedom of the Student-t kernel.
        encoder_kwargs: arguments of the named encoder, e.g. ``{"spatial_dims": 3, "dim": 64}``.
    """

    def __init__(
        self,
        encoder: nn.Module | str,
        num_clusters: int = 2,
        projection_hidden: int = 512,
        projection_dim: int = 128,
        alpha: float = 1.0,
        encoder_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.encoder = resolve_encoder(encoder, encoder_kwargs)
        self.projection = ProjectionHead(self.encoder.out_channels, projection_hidden, projection_dim)
        self.clustering = ClusteringHead(self.encoder.out_channels, num_clusters, alpha)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder feature ``h = f(x)``, ``(B, out_channels)``."""
        return self.encoder(x)

    def assign(self, x: torch.Tensor) -> torch.Tensor:
        """Soft cluster assignment ``q(f(x))``, ``(B, K)``."""
        return self.clustering(self.embed(x))

    def forward(
        self, image: torch.Tensor, view1: torch.Tensor | None = None, view2: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """``dict(features=h(image), q=q(image))``, plus ``z1``/``z2`` for the views given."""
        features = self.embed(image)
        return {"features": features, "q": self.clustering(features),
                **project_views(self.encoder, self.projection, view1, view2)}


class SoftAssignmentNet(nn.Module):
    """A trained joint model as one tensor-valued network: ``image -> q`` ``(B, K)``.

    The Model Zoo's checks (``verify_net_in_out``: one output tensor whose dim 1 is
    ``outputs.pred.num_channels`` = K) and TorchScript export (``torch.jit.trace``) need a
    network that returns a tensor, not the dictionary of :class:`DebClustNet`. The network's
    sub-modules are registered here under their own names, so this module's state dict *is*
    the network's (``encoder.*``, ``clustering.*``, ...) and ``models/model.pt`` loads into it
    strictly, as MONAI's ``ckpt_export`` does.

    Args:
        network: a :class:`DebClustNet` (or anything with ``assign(image) -> q``).
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        for name, child in network.named_children():
            self.add_module(name, child)
        for name, parameter in network.named_parameters(recurse=False):
            self.register_parameter(name, parameter)
        for name, buffer in network.named_buffers(recurse=False):
            self.register_buffer(name, buffer)
        object.__setattr__(self, "_assign", network.assign)  # the method, not a second copy of the modules

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self._assign(image)
