"""The Python API: ``mosaicfast.build`` and the ``Mosaic`` it returns."""

from __future__ import annotations

import dataclasses
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from ._util.arrays import sorted_distinct
from ._util.parallel import ordered_map
from ._util.progress import Stages
from .errors import ImageReadError, MosaicfastError
from .io.images import open_rgb, to_srgb
from .io.manifest import check_manifest_path, manifest_beside
from .io.output import (
    STREAM_PIXELS,
    check_destination,
    check_image_path,
    check_output,
    is_tiff,
    save_image,
    write_png,
    write_tiff,
)
from .io.sources import SkipHandler, TileSource
from .kernels import descriptors
from .kernels.assign import Improvement, nearby_squares
from .kernels.resample import box_downsample, resize_image, resize_tiles
from .kernels.ssim import luminance
from .library.cache import folder_library
from .library.indexer import index_library
from .library.store import Library, TileList
from .matching import (
    FLAT_GRID,
    LumaLoader,
    OptimalReport,
    check_matching_memory,
    default_max_uses,
    flat_tiles,
    match_cells,
)
from .options import DEFAULT_DPI, DEFAULT_TILE_SIZE, BuildOptions, MatchOptions
from .plan import (
    Cells,
    GridPlan,
    PrintSize,
    check_split,
    plan_cells,
    plan_grid,
    plan_print,
    print_crop,
)
from .render import CellPainter, Painter, TileStack

if TYPE_CHECKING:
    from .quality import Quality

__all__ = ["SAMPLES_PER_BLOCK", "Mosaic", "build"]

#: Pixels along each side of a descriptor block, for tiles and target cells alike.
SAMPLES_PER_BLOCK = 4


#: Samples of the target resized for matching held at a time (24 MB of RGB).
_SAMPLE_BAND_PIXELS = 8_000_000

#: Rows of an image held in memory handed to a writer at a time.
_BAND_ROWS = 1024


