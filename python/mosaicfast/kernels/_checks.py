"""Normalising the kernels' arguments, each rule written once (cf. scikit-image's
``_shared/utils.py``): they raise ``ValueError`` with a message naming the parameter.

The wrappers in :mod:`mosaicfast.kernels` only bring arrays to the dtype and layout
the core borrows (:func:`contiguous`, the one place a copy can happen) and check what
the core cannot see (dtypes before conversion, signs before conversion to unsigned
integers, values outside the types' ranges); every other rule (shapes against each
other, ranges of options, threads) belongs to the Rust core, which checks it once.
``docs/architecture.md`` has the table of who owns which rule.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from .. import _core
from ..errors import MosaicfastError

__all__ = [
    "MAX_THREADS",
    "candidate_indices",
    "candidate_lists",
    "cell_indices",
    "check_threads",
    "contiguous",
    "count",
    "descriptor_array",
    "descriptor_pair",
    "fraction",
    "number",
    "patches",
    "pixel_stack",
    "positive",
    "rgb_uint8",
]


def contiguous(values: ArrayLike, dtype: DTypeLike) -> NDArray[Any]:
    """``values`` as a C-contiguous array of ``dtype``, which the core borrows without a
    copy: this copies only when ``values`` has another dtype or layout."""
    return np.ascontiguousarray(values, dtype=dtype)


def count(value: int, name: str) -> int:
    """``value`` if it is an integer >= 0 (the core's unsigned sizes), else ``ValueError``;
    the core checks its range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


#: Most threads a kernel or a whole job may use: the core's rule (``rust/pool.rs``).
MAX_THREADS: int = _core.MAX_THREADS


def check_threads(threads: int | None) -> None:
    """MosaicfastError (a ValueError) naming ``threads`` unless it is None (one per
    core) or from 1 to :data:`MAX_THREADS`: the rule every kernel's thread pool
    follows, checked by the core, here for jobs whose workers are Python's too."""
    if threads is None:
        return
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral):
        raise MosaicfastError(
            f"threads must be an integer, got {threads!r}", parameters=("threads",)
        )
    try:  # beyond the core's 64-bit integers: said as the nearest one, refused all the same
        _core.check_threads(min(max(int(threads), -(2**63)), 2**63 - 1))
    except ValueError as err:
        raise MosaicfastError(str(err), parameters=("threads",)) from None


def fraction(value: float, name: str) -> float:
    """``value`` as a float if it is a real number from 0 to 1, else ``ValueError``."""
    real = number(value, name)
    if not 0.0 <= real <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value}")
    return real


def positive(value: float, name: str) -> float:
    """``value`` as a float if it is a finite real number above 0, else ``ValueError``."""
    real = number(value, name)
    if not (math.isfinite(real) and real > 0):
        raise ValueError(f"{name} must be a positive number, got {value}")
    return real


def number(value: float, name: str) -> float:
    """``value`` as a float if it is a real number (not a bool), else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def candidate_lists(
    cand: ArrayLike, cost: ArrayLike
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """``cand``/``cost`` as C-contiguous ``int64``/``float64`` ``(m, k)`` candidate lists."""
    cand_arr = np.asarray(cand)
    cost_arr = np.asarray(cost)
    if cand_arr.ndim != 2 or cand_arr.shape != cost_arr.shape:
        raise ValueError(
            f"cand and cost must be 2-d arrays of the same shape (m, k), "
            f"got {cand_arr.shape} and {cost_arr.shape}"
        )
    if cand_arr.shape[1] == 0:
        raise ValueError("cand and cost must have at least one candidate per cell (k >= 1)")
    if not np.issubdtype(cand_arr.dtype, np.integer):
        raise ValueError(f"cand must hold integer tile indices, got dtype {cand_arr.dtype}")
    return (
        contiguous(cand_arr, np.int64),
        contiguous(cost_arr, np.float64),
    )


def cell_indices(values: ArrayLike, name: str) -> NDArray[np.int64]:
    """``values`` as a C-contiguous 1-d ``int64`` array of cell numbers."""
    arr = np.asarray(values)
    if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be a 1-d integer array, got {arr.dtype} {arr.shape}")
    return contiguous(arr, np.int64)


def pixel_stack(values: ArrayLike, name: str) -> NDArray[np.uint8]:
    """``values`` as a C-contiguous ``uint8`` ``(n, height, width, 3)`` stack."""
    arr = np.asarray(values)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (n, height, width, 3), got {arr.shape}")
    if arr.dtype != np.uint8:
        if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name} must hold 8-bit integer pixels, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError(f"{name} values must be within 0..255")
    return contiguous(arr, np.uint8)


def rgb_uint8(array: ArrayLike, ndim: int, name: str) -> NDArray[np.uint8]:
    """``array`` as C-contiguous ``uint8`` pixels with ``ndim`` axes, the last of 3 channels."""
    arr = np.asarray(array)
    if arr.ndim != ndim or arr.shape[-1] != 3:
        expected = "(n, height, width, 3)" if ndim == 4 else "(height, width, 3)"
        raise ValueError(f"{name} must have shape {expected}, got {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 pixels, got dtype {arr.dtype}")
    return contiguous(arr, np.uint8)


def descriptor_array(values: ArrayLike, name: str) -> NDArray[np.int16]:
    """``values`` as a C-contiguous ``(count, width)`` ``int16`` descriptor array.

    Raises ValueError, naming ``name``, for another shape, a non-integer dtype or
    values outside the range the core accepts.
    """
    arr = np.asarray(values)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array (count, values), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integer descriptors, got dtype {arr.dtype}")
    if arr.size and (arr.min() < _core.VALUE_MIN or arr.max() > _core.VALUE_MAX):
        raise ValueError(
            f"{name} values must lie in [{_core.VALUE_MIN}, {_core.VALUE_MAX}], "
            f"found {arr.min()}..{arr.max()}"
        )
    return contiguous(arr, np.int16)


def descriptor_pair(
    cells: ArrayLike, tiles: ArrayLike
) -> tuple[NDArray[np.int16], NDArray[np.int16]]:
    """Cell and tile descriptors, each as :func:`descriptor_array` makes it (the core
    checks that they have one width)."""
    return descriptor_array(cells, "cells"), descriptor_array(tiles, "tiles")


def patches(values: ArrayLike, name: str) -> NDArray[np.float32]:
    """``values`` as C-contiguous ``float32`` ``(count, side, side)`` luminance patches."""
    arr = np.asarray(values)
    if arr.ndim != 3 or arr.shape[1] != arr.shape[2]:
        raise ValueError(f"{name} must have shape (count, side, side), got {arr.shape}")
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise ValueError(f"{name} must hold real luminance values, got dtype {arr.dtype}")
    return contiguous(arr, np.float32)


def candidate_indices(candidates: ArrayLike, cells: int, tiles: int) -> NDArray[np.int64]:
    """``candidates`` as a C-contiguous ``(cells, k)`` ``int64`` array of tile indices."""
    arr = np.asarray(candidates)
    if arr.ndim != 2 or arr.shape[0] != cells:
        raise ValueError(f"candidates must have shape ({cells}, k), got {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"candidates must hold integer tile indices, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= tiles):
        bad = np.argwhere((arr < 0) | (arr >= tiles))[0]
        raise ValueError(
            f"candidates[{bad[0]}, {bad[1]}] = {arr[tuple(bad)]} is not a tile index "
            f"(there are {tiles} tiles)"
        )
    return contiguous(arr, np.int64)
