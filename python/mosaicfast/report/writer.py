"""Writing a report folder whole or not at all, from a built mosaic or from its manifest.

The folder is made under a temporary name beside its destination and renamed into
place when complete, so an interrupted or failed report leaves nothing behind,
and an existing folder is replaced (``force``) only once the new one is whole.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import shutil
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from .._util.lifetime import interrupts_deferred
from ..errors import MosaicfastError
from ..io._atomic import current_umask
from ..io.images import open_rgb
from ..io.manifest import check_grid_fits, read_grid
from ..io.output import STREAM_PIXELS, is_tiff
from ..io.paths import os_reason
from ..kernels.orientation import code
from .page import SCORE_PIXELS, CellSource, cell_scores, quality, report_data, write_page
from .pyramid import DZI_FORMAT, DZI_TILE, DeepZoomWriter

if TYPE_CHECKING:
    from ..api import Mosaic

__all__ = [
    "Report",
    "check_report_folder",
    "image_bands",
    "manifest_report",
    "mosaic_report",
    "write_report",
]

SourceOf = Callable[[int], CellSource]
"""``source_of(tile)``: where the tile numbered ``tile`` in the assignment came from."""


@dataclass(frozen=True)
class Report:
    """What :func:`write_report` wrote.

    Attributes
    ----------
    folder : Path
        The report; open ``folder / "index.html"`` in a browser.
    tiles : int
        Image tiles of the Deep Zoom pyramid.
    missing_cells : int
        Cells whose tile's file has moved or vanished (marked in the report).
    missing_example : str, optional
        One of those files.
    seconds : float
        Time taken.
    """

    folder: Path
    tiles: int
    missing_cells: int
    missing_example: str | None
    seconds: float


def check_report_folder(folder: str | Path, *, force: bool = False) -> Path:
    """Check up front that a report can be written at ``folder``; return it as a Path.

    Raises
    ------
    MosaicfastError
        If ``folder`` exists (unless ``force``, and then only if it is a report
        folder or empty: a folder of other files is never replaced), is a file, or
        its parent does not take new folders.
    """
    folder = Path(folder)
    if folder.exists() or folder.is_symlink():
        if not folder.is_dir() or folder.is_symlink():
            raise MosaicfastError(f"{folder}: exists and is not a folder")
        if not force:
            raise MosaicfastError(f"{folder}: exists; give --force to replace the report there")
        if any(folder.iterdir()) and not (folder / "data.js").is_file():
            raise MosaicfastError(
                f"{folder}: is not a mosaicfast report (no data.js); "
                "not replaced, even with --force"
            )
    parent = folder.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent  # made only when the report is written
    try:
        if parent == folder.parent:
            os.rmdir(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=parent))
        elif not os.access(parent, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "permission denied")
    except OSError as err:
        raise MosaicfastError(f"{folder}: cannot write in {parent} ({os_reason(err)})") from None
    return folder


@contextmanager
def _folder_in_place(folder: Path, *, force: bool) -> Iterator[Path]:
    """Yield a new temporary folder beside ``folder``; on success it becomes ``folder``
    (an earlier one is removed only then)."""
    check_report_folder(folder, force=force)
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    old = None
    try:
        yield work
        os.chmod(work, 0o777 & ~current_umask())  # mkdtemp makes it private
        with interrupts_deferred():
            if folder.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old.", dir=folder.parent))
                os.replace(folder, old)
            os.replace(work, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def write_report(
    folder: str | Path,
    bands: Iterable[NDArray[np.uint8]],
    *,
    assignment: NDArray[np.int64],
    tile_size: int,
    source_of: SourceOf,
    target: Image.Image,
    options: dict[str, Any],
    flipped: NDArray[np.bool_] | None = None,
    turns: NDArray[np.uint8] | None = None,
    timings: dict[str, float] | None = None,
    title: str = "mosaic",
    force: bool = False,
    workers: int | None = None,
) -> Report:
    """Write the report of a mosaic given band by band into the new folder ``folder``.

    Parameters
    ----------
    folder : str or Path
        The report folder; refused if it exists, unless ``force``.
    bands : iterable of numpy.ndarray
        The mosaic, ``(rows, width, 3)`` ``uint8`` bands top to bottom, any heights.
    assignment : numpy.ndarray
        ``(rows, cols)`` tile numbers, each passed to ``source_of``.
    tile_size : int
        Side of a cell in the mosaic, in pixels.
    source_of : callable
        ``source_of(tile)`` gives the :class:`~mosaicfast.report.page.CellSource` of a
        tile number.
    target : PIL.Image.Image
        The target as matched.
    options, timings : dict
        The options the mosaic was built with, and the seconds of each stage.
    flipped, turns : numpy.ndarray, optional
        ``(rows, cols)``: whether each cell's tile is mirrored, and its quarter turns
        counter-clockwise after the mirror (None: none is).
    title : str
        The page's title.
    force : bool
        Replace an existing report folder.
    workers : int, optional
        Threads encoding the pyramid's tiles (default: one per core).

    Returns
    -------
    Report
        Where it is, and the cells whose tile files are missing (marked in the page).
    """
    start = time.perf_counter()
    folder = Path(folder)
    grid = np.asarray(assignment, dtype=np.int64)
    rows, cols = grid.shape
    size = (cols * tile_size, rows * tile_size)
    orientation = code(flipped, turns)
    if orientation is not None and orientation.shape != grid.shape:
        raise ValueError(f"flipped and turns must be {rows} x {cols}, the assignment's shape")
    used, inverse = np.unique(grid, return_inverse=True)
    sources = [source_of(int(tile)) for tile in used]
    missing = _missing(sources)
    try:
        with _folder_in_place(folder, force=force) as work:
            pyramid = DeepZoomWriter(work, size, workers=workers)
            try:
                reduced = [
                    _reduced_band(band, cols, tile_size, pyramid)
                    for band in _cell_rows(bands, tile_size)
                ]
                pyramid.check()
            finally:
                pyramid.close()
            small_mosaic = np.concatenate(reduced)
            small_target = target.convert("RGB").resize(
                (cols * SCORE_PIXELS, rows * SCORE_PIXELS), Image.Resampling.BOX
            )
            scores = cell_scores(np.asarray(small_target), small_mosaic, rows, cols)
            figures = quality(np.asarray(small_target), small_mosaic, scores, grid).as_dict()
            seconds = time.perf_counter() - start
            data = report_data(
                size=size, tile_size=tile_size, cells=inverse.reshape(rows, cols),
                orientation=orientation, sources=sources, missing=missing,
                scores=scores, quality=figures, options=options,
                timings={**(timings or {}), "report": seconds}, title=title,
            )  # fmt: skip
            dzi = {"tileSize": DZI_TILE, "format": DZI_FORMAT, "maxLevel": pyramid.max_level,
                   "folder": "mosaic_files"}  # fmt: skip
            write_page(work, data, target, dzi)
    except OSError as err:
        raise MosaicfastError(f"{folder}: cannot write the report ({os_reason(err)})") from None
    gone = np.asarray(missing, dtype=bool)
    example = next((s.path for s, g in zip(sources, missing, strict=True) if g), None)
    return Report(
        folder=folder,
        tiles=pyramid.tiles,
        missing_cells=int(gone[inverse].sum()),
        missing_example=example,
        seconds=time.perf_counter() - start,
    )


def _missing(sources: list[CellSource]) -> list[bool]:
    """Whether each source's file is gone (each distinct file looked up once)."""
    seen: dict[str, bool] = {}
    for source in sources:
        if source.path not in seen:
            seen[source.path] = not os.path.isfile(source.path)
    return [seen[s.path] for s in sources]


