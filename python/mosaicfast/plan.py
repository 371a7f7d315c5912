"""Planning the cell grid and output size of a mosaic, for the screen or for print."""

from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import MosaicfastError
from .options import DEFAULT_DPI, DEFAULT_TILE_SIZE, PlanOptions

__all__ = [
    "DEFAULT_DPI",
    "DEFAULT_MAX_CELLS",
    "DEFAULT_MAX_OUTPUT_PIXELS",
    "DEFAULT_TILE_SIZE",
    "Cells",
    "GridPlan",
    "PrintSize",
    "check_split",
    "plan_cells",
    "plan_grid",
    "plan_print",
    "print_crop",
]

#: The defaults of :class:`~mosaicfast.options.PlanOptions`, defined there.
DEFAULT_MAX_CELLS: int = PlanOptions.max_cells
DEFAULT_MAX_OUTPUT_PIXELS: int = PlanOptions.max_output_pixels
DEFAULT_ENLARGEMENT: float = PlanOptions.enlargement

#: Inches per unit of a print size.
_UNITS = {"in": Fraction(1), "cm": Fraction(100, 254), "mm": Fraction(10, 254)}
_PRINT_SIZE = re.compile(
    r"\s*(?P<w>\d+(?:\.\d+)?)\s*[x\u00d7]\s*(?P<h>\d+(?:\.\d+)?)\s*(?P<unit>[a-z]*)\s*",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PrintSize:
    """The size of a print, in inches (exact fractions).

    Attributes
    ----------
    width, height : fractions.Fraction
        Width and height in inches.
    """

    width: Fraction
    height: Fraction

    @classmethod
    def parse(cls, text: str) -> PrintSize:
        """Read ``WIDTHxHEIGHT`` followed by a unit, ``cm``, ``mm`` or ``in``: ``60x40cm``,
        ``297x210mm``, ``24x16in`` (decimals allowed, spaces ignored).

        Raises
        ------
        MosaicfastError
            If the text is not of that form, the unit is missing or unknown, or a side
            is zero.
        """
        match = _PRINT_SIZE.fullmatch(text)
        if match is None:
            raise MosaicfastError(
                f"print size {text!r}: expected WIDTHxHEIGHT and a unit, e.g. 60x40cm, "
                "297x210mm or 24x16in"
            )
        unit = match["unit"].lower()
        if unit not in _UNITS:
            what = f"unknown unit {match['unit']!r}" if unit else "no unit"
            raise MosaicfastError(f"print size {text!r}: {what}; use cm, mm or in, e.g. 60x40cm")
        width, height = (Fraction(match[side]) * _UNITS[unit] for side in ("w", "h"))
        if width == 0 or height == 0:
            raise MosaicfastError(f"print size {text!r}: width and height must be above 0")
        return cls(width, height)

    def pixels(self, dpi: float) -> tuple[int, int]:
        """``(width, height)`` in pixels at ``dpi``, rounded up so the print is at
        least this size."""
        scale = Fraction(dpi)
        return math.ceil(self.width * scale), math.ceil(self.height * scale)


@dataclass(frozen=True)
class GridPlan:
    """A mosaic's layout: ``rows x cols`` cells, each filled by a square tile.

    Attributes
    ----------
    rows, cols : int
        Number of cells down and across.
    tile_size : int
        Side of one tile in the output, in pixels.
    """

    rows: int
    cols: int
    tile_size: int

    @property
    def cells(self) -> int:
        """Number of cells."""
        return self.rows * self.cols

    @property
    def output_size(self) -> tuple[int, int]:
        """Output ``(width, height)`` in pixels."""
        return self.cols * self.tile_size, self.rows * self.tile_size


def plan_grid(
    target_size: tuple[int, int],
    *,
    tile_size: int = 50,
    enlargement: float = DEFAULT_ENLARGEMENT,
    cols: int | None = None,
    max_cells: int = DEFAULT_MAX_CELLS,
    max_output_pixels: int = DEFAULT_MAX_OUTPUT_PIXELS,
) -> GridPlan:
    """Choose the cell grid for a target of ``target_size`` ``(width, height)``.

    With ``cols`` the grid is ``cols`` cells across; otherwise the output is the
    target enlarged ``enlargement`` times, cut into ``tile_size`` squares (the
    classic tools' convention). Rows follow the target's aspect ratio.

    Raises
    ------
    MosaicfastError
        For a non-positive option, or a grid beyond ``max_cells`` or an output
        beyond ``max_output_pixels`` (refused up front instead of running out of
        memory later).
    """
    width, height = target_size
    limits = {"max_cells": max_cells, "max_output_pixels": max_output_pixels}
    PlanOptions(tile_size=tile_size, enlargement=enlargement, cols=cols, **limits)  # the rules
    if cols is None:
        cols = max(1, round(width * enlargement / tile_size))
        rows = max(1, round(height * enlargement / tile_size))
    else:
        rows = max(1, round(cols * height / width))
    plan = GridPlan(rows=rows, cols=cols, tile_size=tile_size)
    _check_limits(plan, **limits)
    return plan


def print_crop(
    target_size: tuple[int, int], print_size: PrintSize
) -> tuple[int, int, int, int] | None:
    """The centred crop box ``(left, top, right, bottom)`` of a target of
    ``target_size`` ``(width, height)`` with the print's aspect ratio, or None when the
    target already has it (to the nearest pixel)."""
    width, height = target_size
    aspect = print_size.width / print_size.height
    if Fraction(width, height) > aspect:
        new_width = max(1, round(height * aspect))
        if new_width >= width:
            return None
        left = (width - new_width) // 2
        return left, 0, left + new_width, height
    new_height = max(1, round(width / aspect))
    if new_height >= height:
        return None
    top = (height - new_height) // 2
    return 0, top, width, top + new_height


def plan_print(
    target_size: tuple[int, int],
    print_size: PrintSize,
    dpi: float,
    *,
    enlargement: float = DEFAULT_ENLARGEMENT,
    cols: int | None = None,
    max_cells: int = DEFAULT_MAX_CELLS,
    max_output_pixels: int = DEFAULT_MAX_OUTPUT_PIXELS,
) -> GridPlan:
    """The grid and tile size for printing at ``print_size`` and ``dpi``.

    The rule: the print is ``W x H`` pixels at ``dpi`` (rounded up); with ``cols`` cells
    across (default: what ``enlargement`` gives with the default 50-px tiles), the tile
    size is ``ceil(W / cols)`` and the rows ``ceil(H / tile size)``: the fewest that
    cover the print's height. The mosaic is then at least the print size at ``dpi``,
    and less than one tile larger each way. ``target_size`` is that of the target
    already cropped to the print's aspect ratio (see :func:`print_crop`).

    Raises
    ------
    MosaicfastError
        For a non-positive option, or a grid or output beyond the limits.
    """
    limits = {"max_cells": max_cells, "max_output_pixels": max_output_pixels}
    PlanOptions(dpi=dpi, enlargement=enlargement, cols=cols, **limits)  # the rules
    if cols is None:
        cols = max(1, round(target_size[0] * enlargement / DEFAULT_TILE_SIZE))
    width, height = print_size.pixels(dpi)
    tile_size = -(-width // cols)
    plan = GridPlan(rows=-(-height // tile_size), cols=cols, tile_size=tile_size)
    _check_limits(plan, **limits)
    return plan


def _check_limits(plan: GridPlan, *, max_cells: int, max_output_pixels: int) -> None:
    """Refuse a grid beyond ``max_cells`` or an output beyond ``max_output_pixels``."""
    cols, rows = plan.cols, plan.rows
    if plan.cells > max_cells:
        raise MosaicfastError(
            f"a {cols}x{rows} grid has {plan.cells:,} cells, more than the limit of "
            f"{max_cells:,}; use fewer columns (cols), a smaller enlargement or a larger "
            "tile size, or raise the limit (max_cells)",
            parameters=("cols", "max_cells"),
        )
    out_w, out_h = plan.output_size
    if out_w * out_h > max_output_pixels:
        raise MosaicfastError(
            f"the mosaic would be {out_w}x{out_h} = {out_w * out_h:,} pixels, more than the "
            f"limit of {max_output_pixels:,}; use a smaller tile size or fewer cells, or raise "
            "the limit (max_output_pixels)",
            parameters=("max_output_pixels",),
        )


@dataclass(frozen=True)
class Cells:
    """Square cells of several sizes tiling a plan's output (``plan(adaptive=True)``).

    Each cell is aligned to its own size: a quadtree over the plan's grid, whose cells
    are the plan's tile size, halved by each split and doubled by a merge.

    Attributes
    ----------
    x, y : numpy.ndarray
        ``(m,)`` ``int64`` left and top of each cell in output pixels, row-major by
        ``(y, x)``.
    size : numpy.ndarray
        ``(m,)`` ``int64`` side of each cell in output pixels.
    """

    x: NDArray[np.int64]
    y: NDArray[np.int64]
    size: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.size)

    @classmethod
    def of(cls, x: ArrayLike, y: ArrayLike, size: ArrayLike) -> Cells:
        """Cells from their left, top and side, put in row-major order."""
        x, y, size = (np.asarray(a, dtype=np.int64).ravel() for a in (x, y, size))
        order = np.lexsort((x, y))
        return cls(x[order], y[order], size[order])

    def sizes(self) -> list[int]:
        """The distinct cell sizes, largest first."""
        return sorted(set(self.size.tolist()), reverse=True)

    def cell_map(self, output_size: tuple[int, int]) -> NDArray[np.int64]:
        """Which cell covers each square of the smallest cell size: ``(height / u,
        width / u)`` cell numbers, ``u`` the smallest size (-1 where no cell is)."""
        unit = int(self.size.min())
        width, height = output_size
        grid = np.full((height // unit, width // unit), -1, np.int64)
        for cell, (x, y, s) in enumerate(
            zip(self.x // unit, self.y // unit, self.size // unit, strict=True)
        ):
            grid[y : y + s, x : x + s] = cell
        return grid


def plan_cells(luma: NDArray[np.floating], plan: GridPlan, grid: int, split_levels: int) -> Cells:
    """The adaptive cells of ``plan``: the rule of ``docs/adaptive.md``.

    A cell described by a ``grid x grid`` descriptor carries the target's block means
    at ``1/grid`` of its side; what it cannot carry is the target's squared deviation
    from those means. A split's **gain** is how much of that the four half-size cells
    carry (the error at the cell's block size minus that at half of it); a merge's
    **cost** is how much four cells carry that the double-size cell does not. Splits
    (of the largest gain first, down to ``split_levels`` halvings) and merges (of
    2 x 2 groups of the plan's cells aligned on even rows and columns, of the least
    cost first) are made in pairs while the gain exceeds the cost: each split adds
    three cells and each merge takes three away, so there are exactly as many cells
    as the plan's. A merged group holds no split cell. Ties go to the first in row
    order, so the plan depends on nothing but the target.

    Parameters
    ----------
    luma : numpy.ndarray
        ``(rows * S, cols * S)`` luma of the target resized by area averaging to
        ``S = grid * 2**split_levels`` samples per cell of ``plan``.
    plan : GridPlan
        The plain grid, whose tile size must divide by ``2**split_levels``.
    grid : int
        Blocks per side of the descriptor.
    split_levels : int
        Most halvings of a cell's side (1 to 3).

    Raises
    ------
    MosaicfastError
        If the tile size cannot be halved ``split_levels`` times in whole pixels.
    """
    t, depth = plan.tile_size, split_levels
    check_split(t, depth)
    side = grid << depth
    luma = np.asarray(luma, dtype=np.float64)
    if luma.shape != (plan.rows * side, plan.cols * side):
        raise ValueError(f"luma must be {plan.rows * side} x {plan.cols * side}, got {luma.shape}")
    gains = [
        _block_error(luma, 2 << (depth - level - 1), side >> level)
        - _block_error(luma, 1 << (depth - level - 1), side >> level)
        for level in range(depth)
    ]
    even = luma[: plan.rows // 2 * 2 * side, : plan.cols // 2 * 2 * side]
    merge_cost = _block_error(even, 2 << depth, 2 * side) - _block_error(even, 1 << depth, 2 * side)
    merges = iter(sorted((cost, r, c) for (r, c), cost in np.ndenumerate(merge_cost)))
    splits = [(-gain, 0, r, c) for (r, c), gain in np.ndenumerate(gains[0])]
    heapq.heapify(splits)
    split_cells: set[tuple[int, int, int]] = set()
    merged: set[tuple[int, int]] = set()
    touched: set[tuple[int, int]] = set()  # cells of the plan holding a split
    while splits:
        gain, level, r, c = heapq.heappop(splits)
        base = (r >> level, c >> level)
        if (base[0] // 2, base[1] // 2) in merged:
            continue
        touched.add(base)
        # Merges skipped here hold a split cell: they stay ruled out.
        group = next((m for m in merges if not _quad(m[1], m[2]) & touched), None)
        if group is None or -gain <= group[0]:
            break
        merged.add((group[1], group[2]))
        split_cells.add((level, r, c))
        if level + 1 < depth:
            for cr, cc in _quad(r, c):
                heapq.heappush(splits, (-float(gains[level + 1][cr, cc]), level + 1, cr, cc))
    return _leaves(plan, split_cells, merged)


def check_split(tile_size: int, split_levels: int) -> None:
    """Refuse a tile size that cannot be halved ``split_levels`` times in whole pixels."""
    if tile_size % (1 << split_levels):
        raise MosaicfastError(
            f"tile_size {tile_size} cannot be halved {split_levels} time(s) into whole "
            f"pixels; use a tile size that divides by {1 << split_levels} or fewer "
            "split_levels",
            parameters=("tile_size", "split_levels"),
        )


def _quad(r: int, c: int) -> set[tuple[int, int]]:
    """The four cells that cell ``(r, c)`` splits into, one level down."""
    return {(2 * r + i, 2 * c + j) for i in (0, 1) for j in (0, 1)}


def _block_error(luma: NDArray[np.float64], block: int, cell: int) -> NDArray[np.float64]:
    """Per cell of ``cell`` samples, the squared deviation of ``luma`` from its means
    over blocks of ``block`` samples (0 for single-sample blocks)."""
    h, w = luma.shape
    if block <= 1:
        return np.zeros((h // cell, w // cell))
    blocks = luma.reshape(h // block, block, w // block, block)
    dev = ((blocks - blocks.mean(axis=(1, 3), keepdims=True)) ** 2).sum(axis=(1, 3))
    f = cell // block
    return dev.reshape(h // cell, f, w // cell, f).sum(axis=(1, 3))


def _leaves(
    plan: GridPlan, split_cells: set[tuple[int, int, int]], merged: set[tuple[int, int]]
) -> Cells:
    """The cells left by those splits (``(level, row, col)``) and merged groups."""
    t = plan.tile_size
    found: list[tuple[int, int, int]] = [(2 * c * t, 2 * r * t, 2 * t) for r, c in merged]

    def add(level: int, r: int, c: int) -> None:
        if (level, r, c) in split_cells:
            for cr, cc in sorted(_quad(r, c)):
                add(level + 1, cr, cc)
        else:
            s = t >> level
            found.append((c * s, r * s, s))

    for r in range(plan.rows):
        for c in range(plan.cols):
            if (r // 2, c // 2) not in merged:
                add(0, r, c)
    x, y, size = zip(*found, strict=True)
    return Cells.of(x, y, size)
