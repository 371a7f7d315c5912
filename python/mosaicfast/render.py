"""Compositing the chosen tiles into the output image, a band of cell rows at a time.

The Rust core paints each band (:func:`mosaicfast.kernels.paint.paint_band`): every
cell copies its tile in its orientation (mirrored, turned), then moves its colours toward the target
pixels under it (as :func:`mosaicfast.kernels.blend.blend_tiles` does, cell by cell) and
lays the target over it at the overlay opacity, on all cores. The target pixels under a
band are those rows of the target resized with Pillow's Lanczos filter, computed for
that band alone and bit for bit as Pillow resizes the whole target
(:func:`mosaicfast.kernels.resample.resize_lanczos`): to the output size for the
overlay, else to :data:`BLEND_SAMPLES` pixels per cell side, from which the blend takes
each cell's colour statistics (the output-size target, 2,500 pixels per 50-px cell
interpolated from about 40 of the target's, changed no 8-bit value by more than 3 on
the first mosaic, at 2.5 times the render's cost). Tiles come from a
:data:`TileStack` that gives the pixels of the distinct tiles a band uses, at the
output tile size.

Memory therefore follows the band, not the image: a :class:`Painter` can stream a
mosaic of any size band by band (:meth:`Painter.bands`), or paint a whole image
in memory (:meth:`Painter.compose`), with the same pixels either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from ._util.arrays import sorted_distinct
from ._util.progress import progress_bar
from .kernels.paint import paint_band
from .kernels.resample import resize_lanczos

__all__ = ["BAND_PIXELS", "BLEND_SAMPLES", "CellPainter", "Painter", "TileStack"]

TileStack = Callable[[NDArray[np.int64]], NDArray[np.uint8]]
"""``stack(tiles)`` gives the ``(len(tiles), size, size, 3)`` pixels of distinct tiles
(ascending tile numbers) at the output size."""

#: Output pixels painted at a time (a band holds whole cell rows, at least one):
#: 24 MB of RGB, large enough that every core has cells to work on.
BAND_PIXELS = 8_000_000

#: Side, in pixels, of the target region per cell whose CIELAB mean and spread the blend
#: moves each tile toward (the tile size, if smaller; the overlay always uses the target
#: at the output size): the scale at which ``mosaicfast evaluate`` compares a mosaic
#: with its target.
BLEND_SAMPLES = 8


class Painter:
    """Paints a mosaic, a band of cell rows at a time, or whole.

    Parameters
    ----------
    assignment : numpy.ndarray
        ``(rows, cols)`` tile numbers, each passed to ``load_tiles``.
    tile_size : int
        Side of one tile in the output.
    load_tiles : TileStack
        Gives the pixels of the distinct tiles of a band.
    flipped : numpy.ndarray, optional
        ``(rows, cols)`` bool: cells whose tile is mirrored left to right.
    turns : numpy.ndarray, optional
        ``(rows, cols)``: quarter turns counter-clockwise of each cell's tile, after the
        mirror.
    target : PIL.Image.Image, optional
        The target, any size; needed when ``blend`` or ``overlay`` is above 0.
    blend : float, default 0
        Move each tile's colours toward the target under it by this much.
    overlay : float, default 0
        Then lay the target over the mosaic at this opacity.
    threads : int, optional
        Worker threads; default one per core. The result does not depend on it.
    band_pixels : int, default BAND_PIXELS
        Output pixels per band (at least one cell row).
    """

    def __init__(
        self,
        assignment: NDArray[np.int64],
        tile_size: int,
        load_tiles: TileStack,
        *,
        flipped: NDArray[np.bool_] | None = None,
        turns: NDArray[np.uint8] | None = None,
        target: Image.Image | None = None,
        blend: float = 0.0,
        overlay: float = 0.0,
        threads: int | None = None,
        band_pixels: int = BAND_PIXELS,
    ) -> None:
        self.assignment = np.asarray(assignment, dtype=np.int64)
        self.rows, self.cols = self.assignment.shape
        self.tile_size = tile_size
        self.load_tiles = load_tiles
        self.flipped = None if flipped is None else np.asarray(flipped, dtype=np.bool_)
        self.turns = None if turns is None else np.asarray(turns, dtype=np.uint8)
        self.blend = blend
        self.overlay = overlay
        self.threads = threads
        self.band_pixels = band_pixels
        self._target = _target_pixels(target, blend, overlay)

    @property
    def size(self) -> tuple[int, int]:
        """Output ``(width, height)`` in pixels."""
        return self.cols * self.tile_size, self.rows * self.tile_size

    @property
    def under_side(self) -> int:
        """Target pixels per cell side that :meth:`paint` gives the core."""
        if self.overlay > 0:
            return self.tile_size
        return min(self.tile_size, BLEND_SAMPLES)

    @property
    def band_rows(self) -> int:
        """Cell rows per band."""
        return max(1, self.band_pixels // (self.cols * self.tile_size**2))

    def band_starts(self) -> range:
        """First cell row of each band."""
        return range(0, self.rows, self.band_rows)

    def paint(
        self,
        start: int,
        stop: int,
        *,
        out: NDArray[np.uint8] | None = None,
        loaded: tuple[NDArray[np.int64], NDArray[np.uint8]] | None = None,
    ) -> NDArray[np.uint8]:
        """Paint cell rows ``start:stop`` into ``out`` (a new array by default).

        ``loaded`` is ``(tiles, pixels)``: ascending tile numbers covering the band and
        their pixels, to reuse tiles already loaded; by default the band's are loaded.
        """
        t = self.tile_size
        cells = self.assignment[start:stop]
        if loaded is None:
            used = sorted_distinct(cells)
            loaded = used, self.load_tiles(used)
        used, pixels = loaded
        index = np.searchsorted(used, cells).astype(np.int64)
        if out is None:
            out = np.empty(((stop - start) * t, self.cols * t, 3), np.uint8)
        under = None
        if self._target is not None:
            s = self.under_side
            under = resize_lanczos(
                self._target, (self.cols * s, self.rows * s), rows=(start * s, stop * s),
                threads=self.threads,
            )  # fmt: skip
        paint_band(
            pixels,
            index,
            out,
            flipped=None if self.flipped is None else self.flipped[start:stop],
            turns=None if self.turns is None else self.turns[start:stop],
            under=under,
            blend=self.blend,
            overlay=self.overlay,
            threads=self.threads,
        )
        return out

    def bands(self, *, progress: bool = False) -> Iterator[NDArray[np.uint8]]:
        """Yield the image band by band, top to bottom, loading each band's tiles.

        Only one band and the tiles of two are held at a time: tiles the previous
        band used are reused, others are loaded (again, if an earlier band had them).
        """
        t = self.tile_size
        kept = np.empty(0, np.int64), np.empty((0, t, t, 3), np.uint8)
        with progress_bar(self.rows * self.cols, "render", "cell", enabled=progress) as bar:
            for start in self.band_starts():
                stop = min(start + self.band_rows, self.rows)
                kept = self._load(sorted_distinct(self.assignment[start:stop]), kept)
                yield self.paint(start, stop, loaded=kept)
                bar.update((stop - start) * self.cols)

    def _load(
        self, used: NDArray[np.int64], kept: tuple[NDArray[np.int64], NDArray[np.uint8]]
    ) -> tuple[NDArray[np.int64], NDArray[np.uint8]]:
        """``(used, pixels)``: the pixels of ``used`` (ascending), taken from ``kept``
        (earlier ``(tiles, pixels)``) where it has them, else loaded."""
        t = self.tile_size
        have = np.isin(used, kept[0])
        pixels = np.empty((len(used), t, t, 3), np.uint8)
        pixels[have] = kept[1][np.searchsorted(kept[0], used[have])]
        if not have.all():
            pixels[~have] = self.load_tiles(used[~have])
        return used, pixels

    def painted(
        self, out: NDArray[np.uint8], *, progress: bool = False
    ) -> Iterator[NDArray[np.uint8]]:
        """Paint the whole image into ``out`` (``(height, width, 3)``) band by band, top
        to bottom, each distinct tile loaded once; yield each band (a view of ``out``)
        once painted, so that a writer can take it while the next is painted."""
        used = sorted_distinct(self.assignment)
        loaded = used, self.load_tiles(used)
        t = self.tile_size
        with progress_bar(self.rows * self.cols, "render", "cell", enabled=progress) as bar:
            for start in self.band_starts():
                stop = min(start + self.band_rows, self.rows)
                band = self.paint(start, stop, out=out[start * t : stop * t], loaded=loaded)
                bar.update((stop - start) * self.cols)
                yield band

    def compose(self, *, progress: bool = False) -> NDArray[np.uint8]:
        """The whole ``(height, width, 3)`` image, each distinct tile loaded once."""
        return _composed(self, progress)


class CellPainter:
    """Paints a mosaic of square cells of several sizes (``build(adaptive=True)``).

    The cells of each size are gathered side by side into one row and painted by the
    same core call as :class:`Painter`'s bands (tile copied, mirrored, blended toward
    the target under it, the target laid over it), then put in place: every pixel is
    what :class:`Painter` gives that cell in a grid of cells of its size (the target
    sampled at :meth:`under_side` per cell side, as for that grid). Bands hold whole
    rows of the largest cells.

    Parameters
    ----------
    x, y, size : numpy.ndarray
        ``(m,)`` left, top and side of each cell in output pixels; together they cover
        the ``output_size`` once.
    tiles : numpy.ndarray
        ``(m,)`` tile number of each cell.
    output_size : tuple of int
        ``(width, height)`` of the mosaic.
    load_tiles : dict of int to TileStack
        For each cell size, gives the pixels of tiles at that size.
    flipped : numpy.ndarray, optional
        ``(m,)`` bool: cells whose tile is mirrored left to right.
    turns : numpy.ndarray, optional
        ``(m,)``: quarter turns counter-clockwise of each cell's tile, after the mirror.
    target, blend, overlay, threads, band_pixels
        As for :class:`Painter`.
    """

    def __init__(
        self,
        x: NDArray[np.int64],
        y: NDArray[np.int64],
        size: NDArray[np.int64],
        tiles: NDArray[np.int64],
        output_size: tuple[int, int],
        load_tiles: dict[int, TileStack],
        *,
        flipped: NDArray[np.bool_] | None = None,
        turns: NDArray[np.uint8] | None = None,
        target: Image.Image | None = None,
        blend: float = 0.0,
        overlay: float = 0.0,
        threads: int | None = None,
        band_pixels: int = BAND_PIXELS,
    ) -> None:
        self.x, self.y, self.cell_size = (np.asarray(a, np.int64) for a in (x, y, size))
        self.tiles = np.asarray(tiles, np.int64)
        self.flipped = np.zeros(len(self.tiles), np.bool_) if flipped is None else flipped
        self.turns = np.zeros(len(self.tiles), np.uint8) if turns is None else turns
        self.size = output_size
        self.load_tiles = load_tiles
        self.blend, self.overlay, self.threads = blend, overlay, threads
        step = int(self.cell_size.max())
        self.band_height = max(1, band_pixels // (output_size[0] * step)) * step
        self._target = _target_pixels(target, blend, overlay)

    def paint(self, top: int, bottom: int) -> NDArray[np.uint8]:
        """The output rows ``top:bottom``, which no cell crosses."""
        out = np.empty((bottom - top, self.size[0], 3), np.uint8)
        inside = (self.y >= top) & (self.y < bottom)
        for side in sorted(set(self.cell_size[inside].tolist())):
            cells = np.flatnonzero(inside & (self.cell_size == side))
            used = sorted_distinct(self.tiles[cells])
            index = np.searchsorted(used, self.tiles[cells]).reshape(1, -1)
            rows = (self.y[cells] - top)[:, None, None] + np.arange(side)[None, :, None]
            cols = self.x[cells][:, None, None] + np.arange(side)[None, None, :]
            row = np.empty((side, len(cells) * side, 3), np.uint8)
            paint_band(
                self.load_tiles[side](used),
                index,
                row,
                flipped=self.flipped[cells].reshape(1, -1),
                turns=self.turns[cells].reshape(1, -1),
                under=self._under(cells, side, top, bottom),
                blend=self.blend,
                overlay=self.overlay,
                threads=self.threads,
            )
            out[rows, cols] = row.reshape(side, len(cells), side, 3).transpose(1, 0, 2, 3)
        return out

    def under_side(self, side: int) -> int:
        """Target pixels per side that :meth:`paint` gives the core for cells of ``side``:
        as :attr:`Painter.under_side`, or ``side`` where the output does not scale to a
        whole number of samples."""
        s = side if self.overlay > 0 else min(side, BLEND_SAMPLES)
        if (self.size[0] * s) % side or (self.size[1] * s) % side:
            return side
        return s

    def _under(
        self, cells: NDArray[np.intp], side: int, top: int, bottom: int
    ) -> NDArray[np.uint8] | None:
        """The target under ``cells`` (all of ``side``, inside rows ``top:bottom``), side
        by side at :meth:`under_side` samples each, as :class:`Painter` samples a grid of
        that cell size; None without blend or overlay."""
        if self._target is None:
            return None
        s = self.under_side(side)
        region = resize_lanczos(
            self._target,
            (self.size[0] * s // side, self.size[1] * s // side),
            rows=(top * s // side, bottom * s // side),
            threads=self.threads,
        )
        ys = (self.y[cells] - top) * s // side
        xs = self.x[cells] * s // side
        rows = ys[:, None, None] + np.arange(s)[None, :, None]
        cols = xs[:, None, None] + np.arange(s)[None, None, :]
        return _side_by_side(region[rows, cols])

    def bands(self, *, progress: bool = False) -> Iterator[NDArray[np.uint8]]:
        """Yield the image band by band, top to bottom."""
        height = self.size[1]
        with progress_bar(len(self.tiles), "render", "cell", enabled=progress) as bar:
            for top in range(0, height, self.band_height):
                bottom = min(top + self.band_height, height)
                yield self.paint(top, bottom)
                bar.update(int(((self.y >= top) & (self.y < bottom)).sum()))

    def painted(
        self, out: NDArray[np.uint8], *, progress: bool = False
    ) -> Iterator[NDArray[np.uint8]]:
        """Paint the whole image into ``out`` band by band, yielding each band (a view
        of ``out``) once painted, as :meth:`Painter.painted`."""
        top = 0
        for band in self.bands(progress=progress):
            out[top : top + len(band)] = band
            yield out[top : top + len(band)]
            top += len(band)

    def compose(self, *, progress: bool = False) -> NDArray[np.uint8]:
        """The whole ``(height, width, 3)`` image."""
        return _composed(self, progress)


def _composed(painter: Painter | CellPainter, progress: bool) -> NDArray[np.uint8]:
    """The whole image of ``painter``, painted by its :meth:`~Painter.painted`."""
    width, height = painter.size
    out = np.empty((height, width, 3), np.uint8)
    for _ in painter.painted(out, progress=progress):
        pass
    return out


def _target_pixels(
    target: Image.Image | None, blend: float, overlay: float
) -> NDArray[np.uint8] | None:
    """The target's RGB pixels when ``blend`` or ``overlay`` needs them, else None."""
    if blend == 0 and overlay == 0:
        return None
    if target is None:
        raise ValueError("blend and overlay need the target")
    return np.asarray(target.convert("RGB"))


def _side_by_side(patches: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """``(n, s, s, 3)`` patches as one ``(s, n * s, 3)`` row, left to right."""
    n, s = patches.shape[:2]
    return np.ascontiguousarray(patches.transpose(1, 0, 2, 3).reshape(s, n * s, 3))
