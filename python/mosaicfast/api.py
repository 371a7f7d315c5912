"""The Python API: ``mosaicfast.build`` and the ``Mosaic`` it returns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from . import descriptors
from .errors import MosaicfastError
from .grid import DEFAULT_MAX_CELLS, DEFAULT_MAX_OUTPUT_PIXELS, GridPlan, plan_grid
from .images import open_rgb, to_srgb
from .manifest import write_manifest
from .output import save_image
from .progress import Stages, progress_bar
from .render import compose, enlarge
from .tiles import TileSet, TileSource, load_tiles, scan_images

__all__ = ["SAMPLES_PER_BLOCK", "Mosaic", "build"]

#: Pixels along each side of a descriptor block, for tiles and target cells alike.
SAMPLES_PER_BLOCK = 4
#: Cells matched per call to the core, so long searches can show progress.
MATCH_BATCH = 1024

SkipHandler = Callable[[Path, str], None]


@dataclass
class Mosaic:
    """A finished mosaic.

    Attributes
    ----------
    image : PIL.Image.Image
        The mosaic, ``cols*tile_size`` by ``rows*tile_size`` RGB pixels.
    assignment : numpy.ndarray
        ``(rows, cols)`` ``int64`` tile ids: ``tiles[assignment[r, c]]`` fills cell ``(r, c)``.
    tiles : list of TileSource
        Every usable tile, indexed by tile id: source file and crop box.
    plan : GridPlan
        Grid and tile size.
    distances : numpy.ndarray
        ``(rows, cols)`` squared descriptor distance between each cell and its tile.
    skipped : list of (Path, str)
        Tile files that could not be used, with the reason.
    timings : dict of str to float
        Seconds spent in each stage, in order.
    options : dict
        The options the mosaic was built with.
    """

    image: Image.Image
    assignment: NDArray[np.int64]
    tiles: list[TileSource]
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
    tiles: str | Path | Sequence[str | Path] | TileSet,
    *,
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
    """Build a photo mosaic of ``target`` from the photos in ``tiles``.

    Every cell of the target is described by a ``grid x grid`` grid of mean
    colours in CIELAB (averaged in linear light), as is every tile (its centre
    square); each cell gets the tile at the smallest distance, found by an
    exhaustive exact search in the Rust core.

    Parameters
    ----------
    target : str, Path or PIL.Image.Image
        The picture to reproduce.
    tiles : str, Path, sequence of them, or TileSet
        Folders (searched recursively) and files of tile photos, or tiles
        already loaded at ``grid * SAMPLES_PER_BLOCK`` pixels.
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
        Worker threads for loading and matching; default one per core. The
        result does not depend on it.
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
    tile_set = _tile_set(tiles, grid, threads, progress, on_skip, stages)
    with stages("describe"):
        tile_desc = descriptors.tile_descriptors(tile_set.thumbs, grid, threads=threads)
        cell_desc = _cell_descriptors(target_image, plan, grid, threads)
    with stages("match"):
        indices, dists = _match(cell_desc, tile_desc, min(vary, len(tile_set)), threads, progress)
        choice = np.random.default_rng(seed).integers(0, indices.shape[1], size=indices.shape[0])
        rows = np.arange(indices.shape[0])
        assignment = indices[rows, choice].reshape(plan.rows, plan.cols)
        distances = dists[rows, choice].reshape(plan.rows, plan.cols)
    with stages("render"):
        pixels = compose(
            assignment,
            tile_set.sources,
            plan.tile_size,
            fallback=lambda tile_id, size: enlarge(tile_set.thumbs[tile_id], size),
            on_skip=lambda path, reason: on_skip(Path(path), reason) if on_skip else None,
            workers=threads,
            progress=progress,
        )
        image = Image.fromarray(pixels)
    options = {
        "tile_size": tile_size,
        "enlargement": enlargement if cols is None else None,
        "cols": plan.cols,
        "grid": grid,
        "vary": vary,
        "seed": seed,
    }
    return Mosaic(
        image=image,
        assignment=assignment,
        tiles=list(tile_set.sources),
        plan=plan,
        distances=distances,
        skipped=list(tile_set.skipped),
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


def _tile_set(
    tiles: str | Path | Sequence[str | Path] | TileSet,
    grid: int,
    threads: int | None,
    progress: bool,
    on_skip: SkipHandler | None,
    stages: Stages,
) -> TileSet:
    size = grid * SAMPLES_PER_BLOCK
    if isinstance(tiles, TileSet):
        if tiles.thumbs.shape[1:] != (size, size, 3):
            raise MosaicfastError(
                f"the tile set holds {tiles.thumbs.shape[1]}-px thumbnails but grid {grid} "
                f"needs {size}-px ones"
            )
        tile_set = tiles
    else:
        roots = [tiles] if isinstance(tiles, (str, Path)) else list(tiles)
        with stages("scan"):
            paths = scan_images(*roots)
        with stages("load tiles"):
            tile_set = load_tiles(paths, size, workers=threads, progress=progress, on_skip=on_skip)
        if len(tile_set) == 0:
            where = ", ".join(str(r) for r in roots)
            raise MosaicfastError(
                f"no usable tile image in {where} ({len(paths)} image files found, "
                f"{len(tile_set.skipped)} unreadable)"
            )
    return tile_set


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


def _match(
    cells: NDArray[np.int16],
    tiles: NDArray[np.int16],
    k: int,
    threads: int | None,
    progress: bool,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Exhaustive top-k search, in batches of cells so a progress bar can move."""
    found = []
    with progress_bar(len(cells), "match", "cell", enabled=progress) as bar:
        for start in range(0, len(cells), MATCH_BATCH):
            batch = cells[start : start + MATCH_BATCH]
            found.append(descriptors.search_topk(batch, tiles, k, threads=threads))
            bar.update(len(batch))
    return np.concatenate([f[0] for f in found]), np.concatenate([f[1] for f in found])