def _cell_rows(bands: Iterable[NDArray[np.uint8]], tile_size: int) -> Iterator[NDArray[np.uint8]]:
    """The image regrouped into bands of whole cell rows."""
    pending: list[NDArray[np.uint8]] = []
    held = 0
    for band in bands:
        pending.append(band)
        held += len(band)
        if held >= tile_size:
            joined = pending[0] if len(pending) == 1 else np.concatenate(pending)
            whole = held // tile_size * tile_size
            yield joined[:whole]
            pending = [joined[whole:]] if held > whole else []
            held -= whole
    if held:
        raise ValueError(f"the image's height is not a whole number of {tile_size}-px cells")


def _reduced_band(
    band: NDArray[np.uint8], cols: int, tile_size: int, pyramid: DeepZoomWriter
) -> NDArray[np.uint8]:
    """Add a band of whole cell rows to the pyramid; return it at
    :data:`~mosaicfast.report.page.SCORE_PIXELS` pixels per cell (area averaging)."""
    pyramid.add(band)
    size = (cols * SCORE_PIXELS, len(band) // tile_size * SCORE_PIXELS)
    return np.asarray(Image.fromarray(band).resize(size, Image.Resampling.BOX))


def image_bands(path: Path) -> tuple[tuple[int, int], Iterable[NDArray[np.uint8]]]:
    """``(width, height)`` of the image file ``path`` and its pixels as bands: a tiled or
    stripped 8-bit RGB TIFF is read a row of tiles at a time, other images whole."""
    if is_tiff(path):
        import tifffile  # only for TIFF mosaics: not imported at start-up

        try:
            with tifffile.TiffFile(path) as tif:
                page = tif.pages[0]
                shape, dtype = page.shape, page.dtype
        except (OSError, ValueError, tifffile.TiffFileError) as err:
            raise MosaicfastError(f"{path}: cannot read the mosaic ({err})") from None
        if len(shape) == 3 and shape[2] == 3 and dtype == np.uint8:
            return (shape[1], shape[0]), _tiff_bands(path)
    image = open_rgb(path)
    pixels = np.asarray(image)
    return image.size, [pixels]


def _tiff_bands(path: Path) -> Iterator[NDArray[np.uint8]]:
    """The rows of an 8-bit RGB TIFF, one row of tiles (or one strip) at a time."""
    import tifffile

    try:
        yield from _tiff_rows(path)
    except (OSError, ValueError, zlib.error, tifffile.TiffFileError) as err:
        raise MosaicfastError(f"{path}: cannot read the mosaic ({err})") from None


def _tiff_rows(path: Path) -> Iterator[NDArray[np.uint8]]:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        height, width = page.shape[:2]
        band: NDArray[np.uint8] | None = None
        band_top = -1
        # Read about one row of tiles at a time (tifffile's default, 256 MB of compressed
        # tiles, would decode hundreds of megabytes at once).
        row_bytes = width * (page.tilelength or page.rowsperstrip or 1) * 3
        for segment, index, _ in page.segments(sort=True, buffersize=row_bytes):
            top, left = index[2], index[3]
            if top != band_top:
                if band is not None:
                    yield band
                band_top = top
                band = np.empty((min(segment.shape[1], height - top), width, 3), np.uint8)
            assert band is not None
            part = segment[0, : len(band), : width - left]
            band[:, left : left + part.shape[1]] = part
        if band is not None:
            yield band


def mosaic_report(
    mosaic: Mosaic, folder: str | Path, *, force: bool = False, title: str = "mosaic"
) -> Report:
    """Write the report of a mosaic just built (see :func:`write_report`).

    A mosaic small enough to hold in memory is composed once (or taken as composed);
    a larger one is painted again band by band, never whole. An adaptive mosaic has no
    grid of cells for the page's cell look-ups: refused.
    """
    if mosaic.cells is not None:
        raise MosaicfastError(
            "the report shows a grid of cells; an adaptive mosaic (adaptive) has none yet",
            parameters=("adaptive",),
        )
    if mosaic.pixels <= STREAM_PIXELS:
        bands: Iterable[NDArray[np.uint8]] = [np.asarray(mosaic.image)]
    else:
        bands = mosaic.painter.bands(progress=mosaic.progress)
    tiles = mosaic.sources

    def source_of(tile: int) -> CellSource:
        source = tiles[tile]
        return CellSource(path=str(source.path), time=source.time, tile_id=source.tile_id)

    return write_report(
        folder, bands, assignment=mosaic.assignment, tile_size=mosaic.plan.tile_size,
        source_of=source_of, target=mosaic.target, options=mosaic.options,
        flipped=mosaic.flipped, turns=mosaic.turns, timings=mosaic.timings, title=title,
        force=force, workers=mosaic.painter.threads,
    )  # fmt: skip


def manifest_report(
    manifest: str | Path,
    folder: str | Path,
    *,
    mosaic: str | Path | None = None,
    target: str | Path | None = None,
    force: bool = False,
    workers: int | None = None,
) -> Report:
    """Write the report of a mosaic already built, from its manifest (see :func:`write_report`).

    Parameters
    ----------
    manifest : str or Path
        The manifest written by ``build --manifest`` (.json or .csv).
    folder : str or Path
        The new report folder.
    mosaic, target : str or Path, optional
        The mosaic image and the target; by default the files a JSON manifest
        records (``meta.output``, ``meta.target``).

    Raises
    ------
    MosaicfastError
        An unreadable or partial manifest, mosaic or target, a mosaic that is not the
        manifest's grid, or a folder that cannot be written.
    """
    manifest = Path(manifest)
    folder = check_report_folder(folder, force=force)
    grid, flipped, turns = read_grid(manifest)
    meta, sources = _manifest_sources(manifest)
    mosaic_path = _recorded(manifest, mosaic, meta, "output", "--mosaic")
    target_path = _recorded(manifest, target, meta, "target", "--target")
    target_image = open_rgb(target_path)
    size, bands = image_bands(mosaic_path)
    check_grid_fits(manifest, grid, size)
    options = {k: v for k, v in meta.items() if k not in ("rows", "cols")}
    return write_report(
        folder, bands, assignment=grid, tile_size=size[0] // grid.shape[1],
        source_of=sources.__getitem__, target=target_image, options=options,
        flipped=flipped, turns=turns, title=mosaic_path.name, force=force, workers=workers,
    )  # fmt: skip


def _recorded(
    manifest: Path, given: str | Path | None, meta: dict[str, Any], key: str, option: str
) -> Path:
    """The file given, else the one the manifest's meta records under ``key``."""
    if given is not None:
        return Path(given)
    recorded = meta.get(key)
    if not isinstance(recorded, str):
        raise MosaicfastError(f"{manifest}: records no {key} file; give {option}")
    return Path(recorded)


def _manifest_sources(path: Path) -> tuple[dict[str, Any], dict[int, CellSource]]:
    """A manifest's ``meta`` (empty for CSV) and the source of each tile id it names.

    The manifest has already been read whole by
    :func:`~mosaicfast.io.manifest.read_grid`, which checks its cells.
    """
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    meta: dict[str, Any] = {}
    if path.suffix.lower() == ".json":
        payload = json.loads(text)
        meta = payload.get("meta") if isinstance(payload.get("meta"), dict) else {}
        cells = payload["cells"]
    else:
        cells = list(csv.DictReader(text.splitlines()))
    sources: dict[int, CellSource] = {}
    try:
        for cell in cells:
            tile = int(cell["tile"])
            if tile not in sources:
                sources[tile] = _cell_source(cell, tile)
    except (ValueError, TypeError, OverflowError) as err:
        raise MosaicfastError(f"{path}: not a whole mosaicfast manifest ({err})") from None
    return meta, sources


def _cell_source(cell: dict[str, Any], tile: int) -> CellSource:
    """The source of a manifest cell: its file (without the ``@HH:MM:SS`` of a video
    frame) and the frame's time."""
    where = str(cell.get("source") or "")
    raw_time = cell.get("time")
    seconds = float(raw_time) if raw_time not in (None, "") else None
    if seconds is not None and "@" in where:
        where = where.rsplit("@", 1)[0]
    return CellSource(path=where, time=seconds, tile_id=tile)
