"""Colour blending of a mosaic toward its target, applied at render time.

:func:`blend_tiles` recolours each tile toward the target region it covers by moving its
CIELAB mean and spread toward the region's (a Reinhard-style statistics transfer, run by
the Rust core): the tiles keep their detail but take on the cell's colour, so the mosaic
reads better from a distance. Laying the target itself over the mosaic at some opacity
(the classic tools' "cheat") is done band by band by :mod:`mosaicfast.kernels.paint`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _core
from ._checks import fraction, pixel_stack

__all__ = ["blend_tiles"]


def blend_tiles(
    tiles: ArrayLike,
    targets: ArrayLike,
    alpha: float,
    *,
    threads: int | None = None,
) -> NDArray[np.uint8]:
    """Move every tile's colours toward those of the target region it covers.

    In CIELAB (D65), per tile and channel, with ``mu_t, sd_t`` the tile's mean and
    standard deviation and ``mu_c, sd_c`` its target region's, each pixel value ``x``
    becomes ``x + alpha * ((x - mu_t) * sd_c / sd_t + mu_c - x)``, then is converted back
    to sRGB, clipped and rounded. A flat tile channel (``sd_t`` below 0.01) only has its
    mean moved.

    Parameters
    ----------
    tiles : array_like
        ``(n, height, width, 3)`` 8-bit sRGB tiles (any integer dtype with values in
        0..255; converted to ``uint8``).
    targets : array_like
        ``(n, th, tw, 3)``: ``targets[i]`` is the region of the target image that tile
        ``i`` covers, at the tiles' size or any other of the same aspect
        (``th * width == tw * height``): the statistics are those of these pixels.
    alpha : float
        Strength from 0 (tiles returned unchanged, bit for bit) to 1 (each tile takes
        its region's Lab mean and spread).
    threads : int, optional
        Worker threads; default one per core. The result does not depend on it.

    Returns
    -------
    numpy.ndarray
        The blended tiles, ``(n, height, width, 3)`` ``uint8``.

    Raises
    ------
    ValueError
        If the arrays are not ``(n, height, width, 3)`` stacks of the same ``n`` and
        aspect or hold
        values that are not 8-bit pixels, ``alpha`` is not within 0 to 1, or
        ``threads`` is below 1.
    """
    tile_arr = pixel_stack(tiles, "tiles")
    target_arr = pixel_stack(targets, "targets")
    n, height, width = tile_arr.shape[:3]
    count, target_height, target_width = target_arr.shape[:3]
    if count != n or target_height * width != target_width * height:
        raise ValueError(
            f"targets must be {n} regions of the tiles' aspect {height}x{width}, got shape "
            f"{target_arr.shape}"
        )
    if n > 0 and 0 in (tile_arr.size, target_arr.size):
        raise ValueError(
            f"tiles and targets must have at least one pixel, got shapes {tile_arr.shape} "
            f"and {target_arr.shape}"
        )
    alpha = fraction(alpha, "alpha")
    return _core.blend_tiles(tile_arr, target_arr, alpha, threads=threads)
