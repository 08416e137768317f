"""monai-debclust: debiased self-supervised representations with a joint deep-clustering head.

Sub-packages follow MONAI's layout: :mod:`monai_debclust.networks`, :mod:`monai_debclust.losses`,
:mod:`monai_debclust.transforms`, :mod:`monai_debclust.data`, :mod:`monai_debclust.engines`,
:mod:`monai_debclust.handlers` and :mod:`monai_debclust.evaluation`; :mod:`monai_debclust.similarity`
(k-means) and :mod:`monai_debclust.utils` sit below them, :mod:`monai_debclust.bundle` (what the
bundle configs call) and :mod:`monai_debclust.archive` (archive clustering) above. They are
imported here, so that a bundle config's ``"$import monai_debclust"`` reaches every
``monai_debclust.<package>.<name>``.
"""

__version__ = "0.1.0"

from monai_debclust import (  # noqa: E402
    archive,
    bundle,
    data,
    engines,
    evaluation,
    handlers,
    losses,
    networks,
    similarity,
    transforms,
    utils,
)

__all__ = [
    "__version__",
    "archive",
    "bundle",
    "data",
    "engines",
    "evaluation",
    "handlers",
    "losses",
    "networks",
    "similarity",
    "transforms",
    "utils",
]
