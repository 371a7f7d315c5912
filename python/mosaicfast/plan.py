"""Planning the cell grid and output size of a mosaic, for the screen or for print."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from .errors import MosaicfastError
from .options import DEFAULT_DPI, DEFAULT_TILE_SIZE, PlanOptions

__all__ = [
    "DEFAULT_DPI",
    "DEFAULT_MAX_CELLS",
    "DEFAULT_MAX_OUTPUT_PIXELS",
    "DEFAULT_TILE_SIZE",
    "GridPlan",
    "PrintSize",
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
