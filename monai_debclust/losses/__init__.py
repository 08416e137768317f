"""Losses of monai-debclust: contrastive (NT-Xent, debiased, modified debiased) and their temperature
schedule, SimSiam, DEC and its partial optimal-transport target, joint, feature distillation."""

from monai_debclust.losses.debiased import DebiasedContrastiveLoss, ModifiedDebiasedContrastiveLoss
from monai_debclust.losses.dec import DECClusteringLoss
from monai_debclust.losses.distillation import FeatureDistillationLoss
from monai_debclust.losses.joint import JointDebClustLoss
from monai_debclust.losses.ntxent import NTXentLoss
from monai_debclust.losses.partial_ot import PartialOTTarget, PartialTransport
from monai_debclust.losses.simsiam import SimSiamLoss
from monai_debclust.losses.temperature import CosineTemperatureSchedule

__all__ = [
    "CosineTemperatureSchedule",
    "DECClusteringLoss",
    "DebiasedContrastiveLoss",
    "FeatureDistillationLoss",
    "JointDebClustLoss",
    "ModifiedDebiasedContrastiveLoss",
    "NTXentLoss",
    "PartialOTTarget",
    "PartialTransport",
    "SimSiamLoss",
]
