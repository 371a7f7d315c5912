"""Planning the cell grid and output size of a mosaic."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import MosaicfastError

__all__ = ["DEFAULT_MAX_CELLS", "DEFAULT_MAX_OUTPUT_PIXELS", "GridPlan", "plan_grid"]

DEFAULT_MAX_CELLS = 1_000_000
DEFAULT_MAX_OUTPUT_PIXELS = 250_000_000


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
    enlargement: float = 8.0,
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
    if tile_size < 1:
        raise MosaicfastError(f"tile size must be at least 1 pixel, got {tile_size}")
    if cols is None:
        if not enlargement > 0:
            raise MosaicfastError(f"enlargement must be positive, got {enlargement}")
        cols = max(1, round(width * enlargement / tile_size))
        rows = max(1, round(height * enlargement / tile_size))
    else:
        if cols < 1:
            raise MosaicfastError(f"--cols must be at least 1, got {cols}")
        rows = max(1, round(cols * height / width))
    plan = GridPlan(rows=rows, cols=cols, tile_size=tile_size)
    if plan.cells > max_cells:
        raise MosaicfastError(
            f"a {cols}x{rows} grid has {plan.cells:,} cells, more than the limit of "
            f"{max_cells:,}; use fewer columns (--cols), a smaller enlargement or a larger "
            "tile size, or raise the limit (--max-cells)"
        )
    out_w, out_h = plan.output_size
    if out_w * out_h > max_output_pixels:
        raise MosaicfastError(
            f"the mosaic would be {out_w}x{out_h} = {out_w * out_h:,} pixels, more than the "
            f"limit of {max_output_pixels:,}; use a smaller tile size or fewer cells, or raise "
            "the limit (--max-output-pixels)"
        )
    return plan
