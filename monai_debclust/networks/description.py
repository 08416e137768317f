"""A trained network as plain data: a known network name and typed arguments, checked before use.

A model folder (``models/network.json`` beside ``models/model.pt``) is untrusted input: it may
come from a downloaded bundle. Rebuilding the network with MONAI's ``ConfigParser`` would run
any ``$`` expression or ``_target_`` the file holds before ``torch.load(..., weights_only=True)``
could protect anything, so the description is never evaluated. It is JSON of the form::

    {"format": 1, "network": "DebClustNet",
     "arguments": {"encoder": "convmixer", "num_clusters": 2, "projection_hidden": 512,
                   "projection_dim": 128,
                   "encoder_kwargs": {"spatial_dims": 2, "in_channels": 3, "dim": 64, "depth": 4,
                                      "kernel_size": 7, "patch_size": 2, "dropout": 0.04}}}

:func:`build_network` accepts only the networks of :data:`NETWORKS` and the encoders of
:data:`ENCODER_ARGUMENTS`, each argument of the declared type and within bounds (a size of
``10**9`` would exhaust memory before any weight is read). Descriptions written before the
``format`` key existed (``{"_target_": "monai_debclust.networks.DebClustNet", **arguments}``)
are read as data too: the ``_target_`` must name one of the known classes, and nothing is imported
or called because of it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from torch import nn

from monai_debclust.errors import UserError
from monai_debclust.networks.checks import MAX_SIZE, SIZE, boolean, integer_in, real_in
from monai_debclust.networks.debclust import DebClustNet
from monai_debclust.networks.factory import ENCODERS
from monai_debclust.networks.simsiam import SimSiamNet
from monai_debclust.networks.size import (
    BYTES_PER_VALUE,
    DEFAULT_BATCH_SIZE,
    DEFAULT_IMAGE_SIZE,
    MEMORY_LIMIT_VARIABLE,
    format_bytes,
    memory_limit,
    projection_head_parameters,
)
from monai_debclust.networks.statdec import StatDECNet

__all__ = [
    "DESCRIPTION_FORMAT",
    "ENCODER_ARGUMENTS",
    "NETWORKS",
    "NetworkDescriptionError",
    "NetworkSize",
    "NetworkSizeError",
    "build_network",
    "check_network_size",
    "describe_network",
    "estimate_network_size",
    "validate_description",
]

DESCRIPTION_FORMAT = 1


class NetworkDescriptionError(UserError, ValueError):
    """A network description that names an unknown network or argument, or a value of the wrong type."""


class NetworkSizeError(NetworkDescriptionError):
    """A network description whose network would not fit in the memory limit."""


class NetworkSize(NamedTuple):
    """A described network's estimated size: parameters, activation values of one inference batch, bytes of both."""

    parameters: int
    activations: int
    bytes: int


#: Arguments each encoder may be described with: a view of the one encoder table,
#: :data:`~monai_debclust.networks.factory.ENCODERS`, which builds them too.
ENCODER_ARGUMENTS: dict[str, Mapping[str, Callable[[Any], bool]]] = {
    name: entry.arguments for name, entry in ENCODERS.items()
}

_JOINT_ARGUMENTS: dict[str, Callable[[Any], bool]] = {
    "num_clusters": integer_in(1, MAX_SIZE), "projection_hidden": SIZE, "projection_dim": SIZE,
    "alpha": real_in(1e-6, 1e6),
}

#: The networks a description may name: class and the checks of its scalar arguments
#: (``encoder`` and ``encoder_kwargs`` are checked against :data:`ENCODER_ARGUMENTS`).
NETWORKS: dict[str, tuple[type[nn.Module], dict[str, Callable[[Any], bool]]]] = {
    "DebClustNet": (DebClustNet, _JOINT_ARGUMENTS),
    "StatDECNet": (StatDECNet, {**_JOINT_ARGUMENTS, "with_count": boolean}),
    "SimSiamNet": (SimSiamNet, {**_JOINT_ARGUMENTS, "predictor_hidden": SIZE}),
}
#: ``_target_`` values of descriptions written before the format key, read as the class name.
_LEGACY_TARGETS = {
    f"monai_debclust.networks.{module}{name}": name
    for name, module_name in (("DebClustNet", "debclust."), ("StatDECNet", "statdec."))
    for module in ("", module_name)
}


