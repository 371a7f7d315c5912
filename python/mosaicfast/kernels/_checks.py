"""Checks of arguments shared by the kernels, each rule written once (cf. scikit-image's
``_shared/utils.py``): they raise ``ValueError`` with a message naming the parameter."""

from __future__ import annotations

import math
import numbers

__all__ = ["fraction"]


def fraction(value: float, name: str) -> float:
    """``value`` as a float if it is a real number from 0 to 1, else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be between 0 and 1, got {value}")
    return float(value)
