"""The Python API: ``mosaicfast.build`` and the ``Mosaic`` it returns."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from . import descriptors
from .blend import blend_tiles
from .blend import overlay as overlay_target
from .cache import folder_library
from .errors import ImageReadError, MosaicfastError
from .grid import DEFAULT_MAX_CELLS, DEFAULT_MAX_OUTPUT_PIXELS, GridPlan, plan_grid
from .images import open_rgb, to_srgb
from .indexer import index_library
from .library import Library
from .manifest import write_manifest
from .matching import LumaLoader, MatchOptions, match_cells
from .output import save_image
from .progress import Stages
from .render import TileLoader, compose, resize_tile
from .ssim import luminance
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
    flipped : numpy.ndarray
        ``(rows, cols)`` whether each cell's tile is used mirrored.
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
    flipped: NDArray[np.bool_] | None = None
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | Path) -> Path:
        """Save the image; the format follows the suffix (.png, .jpg, .tif, .webp)."""
        return save_image(self.image, path)

    def write_manifest(self, path: str | Path) -> Path:
        """Write, per cell, the tile id, source path and crop box (.json or .csv)."""
        meta = {"rows": self.plan.rows, "cols": self.plan.cols, **self.options}
        write_manifest(path, self.assignment, self.tiles, flipped=self.flipped, meta=meta)
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
    metric: str = "color",
    ssim_weight: float = 0.5,
    ssim_window: str = "uniform",
    match_size: int = 16,
    candidates: int = 32,
    assign: str = "penalty",
    penalty: float = 0.05,
    max_uses: int | None = None,
    min_distance: int = 1,
    order: str = "hardest",
    flips: bool = False,
    prune: str = "none",
    shortlist: int | None = None,
    vary: int = 1,
    seed: int = 0,
    blend: float = 0.5,
    overlay: float = 0.0,
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
    metric : {"color", "ssim", "combined"}, default "color"
        How candidates are scored: colour grid, windowed SSIM of the luminance at
        ``match_size`` pixels, or ``(1 - ssim_weight) * color + ssim_weight * ssim``
        (see :mod:`mosaicfast.matching` for the normalisation).
    ssim_weight : float, default 0.5
        Weight of SSIM in the combined metric.
    ssim_window : {"uniform", "gaussian"}, default "uniform"
        SSIM's window: 7 x 7 uniform, or 11 x 11 Gaussian with sigma 1.5.
    match_size : int, default 16
        Side of the luminance patches SSIM compares (8 to 64).
    candidates : int, default 32
        Nearest tiles by colour that the metric and the assignment choose among.
    assign : {"best", "penalty", "optimal"}, default "penalty"
        Each cell its best candidate; the blog's penalised greedy (the default: on
        real photos it keeps the fidelity of ``best`` and removes its clumps); or the
        minimum total score with each tile used at most ``max_uses`` times (default once).
    penalty : float, default 0.05
        With ``assign="penalty"``: score added per earlier use of a tile.
    max_uses : int, optional
        Most uses of one tile.
    min_distance : int, default 1
        No tile twice within this many cells (Chebyshev distance); 0 allows neighbours.
        Applies to ``best`` and ``penalty``; ``optimal`` limits uses with ``max_uses``.
    order : {"hardest", "random"}, default "hardest"
        Order in which the greedy visits cells: worst best score first, or by ``seed``.
    flips : bool, default False
        Let mirrored tiles compete too (a tile and its mirror count as one tile).
    prune : {"none", "pca", "mean"}, default "none"
        Shortlist tiles with a KD-tree before the exact distances: on a PCA
        projection of the colour grid, or on the mean colour (the source blog's
        method); ``shortlist`` tiles per cell (default 200 for pca, 1000 for mean).
    vary : int, default 1
        With ``assign="best"``: pick each cell's tile at random among its ``vary``
        best (1: always the best). Random choices follow ``seed``.
    seed : int, default 0
        Seed of every random choice; the same inputs and options give the
        same mosaic.
    blend : float, default 0.5
        Shift each tile's colours toward its cell's (CIELAB mean and spread) by this
        fraction, 0 (tiles untouched) to 1.
    overlay : float, default 0
        Lay the target over the mosaic at this opacity, 0 to 1 (the classic "cheat").
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
    _check_options(grid=grid, threads=threads, blend=blend, overlay=overlay)
    matching = MatchOptions(
        metric=metric,
        ssim_weight=ssim_weight,
        ssim_window=ssim_window,
        match_size=match_size,
        candidates=candidates,
        assign=assign,
        penalty=penalty,
        max_uses=max_uses,
        min_distance=min_distance,
        order=order,
        vary=vary,
        seed=seed,
        flips=flips,
        prune=prune,
        shortlist=shortlist,
    )
    matching.check()
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
            cell_luma = tile_luma = None
            if matching.metric != "color":
                cell_luma = _cell_luminance(target_image, plan, matching.match_size)
                tile_luma = _tile_luminance(lib, rows.slots, matching.match_size)
        with stages("match"):
            match = match_cells(
                cell_desc, tile_desc, (plan.rows, plan.cols), matching,
                cell_luma=cell_luma, tile_luma=tile_luma, threads=threads,
            )  # fmt: skip
            assignment = match.tiles.reshape(plan.rows, plan.cols)
            flipped = match.flipped.reshape(plan.rows, plan.cols)
        with stages("render"):
            sources = TileList(rows)
            load = _tile_loader(lib, rows.slots, sources, plan.tile_size, on_skip)
            workers = threads or os.cpu_count() or 1
            # Render keys: tile * 2 + 1 for a mirrored use, so each is decoded once.
            keys = assignment * 2 + flipped
            pixels = compose(keys, plan.tile_size, _mirroring(load), workers=workers,
                             progress=progress)  # fmt: skip
            if blend > 0:
                pixels = _blend_cells(pixels, target_image, plan, blend, threads)
            image = Image.fromarray(pixels)
            if overlay > 0:
                image = overlay_target(image, target_image, overlay)
    options = {
        "tile_size": tile_size,
        "enlargement": enlargement if cols is None else None,
        "cols": plan.cols,
        "grid": grid,
        **asdict(matching),
        "blend": blend,
        "overlay": overlay,
        "library": str(library),
    }
    return Mosaic(
        image=image,
        assignment=assignment,
        tiles=sources,
        plan=plan,
        distances=match.distance.reshape(plan.rows, plan.cols),
        flipped=flipped,
        skipped=skipped,
        timings=stages.seconds,
        options=options,
    )


def _check_options(*, grid: int, threads: int | None, blend: float, overlay: float) -> None:
    if not 1 <= grid <= descriptors.MAX_GRID:
        raise MosaicfastError(f"grid must be between 1 and {descriptors.MAX_GRID}, got {grid}")
    if threads is not None and threads < 1:
        raise MosaicfastError(f"threads must be at least 1, got {threads}")
    for name, value in (("blend", blend), ("overlay", overlay)):
        if not 0.0 <= value <= 1.0:
            raise MosaicfastError(f"{name} must be between 0 and 1, got {value}")


def _cell_luminance(target: Image.Image, plan: GridPlan, side: int) -> NDArray[np.float32]:
    """``(cells, side, side)`` luminance of the target's cells, row-major."""
    sampled = target.resize((plan.cols * side, plan.rows * side), Image.Resampling.BOX)
    luma = luminance(np.asarray(sampled))
    cells = luma.reshape(plan.rows, side, plan.cols, side).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(cells.reshape(-1, side, side))


