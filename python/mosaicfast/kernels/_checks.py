"""Checks of arguments shared by the kernels, each rule written once (cf. scikit-image's
``_shared/utils.py``): they raise ``ValueError`` with a message naming the parameter."""

from __future__ import annotations

import math
import numbers

__all__ = ["fraction", "positive"]


def fraction(value: float, name: str) -> float:
    """``value`` as a float if it is a real number from 0 to 1, else ``ValueError``."""
    number = _real(value, name)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value}")
    return number


def positive(value: float, name: str) -> float:
    """``value`` as a float if it is a finite real number above 0, else ``ValueError``."""
    number = _real(value, name)
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be a positive number, got {value}")
    return number


def _real(value: float, name: str) -> float:
    """``value`` as a float if it is a real number (not a bool), else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)
