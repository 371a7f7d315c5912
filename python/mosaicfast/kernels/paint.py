"""Painting a band of mosaic cells in the Rust core (the one call behind
:class:`mosaicfast.render.Painter`).

Every cell copies its tile in its orientation (mirrored, turned), moves its colours
toward the target pixels under it (as :func:`mosaicfast.kernels.blend.blend_tiles`
does) and lays the target over it at the overlay opacity, on all cores.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .. import _core
from .orientation import code

__all__ = ["paint_band"]


def paint_band(
    tiles: NDArray[np.uint8],
    index: NDArray[np.int64],
    out: NDArray[np.uint8],
    *,
    flipped: NDArray[np.bool_] | None = None,
    turns: NDArray[np.uint8] | None = None,
    under: NDArray[np.uint8] | None = None,
    blend: float = 0.0,
    overlay: float = 0.0,
    threads: int | None = None,
) -> None:
    """Paint cells into ``out`` (a ``(rows * t, cols * t, 3)`` ``uint8`` band), in place.

    Parameters
    ----------
    tiles : numpy.ndarray
        ``(n, t, t, 3)`` ``uint8`` pixels of the tiles the band uses.
    index : numpy.ndarray
        ``(rows, cols)`` ``int64``: the row of ``tiles`` each cell shows.
    out : numpy.ndarray
        The band, C-contiguous; written in place.
    flipped : numpy.ndarray, optional
        ``(rows, cols)`` bool: cells whose tile is mirrored left to right.
    turns : numpy.ndarray, optional
        ``(rows, cols)``: quarter turns counter-clockwise of each cell's tile, after
        the mirror (:mod:`~mosaicfast.kernels.orientation`).
    under : numpy.ndarray, optional
        The target pixels under the band, ``(rows * s, cols * s, 3)`` ``uint8`` with ``s``
        pixels per cell side (``s = t``, ``out``'s shape, for the overlay); needed when
        ``blend`` or ``overlay`` is above 0. The blend moves each cell toward the CIELAB
        mean and spread of its ``s x s`` pixels.
    blend, overlay : float, default 0
        Colour transfer toward ``under`` and its opacity laid over, 0 to 1.
    threads : int, optional
        Worker threads; default one per core. The result does not depend on it.
    """
    pixels = np.ascontiguousarray(tiles, dtype=np.uint8)
    _core.paint_band(
        pixels,
        index,
        out,
        orientation=code(flipped, turns),
        under=under,
        blend=blend,
        overlay=overlay,
        threads=threads,
    )