def _tile_luminance(lib: Library, slots: NDArray[np.int64], side: int) -> LumaLoader:
    """Loader of tiles' luminance at ``side`` pixels, from their thumbnails."""

    def load(tiles: NDArray[np.int64]) -> NDArray[np.float32]:
        thumbs = lib.thumbnails(np.sort(slots[tiles]))
        order = np.argsort(np.argsort(slots[tiles]))
        thumbs = thumbs[order]
        size = thumbs.shape[1]
        if size % side == 0:
            f = size // side
            small = thumbs.reshape(len(thumbs), side, f, side, f, 3).mean(axis=(2, 4))
            return luminance(np.rint(small).astype(np.uint8))
        return luminance(np.stack([resize_tile(t, side) for t in thumbs]))

    return load


def _mirroring(load: TileLoader) -> TileLoader:
    """A loader of render keys ``tile * 2 + mirrored`` from a loader of tiles."""

    def load_key(key: int) -> NDArray[np.uint8]:
        pixels = load(key // 2)
        return np.ascontiguousarray(pixels[:, ::-1]) if key % 2 else pixels

    return load_key


def _blend_cells(
    pixels: NDArray[np.uint8],
    target: Image.Image,
    plan: GridPlan,
    alpha: float,
    threads: int | None,
) -> NDArray[np.uint8]:
    """Blend every cell's tile toward the target's region under it."""
    size, rows, cols = plan.tile_size, plan.rows, plan.cols
    under = np.asarray(target.resize(plan.output_size, Image.Resampling.LANCZOS))

    def cells(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
        stacked = image.reshape(rows, size, cols, size, 3).transpose(0, 2, 1, 3, 4)
        return np.ascontiguousarray(stacked.reshape(rows * cols, size, size, 3))

    blended = blend_tiles(cells(pixels), cells(under), alpha, threads=threads)
    image = blended.reshape(rows, cols, size, size, 3).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(image.reshape(rows * size, cols * size, 3))


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
