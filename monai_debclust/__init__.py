"""monai-debclust: debiased self-supervised representations with a joint deep-clustering head.

Sub-packages follow MONAI's layout: :mod:`monai_debclust.networks`, :mod:`monai_debclust.losses`,
:mod:`monai_debclust.transforms`, :mod:`monai_debclust.data`, :mod:`monai_debclust.engines` and
:mod:`monai_debclust.evaluation`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