def _check(arguments: Mapping[str, Any], checks: Mapping[str, Callable[[Any], bool]], where: str) -> None:
    unknown = sorted(set(arguments) - set(checks))
    if unknown:
        raise NetworkDescriptionError(
            f"{where}: unknown argument(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(checks))}."
        )
    for key, value in arguments.items():
        if not checks[key](value):
            raise NetworkDescriptionError(f"{where}: {key} must be {checks[key].__doc__}, got {value!r}.")


def _legacy(description: Mapping[str, Any]) -> dict[str, Any]:
    target = description["_target_"]
    if target not in _LEGACY_TARGETS:
        raise NetworkDescriptionError(
            f"_target_ {target!r} is not a known network; a model folder may only name one of "
            f"{', '.join(sorted(_LEGACY_TARGETS))}."
        )
    arguments = {key: value for key, value in description.items() if key != "_target_"}
    return {"format": DESCRIPTION_FORMAT, "network": _LEGACY_TARGETS[target], "arguments": arguments}


def validate_description(description: Any) -> dict[str, Any]:
    """Check a network description (see the module docstring) and return it in the current format.

    Raises:
        NetworkDescriptionError: naming the key at fault and what was expected.
    """
    if not isinstance(description, Mapping):
        raise NetworkDescriptionError(f"a network description is a JSON object, got {type(description).__name__}.")
    if "_target_" in description:
        description = _legacy(description)
    unknown = sorted(set(description) - {"format", "network", "arguments"})
    if unknown:
        raise NetworkDescriptionError(f"network description: unknown key(s) {', '.join(map(repr, unknown))}.")
    if description.get("format") != DESCRIPTION_FORMAT:
        raise NetworkDescriptionError(
            f"network description: format must be {DESCRIPTION_FORMAT}, got {description.get('format')!r}."
        )
    name, arguments = description.get("network"), description.get("arguments")
    if name not in NETWORKS:
        raise NetworkDescriptionError(
            f"network description: network must be one of {', '.join(sorted(NETWORKS))}, got {name!r}."
        )
    if not isinstance(arguments, Mapping):
        raise NetworkDescriptionError(f"{name}: arguments must be a JSON object, got {arguments!r}.")
    arguments = dict(arguments)
    encoder = arguments.pop("encoder", None)
    encoder_kwargs = arguments.pop("encoder_kwargs", None) or {}
    if encoder not in ENCODER_ARGUMENTS:
        raise NetworkDescriptionError(
            f"{name}: encoder must be one of {', '.join(sorted(ENCODER_ARGUMENTS))}, got {encoder!r}."
        )
    if not isinstance(encoder_kwargs, Mapping):
        raise NetworkDescriptionError(f"{name}: encoder_kwargs must be a JSON object, got {encoder_kwargs!r}.")
    _check(arguments, NETWORKS[name][1], name)
    _check(encoder_kwargs, ENCODER_ARGUMENTS[encoder], f"{name} encoder {encoder!r}")
    full = {"encoder": encoder, **arguments, "encoder_kwargs": dict(encoder_kwargs)}
    return {"format": DESCRIPTION_FORMAT, "network": name, "arguments": full}


