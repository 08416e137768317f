"""Checks of the arguments a network description may hold: each a predicate whose docstring says what it wants.

The encoder table (:data:`~monai_debclust.networks.factory.ENCODERS`) and the network table
(:data:`~monai_debclust.networks.description.NETWORKS`) declare their arguments with them, so
that an untrusted ``network.json`` is checked value by value before anything is built.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

__all__ = ["CHANNELS", "MAX_SIZE", "PROBABILITY", "SIZE", "SPATIAL_DIMS", "boolean", "integer_in", "integers_in",
           "real_in"]

#: Largest value of any size argument (channels, widths, depths, clusters).
MAX_SIZE = 65536


def integer_in(low: int, high: int) -> Callable[[Any], bool]:
    """A check that a value is an integer (not a boolean) in ``[low, high]``."""

    def check(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high

    check.__doc__ = f"an integer in [{low}, {high}]"
    return check


def real_in(low: float, high: float) -> Callable[[Any], bool]:
    """A check that a value is a finite number (not a boolean) in ``[low, high]``."""

    def check(value: Any) -> bool:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return number and math.isfinite(value) and low <= value <= high

    check.__doc__ = f"a number in [{low}, {high}]"
    return check


def integers_in(low: int, high: int) -> Callable[[Any], bool]:
    """A check that a value is a list of 1 to 16 integers in ``[low, high]``."""
    element = integer_in(low, high)

    def check(value: Any) -> bool:
        return isinstance(value, list) and 1 <= len(value) <= 16 and all(element(v) for v in value)

    check.__doc__ = f"a list of 1 to 16 integers in [{low}, {high}]"
    return check


def boolean(value: Any) -> bool:
    """a boolean (true or false)"""
    return isinstance(value, bool)


SIZE = integer_in(1, MAX_SIZE)
SPATIAL_DIMS = integer_in(2, 3)
CHANNELS = integer_in(1, 64)
PROBABILITY = real_in(0.0, 1.0)
