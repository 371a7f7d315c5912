"""The Python API: ``mosaicfast.build`` and the ``Mosaic`` it returns."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from . import descriptors
from .cache import folder_library
from .errors import ImageReadError, MosaicfastError
from .grid import DEFAULT_MAX_CELLS, DEFAULT_MAX_OUTPUT_PIXELS, GridPlan, plan_grid
from .images import open_rgb, to_srgb
from .indexer import index_library
from .library import Library
from .manifest import write_manifest
from .output import save_image
from .progress import Stages
from .render import TileLoader, compose, resize_tile
from .tiles import SkipHandler, TileList, TileSource

__all__ = ["SAMPLES_PER_BLOCK", "Mosaic", "build"]

#: Pixels along each side of a descriptor block, for tiles and target cells alike.
SAMPLES_PER_BLOCK = 4


@dataclass
class Mosaic:
    """A finished mosaic.

    Attributes
    ----------
    image : PIL.Image.Image
        The mosaic, ``cols*tile_size`` by ``rows*tile_size`` RGB pixels.
    assignment : numpy.ndarray
        ``(rows, cols)`` ``int64`` tile ids: ``tiles[assignment[r, c]]`` fills cell ``(r, c)``.
    tiles : sequence of TileSource
        Every tile the mosaic could choose from; ``assignment`` indexes it.
        Each records its source file, crop box and library tile id.
    plan : GridPlan
        Grid and tile size.
    distances : numpy.ndarray
        ``(rows, cols)`` squared descriptor distance between each cell and its tile.
    skipped : list of (Path, str)
        Tile files that could not be used, with the reason (``build(tiles=...)`` only).
    timings : dict of str to float
        Seconds spent in each stage, in order.
    options : dict
        The options the mosaic was built with.
    """

    image: Image.Image
    assignment: NDArray[np.int64]
    tiles: Sequence[TileSource]
    plan: GridPlan
    distances: NDArray[np.int64]
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | Path) -> Path:
        """Save the image; the format follows the suffix (.png, .jpg, .tif, .webp)."""
        return save_image(self.image, path)

    def write_manifest(self, path: str | Path) -> Path:
        """Write, per cell, the tile id, source path and crop box (.json or .csv)."""
        meta = {"rows": self.plan.rows, "cols": self.plan.cols, **self.options}
        write_manifest(path, self.assignment, self.tiles, meta=meta)
        return Path(path)


def build(
    target: str | Path | Image.Image,
    tiles: str | Path | Sequence[str | Path] | None = None,
    *,
    library: str | Path | None = None,
    tile_size: int = 50,
    enlargement: float = 8.0,
    cols: int | None = None,
    grid: int = 5,
    vary: int = 1,
    seed: int = 0,
    threads: int | None = None,
    max_cells: int = DEFAULT_MAX_CELLS,
    max_output_pixels: int = DEFAULT_MAX_OUTPUT_PIXELS,
    progress: bool = False,
    on_skip: SkipHandler | None = None,
) -> Mosaic:
    """Build a photo mosaic of ``target`` from a tile library or folders of photos.

    Every cell of the target is described by a ``grid x grid`` grid of mean
    colours in CIELAB (averaged in linear light), as is every tile (its centre
    square); each cell gets the tile at the smallest distance, found by an
    exhaustive exact search in the Rust core.

    Parameters
    ----------
    target : str, Path or PIL.Image.Image
        The picture to reproduce.
    tiles : str, Path or sequence of them, optional
        Folders (searched recursively) and files of tile photos. They are indexed
        into a cache library kept per folder set (see :func:`mosaicfast.cache.cache_dir`),
        so the next build from the same folders reads only new or changed files.
    library : str or Path, optional
        A library made by ``mosaicfast index`` (give ``tiles`` or ``library``).
    tile_size : int, default 50
        Side of each tile in the output, in pixels.
    enlargement : float, default 8.0
        Output size as a multiple of the target's (ignored when ``cols`` is given).
    cols : int, optional
        Number of cells across; rows follow the target's aspect ratio.
    grid : int, default 5
        Match resolution ``g`` (1 to 16).
    vary : int, default 1
        Pick each cell's tile at random among its ``vary`` best matches
        (1: always the best). Random choices follow ``seed``.
    seed : int, default 0
        Seed of every random choice; the same inputs and options give the
        same mosaic.
    threads : int, optional
        Worker threads; default one per core. The result does not depend on it.
    max_cells, max_output_pixels : int
        Refuse grids and outputs beyond these sizes.
    progress : bool, default False
        Show progress bars on standard error.
    on_skip : callable, optional
        Called as ``on_skip(path, reason)`` for each tile file that cannot be used.

    Returns
    -------
    Mosaic

    Raises
    ------
    MosaicfastError
        Unreadable target, no usable tile, bad option, or a grid beyond the limits.
    """
    _check_options(grid=grid, vary=vary, threads=threads)
    if (tiles is None) == (library is None):
        raise MosaicfastError("give either tile folders or a library, not both or neither")
    stages = Stages()
    with stages("target"):
        target_image = to_srgb(target) if isinstance(target, Image.Image) else open_rgb(target)
        plan = plan_grid(
            target_image.size,
            tile_size=tile_size,
            enlargement=enlargement,
            cols=cols,
            max_cells=max_cells,
            max_output_pixels=max_output_pixels,
        )
    skipped: list[tuple[Path, str]] = []
    if tiles is not None:
        roots = [tiles] if isinstance(tiles, (str, Path)) else list(tiles)
        library = folder_library(roots)
        with stages("index"):
            report = index_library(
                library, roots, workers=threads, progress=progress, on_skip=on_skip
            )
        skipped = report.skipped
    assert library is not None
    with Library.open(library) as lib:
        with stages("open library"):
            rows = lib.tiles_in_use()
        if len(rows) == 0:
            raise MosaicfastError(f"{library}: no usable tile image ({len(skipped)} unreadable)")
        with stages("describe"):
            tile_desc = lib.tile_descriptors(grid, rows.slots, threads=threads)
            cell_desc = _cell_descriptors(target_image, plan, grid, threads)
        with stages("match"):
            # One call for all cells: the core prepares the tiles once per call.
            k = min(vary, len(rows))
            indices, dists = descriptors.search_topk(cell_desc, tile_desc, k, threads=threads)
            choice = np.random.default_rng(seed).integers(0, indices.shape[1], len(indices))
            cells = np.arange(len(indices))
            assignment = indices[cells, choice].reshape(plan.rows, plan.cols)
            distances = dists[cells, choice].reshape(plan.rows, plan.cols)
        with stages("render"):
            sources = TileList(rows)
            load = _tile_loader(lib, rows.slots, sources, plan.tile_size, on_skip)
            workers = threads or os.cpu_count() or 1
            pixels = compose(assignment, plan.tile_size, load, workers=workers, progress=progress)
            image = Image.fromarray(pixels)
    options = {
        "tile_size": tile_size,
        "enlargement": enlargement if cols is None else None,
        "cols": plan.cols,
        "grid": grid,
        "vary": vary,
        "seed": seed,
        "library": str(library),
    }
    return Mosaic(
        image=image,
        assignment=assignment,
        tiles=sources,
        plan=plan,
        distances=distances,
        skipped=skipped,
        timings=stages.seconds,
        options=options,
    )


def _check_options(*, grid: int, vary: int, threads: int | None) -> None:
    if not 1 <= grid <= descriptors.MAX_GRID:
        raise MosaicfastError(f"grid must be between 1 and {descriptors.MAX_GRID}, got {grid}")
    if vary < 1:
        raise MosaicfastError(f"vary must be at least 1, got {vary}")
    if threads is not None and threads < 1:
        raise MosaicfastError(f"threads must be at least 1, got {threads}")


def _tile_loader(
    lib: Library,
    slots: NDArray[np.int64],
    sources: Sequence[TileSource],
    size: int,
    on_skip: SkipHandler | None,
) -> TileLoader:
    """Tiles at the output size: from the stored thumbnail when it is large enough,
    else from the source photo (falling back to the thumbnail if the photo is gone)."""

    def load(tile: int) -> NDArray[np.uint8]:
        thumb = lib.thumbnails(slots[tile : tile + 1])[0]
        if size <= lib.thumb_size:
            return resize_tile(thumb, size)
        try:
            return sources[tile].load(size)
        except ImageReadError as err:
            if on_skip is not None:
                on_skip(err.path, f"{err.reason} (its thumbnail was used instead)")
            return resize_tile(thumb, size)

    return load


def _cell_descriptors(
    target: Image.Image, plan: GridPlan, grid: int, threads: int | None
) -> NDArray[np.int16]:
    side = grid * SAMPLES_PER_BLOCK
    # Area averaging (BOX), not a sharpening filter: a cell must describe exactly
    # its own part of the target, without ringing from its neighbours.
    sampled = target.resize((plan.cols * side, plan.rows * side), Image.Resampling.BOX)
    return descriptors.cell_descriptors(
        np.asarray(sampled), plan.rows, plan.cols, grid, threads=threads
    )
