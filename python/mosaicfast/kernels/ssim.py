"""Windowed SSIM between target cells and their candidate tiles, computed by the Rust core.

:func:`candidate_ssim` re-ranks a short list of candidate tiles per cell (for example the
``k`` nearest by colour descriptor) by the mean structural similarity of their luminance,
exactly as ``skimage.metrics.structural_similarity`` computes it for 2-D float images
(Wang et al. 2004, with ``K1 = 0.01`` and ``K2 = 0.03``). :func:`luminance` turns RGB
pixels into the luminance patches it takes.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _core
from ._checks import candidate_indices, count, patches, positive

__all__ = ["MAX_SIDE", "MIN_SIDE", "candidate_ssim", "gaussian_win_size", "luminance"]

MIN_SIDE = 8
"""Smallest supported patch side."""
MAX_SIDE = 64
"""Largest supported patch side."""
TRUNCATE = 3.5
"""Gaussian windows are cut at this many standard deviations (11 taps for sigma 1.5)."""
_REC601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def luminance(rgb: ArrayLike) -> NDArray[np.float32]:
    """Rec. 601 luma ``0.299 R + 0.587 G + 0.114 B`` of 8-bit RGB pixels.

    Parameters
    ----------
    rgb : array_like
        ``uint8`` pixels with the colour channels in the last axis, e.g. a stack of
        patches ``(n, side, side, 3)``.

    Returns
    -------
    numpy.ndarray
        ``float32`` luminance on the 0 to 255 scale, the shape of ``rgb`` without its
        last axis (use ``data_range=255`` with :func:`candidate_ssim`).
    """
    arr = np.asarray(rgb)
    if arr.ndim < 1 or arr.shape[-1] != 3:
        raise ValueError(f"rgb must have 3 colour channels in the last axis, got {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"rgb must be uint8 pixels, got dtype {arr.dtype}")
    return arr.astype(np.float32) @ _REC601


def gaussian_win_size(sigma: float) -> int:
    """Side of the Gaussian window of standard deviation ``sigma``, as skimage sets it.

    ``2 * int(3.5 * sigma + 0.5) + 1``: the crop and the sample-covariance factor use it.
    """
    return 2 * int(TRUNCATE * sigma + 0.5) + 1


def candidate_ssim(
    cells: ArrayLike,
    tiles: ArrayLike,
    candidates: ArrayLike,
    *,
    data_range: float = 255.0,
    win_size: int = 7,
    gaussian: bool = False,
    sigma: float = 1.5,
    sample_covariance: bool = True,
    threads: int | None = None,
) -> NDArray[np.float32]:
    """Mean SSIM of every cell's luminance patch with each of its candidate tiles'.

    ``out[i, j]`` equals ``skimage.metrics.structural_similarity(cells[i],
    tiles[candidates[i, j]], data_range=data_range, win_size=win_size,
    gaussian_weights=gaussian, sigma=sigma, use_sample_covariance=sample_covariance)``
    on the float32 patches (to within float32 rounding of the result): local statistics
    by a uniform or Gaussian window, ``K1 = 0.01``, ``K2 = 0.03`` (Wang et al. 2004), the
    SSIM map averaged after cropping ``(win_size - 1) // 2`` pixels from each border.

    Parameters
    ----------
    cells : array_like
        ``(m, side, side)`` luminance patches of the target's cells,
        ``8 <= side <= 64``; converted to ``float32``.
    tiles : array_like
        ``(n, side, side)`` luminance patches of the tiles; converted to ``float32``.
    candidates : array_like
        ``(m, k)`` integer tile indices, ``0 <= candidates < n``.
    data_range : float, default 255.0
        Range of the luminance values (255 for :func:`luminance`).
    win_size : int, default 7
        Side of the uniform window: odd, from 3 to ``side``. Ignored when ``gaussian``
        is true: the window is then :func:`gaussian_win_size` ``(sigma)`` pixels wide,
        as skimage sets it when its ``win_size`` is not given.
    gaussian : bool, default False
        Weight the window by a normalised Gaussian instead of uniformly.
    sigma : float, default 1.5
        Standard deviation of the Gaussian window, truncated at 3.5 sigma.
    sample_covariance : bool, default True
        Normalise variances and covariances by ``NP - 1`` rather than ``NP``
        (``NP = win_size**2``), skimage's default; False matches Wang et al.
    threads : int, optional
        Worker threads; default one per core. The result does not depend on it.

    Returns
    -------
    numpy.ndarray
        ``(m, k)`` ``float32`` mean SSIM values, at most 1 (identical patches).

    Raises
    ------
    ValueError
        If an array has the wrong shape or dtype, a candidate is not a tile index, or an
        option is out of range.
    """
    # The patch side and the window (odd, 3 to the side; a Gaussian's from sigma) are the
    # core's rules; here only the dtypes, the tile indices and the numbers' types.
    cell_arr = patches(cells, "cells")
    tile_arr = patches(tiles, "tiles")
    picks = candidate_indices(candidates, len(cell_arr), len(tile_arr))
    data_range = positive(data_range, "data_range")
    if gaussian:
        sigma = positive(sigma, "sigma")
    size = 0 if gaussian else count(win_size, "win_size")  # a Gaussian's follows sigma
    return _core.ssim_candidates(
        cell_arr,
        tile_arr,
        picks,
        data_range=data_range,
        win_size=size,
        sigma=sigma if gaussian else None,
        sample_covariance=bool(sample_covariance),
        threads=threads,
    )
