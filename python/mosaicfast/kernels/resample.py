"""Resizing RGB images and tile stacks in the Rust core, bit for bit as Pillow does.

:func:`resize_image` gives exactly ``Image.resize(size, filter)`` for Pillow's Lanczos
and box filters, for the whole image or a band of output rows (the band costs only
its rows); :func:`resize_tiles` resizes a stack of square tiles; :func:`box_downsample`
takes block means of a stack (``np.rint`` of each block's mean), as Pillow's box
filter does when the factor divides the side.
"""

from __future__ import annotations

import numpy as np
import PIL
from numpy.typing import NDArray

from .. import _core

__all__ = ["box_downsample", "resize_image", "resize_lanczos", "resize_tiles"]

#: Pillow 13 changed the order of the two resampling passes for some sizes
#: (python-pillow/Pillow#9549); :func:`resize_lanczos` follows the installed Pillow.
_PILLOW13 = int(PIL.__version__.split(".")[0]) >= 13


def resize_image(
    pixels: NDArray[np.uint8],
    size: tuple[int, int],
    *,
    filter: str = "lanczos",
    rows: tuple[int, int] | None = None,
    threads: int | None = None,
) -> NDArray[np.uint8]:
    """Resize an RGB image exactly as ``Image.resize(size, filter)`` does.

    Parameters
    ----------
    pixels : numpy.ndarray
        ``(height, width, 3)`` ``uint8`` image.
    size : tuple of int
        Output ``(width, height)``.
    filter : {"lanczos", "box"}, default "lanczos"
        ``Image.Resampling.LANCZOS`` or ``Image.Resampling.BOX``.
    rows : tuple of int, optional
        ``(start, stop)``: compute only these output rows (default all). They are
        bit for bit the rows of the whole resized image, for the cost of the band.
    threads : int, optional
        Worker threads; default one per core. The result does not depend on it.

    Returns
    -------
    numpy.ndarray
        ``(stop - start, width, 3)`` ``uint8``.
    """
    start, stop = rows if rows is not None else (0, size[1])
    image = np.ascontiguousarray(pixels, dtype=np.uint8)[None]
    out = _core.resize(
        image, size[0], size[1], filter=filter, row_start=start, row_stop=stop,
        pillow13=_PILLOW13, threads=threads,
    )  # fmt: skip
    return out[0]


def resize_lanczos(
    pixels: NDArray[np.uint8],
    size: tuple[int, int],
    *,
    rows: tuple[int, int] | None = None,
    threads: int | None = None,
) -> NDArray[np.uint8]:
    """:func:`resize_image` with Pillow's Lanczos filter (``Image.Resampling.LANCZOS``)."""
    return resize_image(pixels, size, filter="lanczos", rows=rows, threads=threads)


def resize_tiles(
    tiles: NDArray[np.uint8], size: int, *, threads: int | None = None
) -> NDArray[np.uint8]:
    """Resize a ``(n, side, side, 3)`` stack of tiles to ``size`` with Pillow's Lanczos
    filter (bit for bit), in parallel."""
    if tiles.shape[1] == size:
        return tiles
    return _core.resize(
        np.ascontiguousarray(tiles, dtype=np.uint8), size, size, pillow13=_PILLOW13,
        threads=threads,
    )  # fmt: skip


def box_downsample(
    images: NDArray[np.uint8], factor: int, *, threads: int | None = None
) -> NDArray[np.uint8]:
    """Shrink a ``(n, height, width, 3)`` stack by ``factor``, each output pixel the
    rounded mean of a ``factor x factor`` block (sides divisible by ``factor``)."""
    return _core.box_downsample(
        np.ascontiguousarray(images, dtype=np.uint8), factor, threads=threads
    )
