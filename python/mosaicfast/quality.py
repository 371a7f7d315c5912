"""Quality of a mosaic: fidelity to its target and diversity of its tiles.

These are the measures of ``docs/matching.md`` ("Fidelity and diversity"), by which mosaicfast
is compared with other programs and its defaults were chosen.

Fidelity compares the target and the mosaic both reduced to 8 px per cell: for a grid of
``rows x cols`` cells each image is resized to ``(cols * 8, rows * 8)`` pixels with Pillow's
``Image.Resampling.BOX`` filter (the area average of the pixels each output pixel covers).
Two numbers come out:

* :func:`ssim`, the mean structural similarity of their Rec. 601 luma, as
  ``skimage.metrics.structural_similarity(a, b, data_range=255)`` computes it for 2-D float
  images (higher is better, 1 for identical images);
* the mean :func:`ciede2000` colour difference per pixel of their CIELAB values
  (:func:`srgb_to_lab`; lower is better, 0 for identical images).

Diversity (:func:`diversity`) reads the assignment, the ``(rows, cols)`` array of the tile
id in each cell. :func:`evaluate` measures both and returns a :class:`Quality`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from PIL import Image

__all__ = [
    "PIXELS_PER_CELL",
    "SSIM_WINDOW",
    "Quality",
    "ciede2000",
    "diversity",
    "evaluate",
    "fidelity",
    "srgb_to_lab",
    "ssim",
    "ssim_map",
]

PIXELS_PER_CELL = 8
"""Side in pixels of one cell once the target and the mosaic are reduced for fidelity."""

# Wang, Bovik, Sheikh & Simoncelli 2004 (eq. 7 and its default constants), with the 7x7
# uniform window and sample covariance of skimage's structural_similarity.
SSIM_WINDOW = 7
_SSIM_K1 = 0.01
_SSIM_K2 = 0.03

_REC601_LUMA = np.array([0.299, 0.587, 0.114])

# sRGB (IEC 61966-2-1) primaries to CIE XYZ and the D65 white, as in
# mosaicfast._reference.descriptors.
_XYZ_FROM_LINEAR_RGB = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])
_LAB_DELTA = 6 / 29


def _srgb_8bit_to_linear_table() -> NDArray[np.float64]:
    """Linear-light value of each 8-bit sRGB channel value (inverse sRGB transfer curve)."""
    u = np.arange(256) / 255
    return np.where(u <= 0.04045, u / 12.92, ((u + 0.055) / 1.055) ** 2.4)


_LINEAR_FROM_SRGB_8BIT = _srgb_8bit_to_linear_table()


@dataclass(frozen=True)
class Quality:
    """Fidelity and diversity of one mosaic (see :func:`evaluate`).

    Attributes
    ----------
    ssim : float
        Mean SSIM of the luma of target and mosaic at 8 px per cell (higher is better).
    delta_e : float
        Mean CIEDE2000 difference per pixel at 8 px per cell (lower is better).
    distinct : int
        Number of distinct tiles used.
    distinct_ratio : float
        ``distinct`` divided by the number of cells.
    max_uses : int
        Most cells holding one same tile.
    adjacent_duplicates : float
        Share of horizontally or vertically adjacent cell pairs holding the same tile.
    """

    ssim: float
    delta_e: float
    distinct: int
    distinct_ratio: float
    max_uses: int
    adjacent_duplicates: float

    def lines(self) -> list[str]:
        """A short human-readable report, one measure per line."""
        return [
            f"SSIM (luma, 8 px per cell): {self.ssim:.3f}",
            f"mean CIEDE2000: {self.delta_e:.2f}",
            f"distinct tiles: {self.distinct:,} ({self.distinct_ratio:.1%} of cells)",
            f"most uses of one tile: {self.max_uses:,}",
            f"adjacent duplicates: {self.adjacent_duplicates:.1%}",
        ]

    def as_dict(self) -> dict[str, float | int]:
        """The measures as a ``{field name: value}`` dictionary."""
        return dataclasses.asdict(self)


def ssim(a: ArrayLike, b: ArrayLike, *, data_range: float = 255.0) -> float:
    """Mean structural similarity of two grayscale images.

    Wang et al. (2004) with ``K1 = 0.01``, ``K2 = 0.03``, local statistics over a 7x7
    uniform window (borders reflected), sample covariance (a ``49 / 48`` factor), and the
    mean taken over the SSIM map without its 3-px border: the value
    ``skimage.metrics.structural_similarity(a, b, data_range=data_range)`` gives for 2-D
    float images.

    Parameters
    ----------
    a, b : array_like
        2-D images of the same shape, at least 7 x 7, of real values.
    data_range : float, optional
        Distance between the smallest and largest possible values (255 for 8-bit scales).

    Returns
    -------
    float
        The mean SSIM, at most 1 (reached by identical images).

    Raises
    ------
    ValueError
        If the images are not 2-D, differ in shape, are smaller than the window, or if
        ``data_range`` is not positive.
    """
    x = _as_float_image(a, "a")
    y = _as_float_image(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"a and b must have the same shape, got {x.shape} and {y.shape}")
    if min(x.shape) < SSIM_WINDOW:
        raise ValueError(
            f"images must be at least {SSIM_WINDOW}x{SSIM_WINDOW} for the SSIM window, "
            f"got {x.shape}"
        )
    if not data_range > 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    values = ssim_map(x, y, float(data_range))
    border = SSIM_WINDOW // 2
    return float(values[border:-border, border:-border].mean())


def _as_float_image(image: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D grayscale image, got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must hold real values, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def ssim_map(x: NDArray[np.float64], y: NDArray[np.float64], data_range: float) -> NDArray:
    """Per-pixel SSIM (Wang et al. 2004, eq. 13) from windowed means and covariances."""

    from scipy.ndimage import uniform_filter  # not at the top: only --stats needs it

    def local_mean(values: NDArray[np.float64]) -> NDArray[np.float64]:
        return uniform_filter(values, size=SSIM_WINDOW, mode="reflect")

    samples = SSIM_WINDOW**2
    sample_correction = samples / (samples - 1)
    mean_x, mean_y = local_mean(x), local_mean(y)
    var_x = sample_correction * (local_mean(x * x) - mean_x * mean_x)
    var_y = sample_correction * (local_mean(y * y) - mean_y * mean_y)
    cov_xy = sample_correction * (local_mean(x * y) - mean_x * mean_y)
    c1 = (_SSIM_K1 * data_range) ** 2
    c2 = (_SSIM_K2 * data_range) ** 2
    numerator = (2 * mean_x * mean_y + c1) * (2 * cov_xy + c2)
    denominator = (mean_x * mean_x + mean_y * mean_y + c1) * (var_x + var_y + c2)
    return numerator / denominator


def srgb_to_lab(rgb_uint8: ArrayLike) -> NDArray[np.float64]:
    """Convert 8-bit sRGB pixels to CIELAB (D65 white).

    The 8-bit values are linearised with the sRGB transfer curve (IEC 61966-2-1), taken to
    CIE XYZ with the sRGB primaries, then to ``L*a*b*`` relative to the D65 white point.

    Parameters
    ----------
    rgb_uint8 : array_like
        ``uint8`` pixels with red, green and blue in the last axis, of any leading shape.

    Returns
    -------
    numpy.ndarray
        ``float64`` ``(L, a, b)`` values in the last axis, the shape of ``rgb_uint8``.

    Raises
    ------
    ValueError
        If the pixels are not ``uint8`` or the last axis does not have 3 channels.
    """
    rgb = np.asarray(rgb_uint8)
    if rgb.ndim < 1 or rgb.shape[-1] != 3:
        raise ValueError(f"rgb_uint8 must have 3 channels in its last axis, got {rgb.shape}")
    if rgb.dtype != np.uint8:
        raise ValueError(
            f"rgb_uint8 must be uint8 pixels (0 to 255), got dtype {rgb.dtype}; "
            "convert with np.asarray(image.convert('RGB'))"
        )
    linear = _LINEAR_FROM_SRGB_8BIT[rgb]
    xyz = linear @ _XYZ_FROM_LINEAR_RGB.T
    fx, fy, fz = np.moveaxis(_lab_companding(xyz / _D65_WHITE), -1, 0)
    return np.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], axis=-1)


def _lab_companding(t: NDArray[np.float64]) -> NDArray[np.float64]:
    """The CIELAB function ``f``: a cube root, linear near black."""
    return np.where(t > _LAB_DELTA**3, np.cbrt(t), t / (3 * _LAB_DELTA**2) + 4 / 29)


def ciede2000(lab1: ArrayLike, lab2: ArrayLike) -> NDArray[np.float64]:
    """CIEDE2000 colour difference between two sets of CIELAB colours.

    The formula as stated by Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference
    formula: implementation notes, supplementary test data, and mathematical observations",
    with the parametric factors ``kL = kC = kH = 1``.

    Parameters
    ----------
    lab1, lab2 : array_like
        ``(L, a, b)`` colours in the last axis; both the same shape.

    Returns
    -------
    numpy.ndarray
        ``float64`` differences, the shape of the inputs without their last axis.

    Raises
    ------
    ValueError
        If the shapes differ or the last axis does not have 3 components.
    """
    first = _as_lab(lab1, "lab1")
    second = _as_lab(lab2, "lab2")
    if first.shape != second.shape:
        raise ValueError(
            f"lab1 and lab2 must have the same shape, got {first.shape} and {second.shape}"
        )
    l1, a1, b1 = np.moveaxis(first, -1, 0)
    l2, a2, b2 = np.moveaxis(second, -1, 0)
    a_scale = 1 + _chroma_compensation((np.hypot(a1, b1) + np.hypot(a2, b2)) / 2)
    c1, h1 = _chroma_hue(a1 * a_scale, b1)
    c2, h2 = _chroma_hue(a2 * a_scale, b2)
    chromatic = c1 * c2 != 0
    delta_hue = 2 * np.sqrt(c1 * c2) * np.sin(np.radians(_hue_difference(h1, h2, chromatic) / 2))
    mean_l = (l1 + l2) / 2
    mean_c = (c1 + c2) / 2
    mean_h = _mean_hue(h1, h2, chromatic)
    dl = (l2 - l1) / _lightness_weight(mean_l)
    dc = (c2 - c1) / (1 + 0.045 * mean_c)
    dh = delta_hue / (1 + 0.015 * mean_c * _hue_weighting(mean_h))
    rotation = _rotation_term(mean_c, mean_h)
    return np.sqrt(dl * dl + dc * dc + dh * dh + rotation * dc * dh)


def _as_lab(lab: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(lab, dtype=np.float64)
    if arr.ndim < 1 or arr.shape[-1] != 3:
        raise ValueError(f"{name} must have (L, a, b) in its last axis, got shape {arr.shape}")
    return arr


def _chroma_compensation(mean_chroma: NDArray[np.float64]) -> NDArray[np.float64]:
    """``G`` (Sharma et al., eq. 4): how much a* is stretched for near-neutral colours."""
    c7 = mean_chroma**7
    return 0.5 * (1 - np.sqrt(c7 / (c7 + 25.0**7)))


def _chroma_hue(
    a: NDArray[np.float64], b: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Chroma ``C'`` and hue angle ``h'`` in degrees in ``[0, 360)`` (eqs. 6-7)."""
    return np.hypot(a, b), np.degrees(np.arctan2(b, a)) % 360