@dataclass
class Mosaic:
    """A finished mosaic: which tile fills each cell, and the means to paint it.

    The pixels are painted on demand by the Rust core, a band of cell rows at a
    time (see :mod:`mosaicfast.render`): :attr:`image` composes the whole image in
    memory (once), while :meth:`save` to a TIFF file of a mosaic above
    :data:`~mosaicfast.io.output.STREAM_PIXELS` streams it band by band, so a mosaic of
    any size is written in bounded memory.

    Attributes
    ----------
    assignment : numpy.ndarray
        ``(rows, cols)`` ``int64`` tile indices: ``sources[assignment[r, c]]`` fills cell
        ``(r, c)``.
    sources : sequence of TileSource
        Every tile the mosaic could choose from, as where it came from (source file,
        crop box, library tile id); ``assignment`` indexes it. ``tiles`` is its old,
        deprecated name.
    plan : GridPlan
        Grid and tile size.
    distances : numpy.ndarray
        ``(rows, cols)`` squared descriptor distance between each cell and its tile.
    flipped : numpy.ndarray
        ``(rows, cols)`` whether each cell's tile is used mirrored.
    turns : numpy.ndarray
        ``(rows, cols)`` quarter turns counter-clockwise of each cell's tile, after the
        mirror (0 everywhere unless built with ``rotate``).
    skipped : list of (Path, str)
        Tile files that could not be used, with the reason (``build(sources=...)`` only).
    timings : dict of str to float
        Seconds spent in each stage, in order; ``render`` and ``write`` are added
        when the image is composed and saved.
    options : dict
        The options the mosaic was built with, by name (every option of
        :class:`~mosaicfast.options.BuildOptions` but ``threads``, with the tile size,
        cells across, print size, resolution and crop as planned), as the manifest
        records them.
    painter : Painter
        Paints the mosaic's pixels, band by band or whole.
    target : PIL.Image.Image
        The target as matched: centre-cropped to the print's aspect ratio when built
        with ``print_size``.
    dpi : float, optional
        Resolution recorded in saved files (``build(print_size=..., dpi=...)``).
    progress : bool
        Show progress bars while composing and saving.
    optimal : OptimalReport, optional
        With ``assign="optimal"``: what the assignment is optimal for and its
        certificate (status, total cost, gap 0); also written to the manifest.
    improvement : mosaicfast.kernels.assign.Improvement, optional
        With the greedy and ``improve``: how much the local improvement lowered its
        total score (``build --stats`` prints it).
    cells : Cells, optional
        With ``adaptive``: the cells, of several sizes; ``assignment``, ``flipped``,
        ``turns`` and ``distances`` then hold one value per cell, ``(m,)``, in their
        order.
    """

    assignment: NDArray[np.int64]
    sources: Sequence[TileSource]
    plan: GridPlan
    distances: NDArray[np.int64]
    painter: Painter | CellPainter = field(repr=False)
    target: Image.Image = field(repr=False)
    flipped: NDArray[np.bool_] | None = None
    turns: NDArray[np.uint8] | None = None
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    dpi: float | None = None
    progress: bool = False
    optimal: OptimalReport | None = None
    improvement: Improvement | None = None
    cells: Cells | None = None
    _pixels: NDArray[np.uint8] | None = field(default=None, init=False, repr=False)
    _image: Image.Image | None = field(default=None, init=False, repr=False)

    @property
    def tiles(self) -> Sequence[TileSource]:
        """Deprecated name of :attr:`sources`."""
        warnings.warn("Mosaic.tiles is now Mosaic.sources", DeprecationWarning, stacklevel=2)
        return self.sources

    @property
    def pixels(self) -> int:
        """Number of pixels of the mosaic."""
        width, height = self.plan.output_size
        return width * height

    @property
    def image(self) -> Image.Image:
        """The mosaic as a PIL image, ``cols*tile_size`` by ``rows*tile_size`` RGB pixels.

        Composed in memory on first use (timed as the ``render`` stage), then kept.

        Raises
        ------
        MosaicfastError
            If the mosaic has more than :data:`~mosaicfast.io.output.STREAM_PIXELS` pixels:
            save it to a ``.tif`` file instead (streamed band by band), or call
            :meth:`compose` to hold it in memory anyway.
        """
        if self._pixels is None and self.pixels > STREAM_PIXELS:
            width, height = self.plan.output_size
            raise MosaicfastError(
                f"the mosaic is {width}x{height} = {self.pixels:,} pixels, more than "
                f"{STREAM_PIXELS:,} to compose in memory; save it to a .tif file "
                "(Mosaic.save streams it band by band), or call Mosaic.compose() to "
                "compose it anyway"
            )
        return self.compose()

    def compose(self) -> Image.Image:
        """Compose the whole image in memory, whatever its size, and keep it."""
        if self._image is None:
            self._image = Image.fromarray(self._composed())
        return self._image

    def _composed(self) -> NDArray[np.uint8]:
        """The whole image's pixels, painted on first use (timed as ``render``)."""
        if self._pixels is None:
            start = time.perf_counter()
            self._pixels = self.painter.compose(progress=self.progress)
            self._add_time("render", time.perf_counter() - start)
        return self._pixels

    def save(
        self, path: str | Path, *, stream: bool | None = None, manifest: str | Path | None = None
    ) -> Path:
        """Save the image; the format follows the suffix (.png, .jpg, .tif, .webp).

        An image not composed yet is composed as it is written: a PNG or TIFF writer
        takes each band once painted, so that it compresses one band while the next is
        painted, and the whole image is kept as :attr:`image` (the same pixels and file
        as composing it first).

        Parameters
        ----------
        path : str or Path
            The output file, written atomically (a failed or interrupted write leaves
            no partial file).
        stream : bool, optional
            Paint the image band by band straight into the file instead of composing
            it in memory; TIFF only. By default, mosaics above
            :data:`~mosaicfast.io.output.STREAM_PIXELS` pixels that are not already in
            memory are streamed, and other formats are refused for them.
        manifest : str or Path, optional
            Also write the manifest there (see :meth:`write_manifest`), first to a
            temporary file: the image and the manifest appear together or not at all.

        Returns
        -------
        Path
            ``path``.

        Raises
        ------
        MosaicfastError
            Unknown format, an image too large for its format, or a failed write.
        """
        path = check_image_path(path)
        size = self.plan.output_size
        if stream is None:
            stream = self._pixels is None and self.pixels > STREAM_PIXELS
        if stream and not is_tiff(path):
            check_output(path, size)  # explains why a large mosaic needs a .tif
            raise MosaicfastError(f"{path}: only TIFF outputs can be streamed; use a .tif")
        check_output(path, size, in_memory=self._pixels is not None)
        workers = self.painter.threads
        start = time.perf_counter()
        rendering = self.timings.get("render", 0.0)
        beside = self._manifest_beside(manifest, output=path) if manifest is not None else None
        with beside or nullcontext():
            if stream:
                bands = self._timed(self.painter.bands(progress=self.progress))
            elif self._pixels is None:
                bands = self._painting()
            else:
                bands = self._image_bands(self._pixels)
            if is_tiff(path):
                write_tiff(path, bands, size, dpi=self.dpi, workers=workers)
            elif path.suffix.lower() == ".png":
                write_png(path, bands, size, dpi=self.dpi, workers=workers)
            else:
                save_image(self.image, path, dpi=self.dpi)
        painted = self.timings.get("render", 0.0) - rendering
        self._add_time("write", time.perf_counter() - start - painted)
        return path

    def reduced(self, pixels_per_cell: int = 8) -> Image.Image:
        """The mosaic at ``pixels_per_cell`` pixels per cell, by area averaging
        (``Image.Resampling.BOX``), as :func:`mosaicfast.quality.fidelity` measures it.

        Mosaics not held in memory and too large to be are painted band by band
        again, each band reduced on its own.
        """
        size = (self.plan.cols * pixels_per_cell, self.plan.rows * pixels_per_cell)
        if self._pixels is not None or self.pixels <= STREAM_PIXELS:
            return self.image.resize(size, Image.Resampling.BOX)
        parts = []
        for band in self.painter.bands(progress=self.progress):
            band_size = (size[0], len(band) // self.plan.tile_size * pixels_per_cell)
            parts.append(np.asarray(Image.fromarray(band).resize(band_size, Image.Resampling.BOX)))
        return Image.fromarray(np.concatenate(parts))

    def quality(self) -> Quality:
        """Fidelity (on the target as matched, at 8 px per cell of the plan) and
        diversity of the mosaic (:func:`mosaicfast.quality.evaluate`); adjacent cells
        are those sharing an edge, whatever their sizes."""
        from .quality import evaluate

        if self.cells is None:
            return evaluate(self.target, self.reduced(), self.assignment)
        cell_map = self.cells.cell_map(self.plan.output_size)
        shape = (self.plan.rows, self.plan.cols)
        return evaluate(
            self.target, self.reduced(), self.assignment, cell_map=cell_map, shape=shape
        )

    def _add_time(self, stage: str, seconds: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + seconds

    def _painting(self) -> Iterator[NDArray[np.uint8]]:
        """The image in the bands of :meth:`_image_bands`, each given as soon as the
        painter's bands (timed as ``render``) have filled it in the whole image, which
        is kept once the last is: the writer deflates a band while the next is painted,
        and cuts the same bands as from a composed image (so writes the same bytes)."""
        width, height = self.plan.output_size
        pixels = np.empty((height, width, 3), np.uint8)
        start = painted = 0
        for band in self._timed(self.painter.painted(pixels, progress=self.progress)):
            painted += len(band)
            while start < painted and (start + _BAND_ROWS <= painted or painted == height):
                yield pixels[start : start + _BAND_ROWS]
                start += _BAND_ROWS
        self._pixels = pixels

    def _timed(self, bands: Iterator[NDArray[np.uint8]]) -> Iterator[NDArray[np.uint8]]:
        """``bands``, the time spent painting them added to ``render``."""
        while True:
            start = time.perf_counter()
            band = next(bands, None)
            self._add_time("render", time.perf_counter() - start)
            if band is None:
                return
            yield band

    @staticmethod
    def _image_bands(pixels: NDArray[np.uint8]) -> Iterator[NDArray[np.uint8]]:
        """An image cut into bands of rows (views, no copy)."""
        for start in range(0, len(pixels), _BAND_ROWS):
            yield pixels[start : start + _BAND_ROWS]

    def write_manifest(self, path: str | Path) -> Path:
        """Write, per cell, the tile id, source path and crop box (.json or .csv),
        atomically; MosaicfastError if it cannot be written."""
        with self._manifest_beside(path):
            pass
        return Path(path)

    def _manifest_beside(
        self, path: str | Path, *, output: Path | None = None
    ) -> AbstractContextManager[None]:
        """The manifest written beside the image ``output``, which its meta records
        (absolute, as the target) for ``mosaicfast report``."""
        meta = {"rows": self.plan.rows, "cols": self.plan.cols, **self.options}
        if self.optimal is not None:
            meta["optimal"] = self.optimal.as_dict()
        if output is not None:
            meta["output"] = str(output.absolute())
        cells = None if self.cells is None else (self.cells.x, self.cells.y, self.cells.size)
        return manifest_beside(
            path, self.assignment, self.sources, flipped=self.flipped, turns=self.turns,
            meta=meta, cells=cells,
        )  # fmt: skip


def build(
    target: str | Path | Image.Image,
    sources: str | Path | Sequence[str | Path] | None = None,
    *,
    library: str | Path | None = None,
    options: BuildOptions | None = None,
    output: str | Path | None = None,
    manifest: str | Path | None = None,
    force: bool = False,
    progress: bool = False,
    on_skip: SkipHandler | None = None,
    on_wait: Callable[[str], None] | None = None,
    tiles: str | Path | Sequence[str | Path] | None = None,
    **overrides: Any,
) -> Mosaic:
    """Build a photo mosaic of ``target`` from a tile library or folders of photos.

    Every cell of the target is described by a grid of block means (``descriptor``:
    luma and CIELAB a*b* by default), as is every tile (its centre square). The
    exhaustive exact search in the Rust core (or, with ``prune``, a
    KD-tree shortlist) gives each cell its ``candidates`` nearest tiles; ``metric``
    scores them and ``assign`` chooses among them: by default the penalised greedy,
    which visits the hardest cells first, charges ``penalty`` per earlier use of a
    tile and keeps a tile's repeats at least ``min_distance`` cells apart.
    ``assign="optimal"`` instead finds the least total distance over every cell and
    tile. The tiles are then colour-blended toward their cells by ``blend``.

    Parameters
    ----------
    target : str, Path or PIL.Image.Image
        The picture to reproduce.
    sources : str, Path or sequence of them, optional
        Folders (searched recursively) and files of tile photos. They are indexed
        into a cache library kept per folder set (see :func:`mosaicfast.library.cache.cache_dir`),
        so the next build from the same folders reads only new or changed files.
    library : str or Path, optional
        A library made by ``mosaicfast index`` (give ``sources`` or ``library``).
    options : BuildOptions, optional
        Every option of the mosaic (:mod:`mosaicfast.options`): the plan
        (:class:`~mosaicfast.options.PlanOptions`: ``tile_size``, ``enlargement``,
        ``cols``, ``print_size``, ``dpi``, ``max_cells``, ``max_output_pixels``), the
        matching (:class:`~mosaicfast.options.MatchOptions`: ``grid``, ``metric``,
        ``candidates``, ``assign``, ``penalty``, ``max_uses``, ``min_distance``,
        ``prune`` ...), the rendering (:class:`~mosaicfast.options.RenderOptions`:
        ``blend``, ``overlay``) and ``threads``; default: every default, the same as
        the command line's. Each option's default, range and meaning is in its class.
    **overrides
        Any of those options by name (``cols=120``, ``assign="optimal"``) or a group
        (``match=MatchOptions(...)``), applied over ``options`` and checked by the same
        code (:meth:`~mosaicfast.options.BuildOptions.of`).
    output : str or Path, optional
        Also save the mosaic there (see :meth:`Mosaic.save`; large mosaics are streamed
        to TIFF band by band). The output is checked before any matching work: an
        unknown format, a mosaic above :data:`~mosaicfast.io.output.STREAM_PIXELS`
        pixels for a format other than TIFF, a folder that does not take new files,
        or a file that is one of the inputs (the target, a tile photo) is refused up
        front.
    manifest : str or Path, optional
        With ``output``: also write the manifest there (see :meth:`Mosaic.save`), its
        destination checked up front too.
    force : bool, default False
        Let ``output`` overwrite an input (the target or a tile photo).
    progress : bool, default False
        Show progress bars on standard error.
    on_skip : callable, optional
        Called as ``on_skip(path, reason)`` for each tile file that cannot be used.
    on_wait : callable, optional
        With ``sources``: called with a message when another process is updating the
        folders' cache library, whose lock ``build`` then waits for.
    tiles : str, Path or sequence of them, optional
        Deprecated: the old name of ``sources``.

    Returns
    -------
    Mosaic
        Its image is not composed yet: :attr:`Mosaic.image` composes it on first use.

    Raises
    ------
    MosaicfastError
        Unreadable target, no usable tile, bad option, a grid beyond the limits, or
        an output that cannot hold the mosaic.
    """
    if tiles is not None:
        warnings.warn(
            "build(tiles=...) is now build(sources=...)", DeprecationWarning, stacklevel=2
        )
        if sources is not None:
            raise MosaicfastError("give sources only, not tiles as well")
        sources = tiles
    options = BuildOptions.of(options, **overrides)
    layout, matching, threads = options.plan, options.match, options.threads
    print_size = layout.print_size
    if isinstance(print_size, str):
        print_size = PrintSize.parse(print_size)
    dpi = layout.dpi
    if print_size is not None and dpi is None:
        dpi = DEFAULT_DPI
    if output is not None:
        output = check_destination(check_image_path(output))
    if manifest is not None:
        if output is None:
            raise MosaicfastError("a manifest is written beside an output: give both")
        manifest = check_destination(check_manifest_path(manifest))
    if (sources is None) == (library is None):
        raise MosaicfastError(
            "give either sources or library, not both or neither",
            parameters=("sources", "library"),
        )
    stages = Stages()
    crop = None
    with stages("target"):
        target_image = to_srgb(target) if isinstance(target, Image.Image) else open_rgb(target)
        limits = {"max_cells": layout.max_cells, "max_output_pixels": layout.max_output_pixels}
        sizes = {"enlargement": layout.enlargement, "cols": layout.cols, **limits}
        if print_size is not None:
            assert dpi is not None
            crop = print_crop(target_image.size, print_size)
            if crop is not None:
                target_image = target_image.crop(crop)
            plan = plan_print(target_image.size, print_size, dpi, **sizes)
        else:
            tile_size = layout.tile_size or DEFAULT_TILE_SIZE
            plan = plan_grid(target_image.size, tile_size=tile_size, **sizes)
        if layout.adaptive:
            check_split(plan.tile_size, layout.split_levels)
        if output is not None:
            check_output(output, plan.output_size)
    skipped: list[tuple[Path, str]] = []
    if sources is not None:
        roots = [sources] if isinstance(sources, (str, Path)) else list(sources)
        if output is not None and not force:
            _refuse_overwriting_inputs(output, target, roots)
        library = folder_library(roots)
        with stages("index"):
            report = index_library(
                library, roots, workers=threads, progress=progress, on_skip=on_skip,
                on_wait=on_wait,
            )  # fmt: skip
        skipped = report.skipped
    assert library is not None
    with Library.open(library) as lib:
        if output is not None and not force:
            _refuse_overwriting_inputs(output, target, lib.roots())
        with stages("open library"):
            rows = lib.tiles_in_use()
        if len(rows) == 0:
            raise MosaicfastError(f"{library}: no usable tile image ({len(skipped)} unreadable)")
        lib.check_arrays(rows.slots)
        if matching.max_uses is None and matching.assign == "penalty":
            uses = default_max_uses(plan.cells, len(rows))
            matching = dataclasses.replace(matching, max_uses=uses)
        check_matching_memory(plan.cells, len(rows), matching)
        space, grid = matching.descriptor, matching.descriptor_grid
        cells = None
        if layout.adaptive:
            with stages("plan cells"):
                cells = _adaptive_cells(target_image, plan, grid, layout.split_levels, threads)
        with stages("describe"):
            tile_desc = lib.tile_descriptors(grid, rows.slots, space=space, threads=threads)
            cell_luma = tile_luma = None
            if cells is None:
                cell_desc = _cell_descriptors(target_image, plan, grid, space, threads)
                if matching.metric != "color":
                    cell_luma = _cell_luminance(target_image, plan, matching.match_size, threads)
            else:
                cell_desc, cell_luma = _adaptive_cell_arrays(
                    target_image, plan, cells, matching, threads
                )
            if matching.metric != "color":
                tile_luma = _tile_luminance(lib, rows.slots, matching.match_size)
            flat = _flat(lib, rows.slots, tile_desc, (space, grid), matching, threads)
        with stages("match"):
            shape, near = (plan.rows, plan.cols), None
            if cells is not None:
                gap = matching.min_distance * plan.tile_size
                shape, near = (1, len(cells)), nearby_squares(cells.x, cells.y, cells.size, gap)
            match = match_cells(
                cell_desc, tile_desc, shape, matching, cell_luma=cell_luma, tile_luma=tile_luma,
                flat=flat, threads=threads, progress=progress, neighbours=near,
            )  # fmt: skip
            assignment = match.tile_indices.reshape(shape if cells is None else -1)
            flipped = match.flipped.reshape(assignment.shape)
            turns = match.turns.reshape(assignment.shape)
    # Library.thumbnails reads the pixel file by slot, without the catalog, so the
    # painter can load tiles after the library is closed.
    tile_sources = TileList(rows)
    look = {"target": target_image, "blend": options.render.blend,
            "overlay": options.render.overlay, "threads": threads}  # fmt: skip
    painter: Painter | CellPainter
    if cells is None:
        stack = _library_tiles(lib, rows.slots, tile_sources, plan.tile_size, on_skip, threads)
        painter = Painter(assignment, plan.tile_size, stack, flipped=flipped, turns=turns, **look)
    else:
        stacks = {
            size: _library_tiles(lib, rows.slots, tile_sources, size, on_skip, threads)
            for size in cells.sizes()
        }
        painter = CellPainter(
            cells.x, cells.y, cells.size, assignment, plan.output_size, stacks,
            flipped=flipped, turns=turns, **look,
        )  # fmt: skip
    made_with = {
        **options.as_dict(),
        "grid": matching.descriptor_grid,
        "max_uses": matching.max_uses,
        "tile_size": plan.tile_size,
        "enlargement": layout.enlargement if layout.cols is None else None,
        "cols": plan.cols,
        "print_size": None if print_size is None else _print_text(print_size),
        "dpi": dpi,
        "crop": crop,
        "library": str(library),
        "target": None if isinstance(target, Image.Image) else str(Path(target).absolute()),
    }
    mosaic = Mosaic(
        assignment=assignment,
        sources=tile_sources,
        plan=plan,
        distances=match.distance.reshape(assignment.shape),
        painter=painter,
        target=target_image,
        flipped=flipped,
        turns=turns,
        skipped=skipped,
        timings=stages.seconds,
        options=made_with,
        dpi=dpi,
        progress=progress,
        optimal=match.optimal,
        improvement=match.improvement,
        cells=cells,
    )
    if output is not None:
        mosaic.save(output, manifest=manifest)
    return mosaic


def _refuse_overwriting_inputs(
    output: Path, target: str | Path | Image.Image, roots: Sequence[str | Path]
) -> None:
    """MosaicfastError if ``output`` is the target, or a file given as tiles or inside
    a tile folder: writing the mosaic there would destroy a photo of the user's."""
    if not output.exists():
        return
    inputs = [] if isinstance(target, Image.Image) else [target]
    if any(os.path.exists(p) and os.path.samefile(output, p) for p in inputs):
        what = "the target"
    else:
        what = next((f"a tile photo in {root}" for root in roots if _inside(output, root)), "")
    if what:
        raise MosaicfastError(
            f"{output}: writing the mosaic there would overwrite {what}; "
            "choose another output file, or give force to overwrite it",
            parameters=("force",),
        )


def _inside(path: Path, root: str | Path) -> bool:
    """Whether the existing file ``path`` is ``root`` or lies in the folder tree ``root``."""
    if not os.path.exists(root):
        return False
    if not os.path.isdir(root):
        return os.path.samefile(path, root)
    folder = os.path.join(os.path.realpath(root), "")
    return os.path.realpath(path).startswith(folder)


def _print_text(size: PrintSize) -> str:
    """A print size as ``WxHin``, for the manifest."""
    return f"{float(size.width):g}x{float(size.height):g}in"


def _flat(
    lib: Library,
    slots: NDArray[np.int64],
    tile_desc: NDArray[np.int16],
    space: tuple[str, int],
    matching: MatchOptions,
    threads: int | None,
) -> NDArray[np.bool_] | None:
    """Which tiles are flat, when the greedy will weigh them; from the matching's own
    descriptors when they hold the luma grid flatness is judged on."""
    greedy = matching.assign == "penalty" or matching.constrained
    if matching.flat_weight == 1 or matching.assign == "optimal" or not greedy:
        return None
    if space != ("ylab", FLAT_GRID):
        tile_desc = lib.tile_descriptors(FLAT_GRID, slots, space="ylab", threads=threads)
    return flat_tiles(tile_desc, lambda rows: lib.thumbnails(slots[rows]), lib.thumb_size)


def _cell_luminance(
    target: Image.Image, plan: GridPlan, side: int, threads: int | None
) -> NDArray[np.float32]:
    """``(cells, side, side)`` luminance of the target's cells, row-major."""
    out = np.empty((plan.cells, side, side), np.float32)
    for first, sampled in _sampled_bands(target, plan, side, threads):
        rows = len(sampled) // side
        luma = luminance(sampled).reshape(rows, side, plan.cols, side).transpose(0, 2, 1, 3)
        out[first * plan.cols : (first + rows) * plan.cols] = luma.reshape(-1, side, side)
    return out


def _sampled_bands(
    target: Image.Image, plan: GridPlan, side: int, threads: int | None
) -> Iterator[tuple[int, NDArray[np.uint8]]]:
    """The target resized to ``side`` samples per cell (area averaging, ``BOX``), a band
    of cell rows at a time: ``(first cell row, samples)``. The bands are bit for bit the
    rows of the whole resized image, which is never held: at a million cells it would
    take gigabytes."""
    pixels = np.asarray(target)
    width, height = plan.cols * side, plan.rows * side
    band = max(1, _SAMPLE_BAND_PIXELS // (width * side))
    for first in range(0, plan.rows, band):
        stop = min(plan.rows, first + band)
        rows = (first * side, stop * side)
        yield first, resize_image(pixels, (width, height), filter="box", rows=rows, threads=threads)


def _thumbnails(lib: Library, slots: NDArray[np.int64]) -> NDArray[np.uint8]:
    """Thumbnails of ``slots`` (any order), read in ascending slot order."""
    order = np.argsort(slots, kind="stable")
    thumbs = np.empty((len(slots), lib.thumb_size, lib.thumb_size, 3), np.uint8)
    thumbs[order] = lib.thumbnails(slots[order])
    return thumbs


def _tile_luminance(lib: Library, slots: NDArray[np.int64], side: int) -> LumaLoader:
    """Loader of tiles' luminance at ``side`` pixels, from their thumbnails."""

    def load(tiles: NDArray[np.int64]) -> NDArray[np.float32]:
        thumbs = _thumbnails(lib, slots[tiles])
        size = thumbs.shape[1]
        if size % side == 0:  # block means, as np.rint(mean) over each block
            return luminance(box_downsample(thumbs, size // side))
        return luminance(resize_tiles(thumbs, side))

    return load


def _library_tiles(
    lib: Library,
    slots: NDArray[np.int64],
    sources: Sequence[TileSource],
    size: int,
    on_skip: SkipHandler | None,
    threads: int | None,
) -> TileStack:
    """Tiles at the output size: resized from the stored thumbnails (one read, one
    parallel resize per call) when those are large enough, else decoded from the
    source photos on ``threads`` threads (falling back to the thumbnail of a photo
    that is gone)."""

    def from_source(tile: int) -> NDArray[np.uint8]:
        try:
            return sources[tile].load(size)
        except ImageReadError as err:
            if on_skip is not None:
                on_skip(err.path, f"{err.reason} (its thumbnail was used instead)")
            return resize_tiles(_thumbnails(lib, slots[tile : tile + 1]), size)[0]

    def stack(tiles: NDArray[np.int64]) -> NDArray[np.uint8]:
        if size <= lib.thumb_size:
            return resize_tiles(_thumbnails(lib, slots[tiles]), size, threads=threads)
        workers = threads or os.cpu_count() or 1
        return np.stack(list(ordered_map(from_source, tiles.tolist(), workers=workers)))

    return stack


def _cell_descriptors(
    target: Image.Image, plan: GridPlan, grid: int, space: str, threads: int | None
) -> NDArray[np.int16]:
    # Area averaging (BOX), not a sharpening filter: a cell must describe exactly
    # its own part of the target, without ringing from its neighbours. Enlarging
    # repeats pixels, so the descriptors come from the target itself.
    side = grid * SAMPLES_PER_BLOCK
    size = (plan.cols * side, plan.rows * side)
    enlarged = descriptors.enlarged_cell_descriptors(
        np.asarray(target), size, plan.rows, plan.cols, grid, space=space, threads=threads
    )
    if enlarged is not None:
        return enlarged
    out = np.empty((plan.cells, descriptors.descriptor_size(grid, space)), np.int16)
    for first, sampled in _sampled_bands(target, plan, side, threads):
        rows = len(sampled) // side
        out[first * plan.cols : (first + rows) * plan.cols] = descriptors.cell_descriptors(
            sampled, rows, plan.cols, grid, space=space, threads=threads
        )
    return out


def _adaptive_cells(
    target: Image.Image, plan: GridPlan, grid: int, split_levels: int, threads: int | None
) -> Cells:
    """The adaptive cells of ``plan`` (:func:`mosaicfast.plan.plan_cells`), from the
    target's luma at ``grid * 2**split_levels`` samples per cell (area averaging)."""
    side = grid << split_levels
    size = (plan.cols * side, plan.rows * side)
    sampled = resize_image(np.asarray(target), size, filter="box", threads=threads)
    return plan_cells(luminance(sampled), plan, grid, split_levels)


def _adaptive_cell_arrays(
    target: Image.Image, plan: GridPlan, cells: Cells, matching: MatchOptions, threads: int | None
) -> tuple[NDArray[np.int16], NDArray[np.float32] | None]:
    """The descriptors of ``cells`` and, for the SSIM metrics, their luminance at
    ``match_size``: each from the part of the target the cell covers, whatever its size."""
    space, grid, side = matching.descriptor, matching.descriptor_grid, matching.match_size

    def describe(samples: NDArray[np.uint8], rows: int, cols: int) -> NDArray[np.int16]:
        return descriptors.cell_descriptors(samples, rows, cols, grid, space=space, threads=threads)

    def luma(samples: NDArray[np.uint8], rows: int, cols: int) -> NDArray[np.float32]:
        patches = luminance(samples).reshape(rows, side, cols, side).transpose(0, 2, 1, 3)
        return patches.reshape(-1, side, side)

    cell_desc = _per_cell_size(target, plan, cells, grid * SAMPLES_PER_BLOCK, describe, threads)
    if matching.metric == "color":
        return cell_desc, None
    return cell_desc, _per_cell_size(target, plan, cells, side, luma, threads)


def _per_cell_size(
    target: Image.Image,
    plan: GridPlan,
    cells: Cells,
    side: int,
    compute: Callable[[NDArray[np.uint8], int, int], NDArray[Any]],
    threads: int | None,
) -> NDArray[Any]:
    """``compute(samples, rows, cols)`` of every cell size's grid, the target resized
    to ``side`` samples per cell of that size (area averaging, ``BOX``; for cells larger
    than the plan's and an odd ``side``, the means of the plan's cells' samples), taken
    at ``cells``. Only the rows of cells of that size are resized, in bands of at most
    about :data:`_SAMPLE_BAND_PIXELS` samples."""
    t = plan.tile_size
    out: NDArray[Any] | None = None
    for size in cells.sizes():
        f = size // t if size > t and side % (size // t) else 1  # samples averaged f x f
        per_plan_cell = side * f * t // size
        width, height = plan.cols * per_plan_cell, plan.rows * per_plan_cell
        cols = plan.cols * t // size
        at = np.flatnonzero(cells.size == size)
        row_of = cells.y[at] // size
        band_rows = max(1, _SAMPLE_BAND_PIXELS // (width * side * f))
        for first, last in _runs(sorted_distinct(row_of), band_rows):
            band = (first * side * f, (last + 1) * side * f)
            samples = resize_image(
                np.asarray(target), (width, height), filter="box", rows=band, threads=threads
            )[:, : cols * side * f]
            rows = last + 1 - first
            if f > 1:
                cut = samples.reshape(rows * side, f, cols * side, f, 3)
                samples = np.rint(cut.mean(axis=(1, 3))).astype(np.uint8)
            values = compute(samples, rows, cols)
            if out is None:
                out = np.empty((len(cells), *values.shape[1:]), values.dtype)
            inside = (row_of >= first) & (row_of <= last)
            picked = at[inside]
            out[picked] = values[(row_of[inside] - first) * cols + cells.x[picked] // size]
    assert out is not None
    return out


def _runs(values: NDArray[np.int64], longest: int) -> Iterator[tuple[int, int]]:
    """``(first, last)`` of each run of consecutive numbers in sorted ``values``, runs
    cut to at most ``longest`` numbers."""
    breaks = np.flatnonzero((np.diff(values) != 1) | (np.arange(1, len(values)) % longest == 0))
    starts = np.concatenate([[0], breaks + 1])
    stops = np.concatenate([breaks, [len(values) - 1]])
    yield from zip(values[starts].tolist(), values[stops].tolist(), strict=True)
