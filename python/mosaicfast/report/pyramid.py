"""A Deep Zoom (DZI) image pyramid written from an image given band by band.

Deep Zoom is the pyramid layout of OpenSeadragon and Microsoft's Deep Zoom: level
``L`` of ``max_level + 1`` is the image scaled by ``2 ** (L - max_level)`` (sides
rounded up), cut into square JPEG tiles named ``{L}/{column}_{row}.jpg`` under
``NAME_files/``, and ``NAME.dzi`` is a small XML file giving the size, the tile
side, the overlap and the format. Any Deep Zoom viewer opens it.

The image is never whole in memory: each level keeps one strip of
:data:`DZI_TILE` rows; a full strip is cut into tiles (JPEG-encoded by Pillow on a
pool of threads, which release the GIL) and halved with Pillow's ``reduce(2)``
(the mean of each 2 x 2 block, edge pixels alone where a side is odd) into the
next level down. Memory is therefore about two strips of the full width (two
times ``DZI_TILE`` rows of 3 bytes per pixel: 30 MB for a 20,000-px-wide
mosaic), whatever the height.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

__all__ = ["DZI_FORMAT", "DZI_QUALITY", "DZI_TILE", "DeepZoomWriter", "dzi_levels", "write_dzi"]

#: Side of the pyramid's tiles, in pixels (no overlap between neighbours).
DZI_TILE = 256

#: Tile format and JPEG quality: at 85 the tiles of a mosaic hold no visible
#: artefacts at full size, at about a tenth of PNG's size.
DZI_FORMAT = "jpg"
DZI_QUALITY = 85


def dzi_levels(size: tuple[int, int]) -> int:
    """Number of levels of the pyramid of an image of ``(width, height)``: down to 1 x 1."""
    return math.ceil(math.log2(max(size))) + 1 if max(size) > 1 else 1


def dzi_xml(size: tuple[int, int]) -> str:
    """The ``.dzi`` descriptor of the pyramid of an image of ``(width, height)``."""
    width, height = size
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Image xmlns="http://schemas.microsoft.com/deepzoom/2008" '
        f'Format="{DZI_FORMAT}" Overlap="0" TileSize="{DZI_TILE}">\n'
        f'  <Size Width="{width}" Height="{height}"/>\n'
        "</Image>\n"
    )


class _Level:
    """One level of the pyramid: the strip being filled and where its tiles go."""

    def __init__(self, folder: Path, level: int, size: tuple[int, int]) -> None:
        self.folder = folder / str(level)
        self.folder.mkdir()
        self.width, self.height = size
        self.pending: list[NDArray[np.uint8]] = []
        self.buffered = 0
        self.done = 0

    def strips(self, rows: NDArray[np.uint8]) -> list[tuple[int, NDArray[np.uint8]]]:
        """Add ``rows``; return the strips now complete (:data:`DZI_TILE` rows, or the
        last rows of the level), each with its row of tiles."""
        self.pending.append(rows)
        self.buffered += len(rows)
        out = []
        while self.buffered >= DZI_TILE or (
            self.buffered and self.done + self.buffered == self.height
        ):
            joined = self.pending[0] if len(self.pending) == 1 else np.concatenate(self.pending)
            take = min(DZI_TILE, len(joined))
            out.append((self.done // DZI_TILE, joined[:take]))
            rest = joined[take:]
            self.pending = [rest] if len(rest) else []
            self.buffered -= take
            self.done += take
        return out


class DeepZoomWriter:
    """Writes the Deep Zoom pyramid of a ``(width, height)`` RGB image into ``folder``
    (``NAME.dzi`` and ``NAME_files/``), fed top to bottom in bands of any height.

    Parameters
    ----------
    folder : Path
        An existing folder.
    size : tuple of int
        ``(width, height)`` of the image.
    name : str, default "mosaic"
        Base name of the ``.dzi`` file and the ``_files`` folder.
    workers : int, optional
        JPEG-encoding threads (default: one per core).
    """

    def __init__(
        self,
        folder: Path,
        size: tuple[int, int],
        *,
        name: str = "mosaic",
        workers: int | None = None,
    ) -> None:
        self.size = size
        self.max_level = dzi_levels(size) - 1
        files = folder / f"{name}_files"
        files.mkdir()
        self.levels = [
            _Level(files, level, self.level_size(level)) for level in range(self.max_level + 1)
        ]
        (folder / f"{name}.dzi").write_text(dzi_xml(size), encoding="utf-8")
        self.pool = ThreadPoolExecutor(workers or os.cpu_count() or 1, "mosaicfast-dzi")
        self.tiles = 0

    def level_size(self, level: int) -> tuple[int, int]:
        """``(width, height)`` of ``level``: the image's sides divided by
        ``2 ** (max_level - level)``, rounded up."""
        scale = 2 ** (self.max_level - level)
        return -(-self.size[0] // scale), -(-self.size[1] // scale)

    def add(self, band: NDArray[np.uint8]) -> None:
        """Add the next ``(rows, width, 3)`` rows of the full-size image."""
        if band.shape[1:] != (self.size[0], 3):
            raise ValueError(f"a band of shape {band.shape} in an image {self.size[0]} px wide")
        self._feed(self.max_level, band)

    def _feed(self, level: int, rows: NDArray[np.uint8]) -> None:
        for row, strip in self.levels[level].strips(rows):
            self._write_strip(level, row, strip)
            if level > 0:
                halved = Image.fromarray(np.ascontiguousarray(strip)).reduce(2)
                self._feed(level - 1, np.asarray(halved))

    def _write_strip(self, level: int, row: int, strip: NDArray[np.uint8]) -> None:
        """JPEG tiles of the strip of ``level`` that is its row ``row`` of tiles, encoded
        in parallel."""
        where = self.levels[level]
        jobs = [
            self.pool.submit(
                _write_tile,
                where.folder / f"{x // DZI_TILE}_{row}.{DZI_FORMAT}",
                strip[:, x : x + DZI_TILE],
            )
            for x in range(0, where.width, DZI_TILE)
        ]
        for job in jobs:
            job.result()
        self.tiles += len(jobs)

    def check(self) -> None:
        """ValueError unless every level is complete (the bands held the whole image)."""
        if any(level.done != level.height for level in self.levels):
            raise ValueError(
                f"the bands hold {self.levels[-1].done} rows of an image {self.size[1]} rows high"
            )

    def close(self) -> None:
        """Stop the encoding threads."""
        self.pool.shutdown()


def _write_tile(path: Path, pixels: NDArray[np.uint8]) -> None:
    Image.fromarray(np.ascontiguousarray(pixels)).save(
        path, format="JPEG", quality=DZI_QUALITY, subsampling=0
    )


def write_dzi(
    folder: Path,
    bands: Iterable[NDArray[np.uint8]],
    size: tuple[int, int],
    *,
    name: str = "mosaic",
    workers: int | None = None,
) -> int:
    """Write the Deep Zoom pyramid of an image given as bands (see :class:`DeepZoomWriter`).

    Returns
    -------
    int
        Number of tiles written.
    """
    writer = DeepZoomWriter(folder, size, name=name, workers=workers)
    try:
        for band in bands:
            writer.add(band)
        writer.check()
    finally:
        writer.close()
    return writer.tiles
