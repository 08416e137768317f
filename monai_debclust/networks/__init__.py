"""Networks of monai-debclust: encoders, poolings, heads and the joint models, MONAI style."""

from monai_debclust.networks.coatnet import CoAtNetEncoder, MBConvBlock, TransformerBlock
from monai_debclust.networks.convmixer import ConvMixerBlock, ConvMixerEncoder
from monai_debclust.networks.debclust import DebClustNet, SoftAssignmentNet, project_views, resolve_encoder
from monai_debclust.networks.description import (
    ENCODER_ARGUMENTS,
    NETWORKS,
    NetworkDescriptionError,
    NetworkSize,
    NetworkSizeError,
    build_network,
    check_network_size,
    describe_network,
    estimate_network_size,
    validate_description,
)
from monai_debclust.networks.factory import ENCODERS, EncoderEntry, get_encoder
from monai_debclust.networks.heads import ClusteringHead, ProjectionHead, student_t_assignment
from monai_debclust.networks.pooling import StatisticsPooling, global_average_pooling, pooled_features
from monai_debclust.networks.simsiam import SimSiamNet
from monai_debclust.networks.statdec import StatDECNet

__all__ = [
    "CoAtNetEncoder",
    "ClusteringHead",
    "ConvMixerBlock",
    "ConvMixerEncoder",
    "DebClustNet",
    "SoftAssignmentNet",
    "ENCODERS",
    "EncoderEntry",
    "ENCODER_ARGUMENTS",
    "NETWORKS",
    "NetworkDescriptionError",
    "NetworkSize",
    "NetworkSizeError",
    "MBConvBlock",
    "ProjectionHead",
    "SimSiamNet",
    "StatDECNet",
    "StatisticsPooling",
    "TransformerBlock",
    "build_network",
    "check_network_size",
    "describe_network",
    "estimate_network_size",
    "get_encoder",
    "global_average_pooling",
    "pooled_features",
    "project_views",
    "resolve_encoder",
    "student_t_assignment",
    "validate_description",
]