def _hue_difference(
    h1: NDArray[np.float64], h2: NDArray[np.float64], chromatic: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """``delta h'`` in degrees, the shorter way round, 0 if either colour is neutral (eq. 10)."""
    diff = h2 - h1
    diff = np.where(diff > 180, diff - 360, np.where(diff < -180, diff + 360, diff))
    return np.where(chromatic, diff, 0.0)


def _mean_hue(
    h1: NDArray[np.float64], h2: NDArray[np.float64], chromatic: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """``mean h'`` in degrees, averaged across 0/360 when shorter; the sum if neutral (eq. 14)."""
    total = h1 + h2
    across_zero = np.abs(h1 - h2) > 180
    wrapped = np.where(total < 360, total + 360, total - 360)
    mean = np.where(across_zero, wrapped, total) / 2
    return np.where(chromatic, mean, total)


def _lightness_weight(mean_l: NDArray[np.float64]) -> NDArray[np.float64]:
    """``S_L`` (eq. 18)."""
    offset = (mean_l - 50) ** 2
    return 1 + 0.015 * offset / np.sqrt(20 + offset)


def _hue_weighting(mean_h: NDArray[np.float64]) -> NDArray[np.float64]:
    """``T`` (eq. 15), the hue dependence of ``S_H``."""
    h = np.radians(mean_h)
    return (
        1
        - 0.17 * np.cos(h - np.radians(30))
        + 0.24 * np.cos(2 * h)
        + 0.32 * np.cos(3 * h + np.radians(6))
        - 0.20 * np.cos(4 * h - np.radians(63))
    )


def _rotation_term(mean_c: NDArray[np.float64], mean_h: NDArray[np.float64]) -> NDArray:
    """``R_T`` (eqs. 16, 17, 21): the chroma-hue interaction in the blue region."""
    rotation_deg = 30 * np.exp(-(((mean_h - 275) / 25) ** 2))
    c7 = mean_c**7
    return -2 * np.sqrt(c7 / (c7 + 25.0**7)) * np.sin(np.radians(2 * rotation_deg))


def fidelity(target: Image.Image, mosaic: Image.Image, rows: int, cols: int) -> tuple[float, float]:
    """SSIM and mean CIEDE2000 between a target and its mosaic at 8 px per cell.

    Both images are converted to RGB and resized to ``(cols * 8, rows * 8)`` pixels with
    Pillow's ``Image.Resampling.BOX`` filter (area average), so the measure does not depend
    on the tile size or on how much the mosaic enlarges the target.

    Parameters
    ----------
    target : PIL.Image.Image
        The picture the mosaic recreates.
    mosaic : PIL.Image.Image
        The mosaic: ``rows x cols`` cells, so its width must be a multiple of ``cols``
        and its height a multiple of ``rows``.
    rows, cols : int
        The mosaic's grid of cells.

    Returns
    -------
    ssim : float
        :func:`ssim` of the Rec. 601 luma of the two reduced images (``data_range=255``).
    delta_e : float
        Mean :func:`ciede2000` per pixel between their :func:`srgb_to_lab` colours.

    Raises
    ------
    ValueError
        If ``rows`` or ``cols`` is below 1, or the mosaic is not a whole number of cells.
    """
    if rows < 1 or cols < 1:
        raise ValueError(f"rows and cols must be at least 1, got rows={rows}, cols={cols}")
    width, height = mosaic.size
    if width % cols or height % rows:
        raise ValueError(
            f"a {width}x{height} mosaic is not a grid of {cols}x{rows} (cols x rows) equal "
            "cells; pass the grid the mosaic was built with"
        )
    size = (cols * PIXELS_PER_CELL, rows * PIXELS_PER_CELL)
    reduced_target = _reduce(target, size)
    reduced_mosaic = _reduce(mosaic, size)
    structure = ssim(_luma(reduced_target), _luma(reduced_mosaic), data_range=255.0)
    colour = ciede2000(srgb_to_lab(reduced_target), srgb_to_lab(reduced_mosaic))
    return structure, float(colour.mean())


def _reduce(image: Image.Image, size: tuple[int, int]) -> NDArray[np.uint8]:
    """RGB pixels of ``image`` resized to ``size`` (width, height) by area averaging."""
    return np.asarray(image.convert("RGB").resize(size, Image.Resampling.BOX))


def _luma(rgb: NDArray[np.uint8]) -> NDArray[np.float64]:
    """Rec. 601 luma ``0.299 R + 0.587 G + 0.114 B`` of 8-bit pixels, on the 0-255 scale."""
    return rgb @ _REC601_LUMA


def diversity(
    assignment: ArrayLike, *, cell_map: ArrayLike | None = None
) -> tuple[int, float, int, float]:
    """How varied the tiles of a mosaic are.

    Parameters
    ----------
    assignment : array_like
        ``(rows, cols)`` integer array of the tile id in each cell; with ``cell_map``,
        ``(m,)``: the tile id of each of ``m`` cells of several sizes.
    cell_map : array_like, optional
        For cells of several sizes (``build(adaptive=True)``): a 2-D array giving,
        for each square of the smallest cell size, the number of the cell covering it
        (:meth:`mosaicfast.plan.Cells.cell_map`); two cells are neighbours when they
        share an edge.

    Returns
    -------
    distinct : int
        Number of distinct tile ids.
    distinct_ratio : float
        ``distinct`` divided by the number of cells (1 when no tile repeats).
    max_uses : int
        Most cells holding one same tile.
    adjacent_duplicates : float
        Share of the pairs of cells sharing an edge that hold the same tile; 0 for a
        single cell, which has no neighbours.

    Raises
    ------
    ValueError
        If ``assignment`` is not a non-empty 2-D array of integers (1-D with
        ``cell_map``), or ``cell_map`` names cells it does not have.
    """
    if cell_map is None:
        grid = _as_assignment(assignment)
        cell_map = np.arange(grid.size).reshape(grid.shape)
    else:
        grid = np.asarray(assignment)
        if grid.ndim != 1 or grid.size == 0 or not np.issubdtype(grid.dtype, np.integer):
            raise ValueError("with a cell map, assignment must be a non-empty 1-D array of ids")
    tiles = grid.ravel()
    _, uses = np.unique(tiles, return_counts=True)
    return len(uses), len(uses) / tiles.size, int(uses.max()), _adjacent_duplicates(tiles, cell_map)


def _as_assignment(assignment: ArrayLike) -> NDArray[np.integer]:
    grid = np.asarray(assignment)
    if grid.ndim != 2 or grid.size == 0:
        raise ValueError(
            f"assignment must be a non-empty 2-D (rows, cols) array of tile ids, "
            f"got shape {grid.shape}"
        )
    if not np.issubdtype(grid.dtype, np.integer):
        raise ValueError(f"assignment must hold integer tile ids, got dtype {grid.dtype}")
    return grid


def _adjacent_duplicates(tiles: NDArray[np.integer], cell_map: ArrayLike) -> float:
    """Share of the pairs of cells sharing an edge (in ``cell_map``) whose tiles match."""
    where = np.asarray(cell_map)
    if where.ndim != 2 or where.size == 0 or where.min() < 0 or where.max() >= len(tiles):
        raise ValueError(f"cell_map must be a 2-D map of cells 0..{len(tiles) - 1}")
    a = np.concatenate([where[:, 1:].ravel(), where[1:, :].ravel()])
    b = np.concatenate([where[:, :-1].ravel(), where[:-1, :].ravel()])
    apart = a != b
    pairs = np.unique(np.stack([np.minimum(a, b)[apart], np.maximum(a, b)[apart]], axis=1), axis=0)
    if len(pairs) == 0:
        return 0.0
    return float((tiles[pairs[:, 0]] == tiles[pairs[:, 1]]).mean())


def evaluate(
    target: Image.Image,
    mosaic: Image.Image,
    assignment: ArrayLike,
    *,
    cell_map: ArrayLike | None = None,
    shape: tuple[int, int] | None = None,
) -> Quality:
    """Fidelity and diversity of a mosaic.

    Parameters
    ----------
    target : PIL.Image.Image
        The picture the mosaic recreates.
    mosaic : PIL.Image.Image
        The mosaic image.
    assignment : array_like
        ``(rows, cols)`` integer array of the tile id in each cell; its shape gives the
        grid for :func:`fidelity`. With ``cell_map``: ``(m,)``, see :func:`diversity`.
    cell_map : array_like, optional
        For cells of several sizes: which cell covers each square of the smallest
        size (see :func:`diversity`).
    shape : tuple of int, optional
        ``(rows, cols)`` of the grid :func:`fidelity` reduces both images to (8 px per
        cell); needed with ``cell_map``: the plain grid the adaptive cells came from, so
        that the figures compare with the plain mosaic's.

    Returns
    -------
    Quality
        The measures of :func:`fidelity` and :func:`diversity`.

    Raises
    ------
    ValueError
        If the assignment is not a non-empty 2-D integer array, or with ``cell_map``
        1-D and without ``shape``, or the mosaic is not a whole number of its cells.
    """
    if cell_map is None:
        shape = _as_assignment(assignment).shape
    elif shape is None:
        raise ValueError("evaluating cells of several sizes needs the shape of the plain grid")
    rows, cols = shape
    return Quality(*fidelity(target, mosaic, rows, cols), *diversity(assignment, cell_map=cell_map))