def describe_network(network: nn.Module | str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The validated description of ``network`` (an instance or a name of :data:`NETWORKS`) built with ``arguments``.

    Raises:
        NetworkDescriptionError: when the network is not one of :data:`NETWORKS` or an argument
            cannot be described.
    """
    name = network if isinstance(network, str) else type(network).__name__
    if name not in NETWORKS or not (isinstance(network, str) or type(network) is NETWORKS[name][0]):
        raise NetworkDescriptionError(
            f"{name} cannot be saved as a network description; describable networks: {', '.join(sorted(NETWORKS))}."
        )
    return validate_description({"format": DESCRIPTION_FORMAT, "network": name, "arguments": dict(arguments)})


def _with_defaults(function: Callable[..., Any], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """``arguments`` completed with the defaults of ``function``'s signature."""
    bound = inspect.signature(function).bind_partial(**arguments)
    bound.apply_defaults()
    return {key: value for key, value in bound.arguments.items() if key != "kwargs"}


def estimate_network_size(
    description: Any, image_size: int = DEFAULT_IMAGE_SIZE, batch_size: int = DEFAULT_BATCH_SIZE
) -> NetworkSize:
    """The size of the network ``description`` names, from its arguments alone (nothing is built).

    Parameters: the encoder's (:mod:`~monai_debclust.networks.size`; twice for
    :class:`StatDECNet`, whose encoders end in statistics pooling of ``2C (+1)`` features), the
    projection head, the clustering centres ``K x F`` and :class:`SimSiamNet`'s predictor.
    Activations: the encoder's peak for ``batch_size`` images of ``image_size`` per side plus
    the heads' outputs. Bytes: both in float32.

    Raises:
        NetworkDescriptionError: as :func:`validate_description`, or for arguments that do not fit together.
    """
    description = validate_description(description)
    network_class = NETWORKS[description["network"]][0]
    arguments = _with_defaults(network_class, description["arguments"])
    entry = ENCODERS[arguments["encoder"]]
    encoder_arguments = _with_defaults(entry.build, arguments["encoder_kwargs"])
    try:
        encoder = entry.size(image_size=image_size, **encoder_arguments)
    except ValueError as exc:
        raise NetworkDescriptionError(f"{description['network']} encoder {arguments['encoder']!r}: {exc}") from exc
    features, parameters = encoder.channels, encoder.parameters
    if network_class is StatDECNet:
        features, parameters = 2 * features + int(arguments["with_count"]), 2 * parameters
    hidden, projected = arguments["projection_hidden"], arguments["projection_dim"]
    parameters += projection_head_parameters(features, hidden, projected) + arguments["num_clusters"] * features
    if network_class is SimSiamNet:
        parameters += projection_head_parameters(projected, arguments["predictor_hidden"] or max(1, projected // 4),
                                                 projected)
    activations = batch_size * (encoder.activations + features + hidden + projected + arguments["num_clusters"])
    return NetworkSize(parameters, activations, BYTES_PER_VALUE * (parameters + activations))


def check_network_size(
    description: Any, image_size: int = DEFAULT_IMAGE_SIZE, batch_size: int = DEFAULT_BATCH_SIZE,
    limit_bytes: int | None = None,
) -> NetworkSize:
    """:func:`estimate_network_size`, refused past ``limit_bytes`` (by default :func:`~monai_debclust.networks.size.memory_limit`).

    Args:
        description: a network description (see the module docstring).
        image_size: pixels per side of the input (``models/input.json``'s ``image_size``).
        batch_size: images of one inference batch.
        limit_bytes: most bytes of parameters and activations allowed.

    Raises:
        NetworkSizeError: naming the estimate and the limit.
    """
    for name, value in (("image_size", image_size), ("batch_size", batch_size)):
        if not integer_in(1, 2**20)(value):
            raise NetworkSizeError(f"{name} must be an integer in [1, {2**20}], got {value!r}.")
    size = estimate_network_size(description, image_size, batch_size)
    limit = memory_limit() if limit_bytes is None else limit_bytes
    if size.bytes > limit:
        smaller_batch = ", or a smaller batch" if BYTES_PER_VALUE * size.parameters <= limit else ""
        raise NetworkSizeError(
            f"the described network is too large: an estimated {format_bytes(size.bytes)} "
            f"({size.parameters:.3g} parameters and {size.activations:.3g} activation values for a batch of "
            f"{batch_size} images of {image_size} pixels per side, float32) is over the limit of "
            f"{format_bytes(limit)}; set {MEMORY_LIMIT_VARIABLE} (GiB) to allow more{smaller_batch}."
        )
    return size


def build_network(
    description: Any, image_size: int = DEFAULT_IMAGE_SIZE, batch_size: int = DEFAULT_BATCH_SIZE,
    limit_bytes: int | None = None,
) -> nn.Module:
    """Build the network a description names, after :func:`validate_description` and
    :func:`check_network_size` (its arguments after ``description`` are that check's); nothing is evaluated.

    Example:
        >>> net = build_network({"format": 1, "network": "DebClustNet", "arguments": {
        ...     "encoder": "convmixer", "num_clusters": 2,
        ...     "encoder_kwargs": {"dim": 8, "depth": 1, "kernel_size": 3}}})
        >>> net.clustering.num_clusters
        2
    """
    description = validate_description(description)
    check_network_size(description, image_size, batch_size, limit_bytes)
    network_class = NETWORKS[description["network"]][0]
    return network_class(**description["arguments"])
