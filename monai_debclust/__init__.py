"""monai-debclust: debiased self-supervised representations with a joint deep-clustering head.

Sub-packages follow MONAI's layout: :mod:`monai_debclust.networks`, :mod:`monai_debclust.losses`,
:mod:`monai_debclust.transforms`, :mod:`monai_debclust.data`, :mod:`monai_debclust.engines` and
:mod:`monai_debclust.evaluation`. They are imported here, so that a bundle config's
``"$import monai_debclust"`` reaches every ``monai_debclust.<package>.<name>``.
"""

__version__ = "0.1.0"

from monai_debclust import data, engines, evaluation, losses, networks, transforms  # noqa: E402

__all__ = ["__version__", "data", "engines", "evaluation", "losses", "networks", "transforms"]
