"""The ``mosaicfast`` command line.

Exit status: 0 done; 1 the job could not be done (a one-line ``Error: ...`` names
the file or option and the reason); 2 a usage error (unknown or out-of-range
option, missing argument, a folder where a file is expected: also one ``Error:``
line); 130 interrupted by Ctrl-C or SIGTERM (committed work is kept, no partial
file is left). Every line printed is one line: names with newlines or bytes that
are not UTF-8 are escaped.
"""

from __future__ import annotations

import atexit
import gc
import os
import re
import sys
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

# isort: split
# First of the package: sets NumPy's BLAS threads before anything loads NumPy.
from ._util import blas  # noqa: F401

# isort: split
from . import kernels
from ._util.lifetime import InterruptedAfterCommit, terminate_as_interrupt
from ._util.parallel import MAX_THREADS
from ._util.progress import Stages, say
from .api import build as build_mosaic
from .errors import ImageReadError, MosaicfastError
from .io.images import open_rgb
from .io.manifest import CellList, check_grid_fits, read_assignment, read_cells
from .io.output import STREAM_PIXELS
from .io.paths import printable
from .io.video import SpliceOptions, splice_to_folder
from .library.indexer import IndexInterruptedError, index_library
from .options import BuildOptions, IndexOptions, Spec, specs

# Imported by the commands and options that use them: a build without --stats or
# --report does not pay for their import at start-up, nor a build the library
# maintenance (`library info`, `library verify`).
if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from PIL import Image

    from .quality import Quality
    from .report import Report

__all__ = ["EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_USAGE", "main"]

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# Click 8.2 and later raise this for a command group run without a command.
_HELP_WITHOUT_ARGUMENTS: type[click.UsageError] = getattr(
    click.exceptions, "NoArgsIsHelpError", type("_Never", (click.UsageError,), {})
)


def _line(message: str, *, err: bool = True) -> None:
    """Print one line, whatever characters ``message`` holds (see :func:`printable`)."""
    say(printable(message), file=sys.stderr if err else sys.stdout)


class _Report:
    """Status lines on standard error, kept clear of progress bars."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.skipped = 0

    def say(self, message: str) -> None:
        if not self.quiet:
            _line(message)

    def skip(self, path: Path, reason: str) -> None:
        self.skipped += 1
        _line(f"warning: skipped {path}: {reason}")

    def wait(self, message: str) -> None:
        """Said even with --quiet: the command is not stuck."""
        _line(message)


class _Commands(click.Group):
    """The command group, its errors printed as one ``Error:`` line with the exit
    status of the module documentation, and SIGTERM handled as Ctrl-C."""

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> None:
        _skip_the_last_collection()
        with terminate_as_interrupt():
            try:
                status = super().main(args, prog_name, standalone_mode=False, **extra)
            except _HELP_WITHOUT_ARGUMENTS as err:  # a group run bare shows its help
                err.show()
                sys.exit(EXIT_USAGE)
            except click.UsageError as err:
                self._fail(err.format_message(), EXIT_USAGE)
            except click.ClickException as err:
                self._fail(err.format_message(), EXIT_FAILURE)
            except MosaicfastError as err:
                self._fail(_with_flags(err), EXIT_FAILURE)
            except (click.Abort, KeyboardInterrupt):
                _line("interrupted")
                sys.exit(EXIT_INTERRUPTED)
        sys.exit(status if isinstance(status, int) else 0)

    @staticmethod
    def _fail(message: str, status: int) -> None:
        _line(f"Error: {message}")
        sys.exit(status)


def _skip_the_last_collection() -> None:
    """Let the interpreter's exit skip its collection of the objects alive then.

    That collection visits every object of NumPy, Pillow, click and the package (about
    30 ms of a 0.3 s start-up and exit) to free cycles the process leaves behind anyway.
    Nothing a command writes waits on it: every output and library file is closed (and
    synced) inside the command, the standard streams are flushed at exit regardless, and
    atexit handlers and ``weakref.finalize`` callbacks still run. The freeze happens at
    exit, so a program that calls :func:`main` in-process keeps its collector.
    """
    atexit.unregister(gc.freeze)  # once, however many times main runs in a process
    atexit.register(gc.freeze)


def _with_flags(err: MosaicfastError) -> str:
    """The message of ``err`` with the parameters it names (``err.parameters``) written
    as the command line's flags: ``cols`` as ``--cols``, ``sources`` as ``--tiles``."""
    message = str(err)
    for name in err.parameters:
        flag = _flags().get(name, "--" + name.replace("_", "-"))
        message = re.sub(rf"(?<![\w/.-]){re.escape(name)}(?![\w/-])", flag, message)
    return message


@cache
def _flags() -> dict[str, str]:
    """The long flag of every option of every command, by its parameter name: the one
    place where parameter names become flags."""
    flags: dict[str, str] = {}
    groups: list[click.Group] = [main]  # type: ignore[list-item]
    while groups:
        for command in groups.pop().commands.values():
            if isinstance(command, click.Group):
                groups.append(command)
            for param in command.params:
                if isinstance(param, click.Option) and param.name is not None:
                    flags.setdefault(param.name, max(param.opts, key=len))
    return flags


def _options_of(group: type) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The ``--flags`` of every option of ``group`` (:mod:`mosaicfast.options`), each
    made from its field: name, type, default, range or choices, and help."""

    def add(function: Callable[..., None]) -> Callable[..., None]:
        for item, spec in reversed(list(specs(group))):
            flags = spec.names or ("--" + item.name.replace("_", "-"),)
            function = click.option(*flags, item.name, **_click_settings(spec, item.default))(
                function
            )
        return function

    return add


def _click_settings(spec: Spec, default: Any) -> dict[str, Any]:
    """How click declares the option ``spec`` with ``default``."""
    settings: dict[str, Any] = {"help": spec.help.format_map(_FlagOf())}
    if spec.kind is bool:
        return {**settings, "is_flag": True, "default": default, "show_default": bool(default)}
    if spec.choices:
        settings["type"] = click.Choice(spec.choices)
    elif spec.kind is int:
        settings["type"] = click.IntRange(spec.low, spec.high)  # type: ignore[arg-type]
    elif spec.kind is float:
        settings["type"] = click.FloatRange(spec.low, spec.high, min_open=spec.open_low)
    if spec.metavar is not None:
        settings["metavar"] = spec.metavar
    if default is not None:
        settings.update(default=default, show_default=True)
    return settings


class _FlagOf(dict[str, str]):
    """``{name}`` in an option's help, written as the flag: ``{max_uses}`` as ``--max-uses``."""

    def __missing__(self, name: str) -> str:
        return "--" + name.replace("_", "-")


def _search_kernel() -> str:
    """The SIMD kernel the searches run on; a bad ``MOSAICFAST_KERNEL`` is a usage error."""
    try:
        return kernels.search_kernel()
    except ValueError as err:
        raise click.UsageError(str(err)) from None


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``: the package's version, the search kernel and the core's build."""
    if not value or ctx.resilient_parsing:
        return
    kernel = _search_kernel()
    runs = ", ".join(kernels.search_kernels())
    how = f"set by {kernels.KERNEL_VAR}" if os.environ.get(kernels.KERNEL_VAR) else "the fastest"
    _line(f"mosaicfast {kernels.VERSION}", err=False)
    _line(f"search kernel: {kernel} ({how}; this CPU runs {runs})", err=False)
    _line(f"core build: {kernels.BUILD_PROFILE}", err=False)
    ctx.exit()


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version, the search kernel (the environment variable MOSAICFAST_KERNEL "
    "forces one) and the core's build profile, and exit.",
)
def main() -> None:
    """Fast, faithful photo mosaics from big photo libraries.

    Exit status: 0 done, 1 the job could not be done, 2 a usage error (bad option or
    argument), 130 interrupted (Ctrl-C or SIGTERM). Errors are one line, ``Error: ...``.
    """
    _search_kernel()


def _cluster_option(function: Callable[..., None]) -> Callable[..., None]:
    """``--cluster`` (shared by index and build)."""
    return click.option(
        "--cluster",
        metavar="ADDRESS|local[:N]",
        help="Run on a Dask cluster: a scheduler's address (tcp://host:8786), or local[:N] "
        "for N worker processes here (default one per core), started and stopped by the "
        "command. Files are read by the workers at the same paths: share the folders. "
        "Needs pip install 'mosaicfast[distributed]'. See docs/distributed.md.",
    )(function)


@main.command()
@click.argument("targets", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--tiles",
    "sources",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Folder (searched recursively) or file of tile photos; repeat for several. "
    "Indexed into a cache library, so the next build reads only new or changed files.",
)
@click.option(
    "--library",
    type=click.Path(path_type=Path, file_okay=False),
    help="A tile library made by `mosaicfast index` (instead of --tiles).",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Output image; the format follows the suffix: .png, .jpg, .tif or .webp. Mosaics "
    f"above {STREAM_PIXELS // 1_000_000} megapixels can only be written to .tif, which is "
    "streamed band by band in bounded memory. With several TARGETs or --cluster: a "
    "folder, each mosaic written to it under its target's name, as .png.",
)
@_options_of(BuildOptions)
@click.option("--stats", is_flag=True, help="Print fidelity and diversity figures at the end.")
@click.option(
    "--manifest",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write, per cell, the tile id, source and crop box (.json or .csv); the "
    "mosaic and the manifest are written together or not at all.",
)
@click.option(
    "--report",
    "report_folder",
    type=click.Path(path_type=Path, dir_okay=True, file_okay=False),
    help="Also write a deep-zoom report there: a new folder whose index.html opens from disk "
    "in a browser (zoom, tile sources, reuse map, figures; docs/report.md).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Let -o overwrite an input: the target or a tile photo (refused otherwise), and "
    "--report replace an earlier report.",
)
@_cluster_option
@click.option(
    "-q", "--quiet", is_flag=True, help="No progress bars or timings; warnings still shown."
)
def build(
    targets: tuple[Path, ...],
    sources: tuple[Path, ...],
    library: Path | None,
    output: Path,
    stats: bool,
    manifest: Path | None,
    report_folder: Path | None,
    force: bool,
    cluster: str | None,
    quiet: bool,
    **chosen: Any,
) -> None:
    """Build a mosaic of TARGET from --tiles or --library and write it to -o OUTPUT.

    Several TARGETs (or --cluster): build each from --library into the folder -o,
    in parallel on a Dask cluster with --cluster (see docs/distributed.md).
    """
    report = _Report(quiet)
    if bool(sources) == (library is not None):
        raise MosaicfastError("give either sources or library", parameters=("sources", "library"))
    if report_folder is not None:
        from .report import check_report_folder

        check_report_folder(report_folder, force=force)
    options = BuildOptions.of(**chosen)
    if report_folder is not None and options.plan.adaptive:
        raise MosaicfastError(
            "the report shows a grid of cells; an adaptive mosaic has none yet",
            parameters=("report_folder", "adaptive"),
        )
    if len(targets) > 1 or cluster is not None:
        if report_folder is not None:
            raise MosaicfastError(
                "report_folder makes a report of one target only", parameters=("report_folder",)
            )
        _build_batch(
            targets, library, output, cluster, options, quiet, sources, manifest, stats, force
        )
        return
    (target,) = targets
    if output.is_dir():
        raise click.BadParameter(f"File {str(output)!r} is a directory.", param_hint="'-o'")
    try:
        mosaic = build_mosaic(
            target,
            list(sources) or None,
            library=library,
            output=output,
            manifest=manifest,
            progress=not quiet,
            on_skip=report.skip,
            on_wait=report.wait,
            options=options,
            force=force,
        )
    except InterruptedAfterCommit:
        _line(f"interrupted: {output} was written (and its manifest, if asked)")
        sys.exit(EXIT_INTERRUPTED)
    except (KeyboardInterrupt, IndexInterruptedError):
        _line("interrupted: no mosaic was written; the tiles read so far are kept")
        sys.exit(EXIT_INTERRUPTED)
    stages = Stages(mosaic.timings)
    if report.skipped:
        _line(f"warning: {report.skipped} tile file(s) skipped")
    plan = mosaic.plan
    width, height = plan.output_size
    if mosaic.options["crop"] is not None:  # said even with --quiet: it changes the picture
        left, top, right, bottom = mosaic.options["crop"]
        _line(
            f"note: the target was centre-cropped to {right - left}x{bottom - top} px "
            f"(box {left},{top},{right},{bottom}) to match the print's aspect ratio"
        )
    report.say(
        f"wrote {output} ({width}x{height} px, {plan.cols}x{plan.rows} cells"
        + (f" of {plan.tile_size} px" if options.plan.print_size else "")
        + (f", {mosaic.dpi:g} dpi" if mosaic.dpi else "")
        + f", {len(mosaic.sources):,} tiles, {len(set(mosaic.assignment.flat)):,} distinct used)"
    )
    if manifest is not None:
        report.say(f"wrote {manifest}")
    report.say(stages.summary())
    if stats:
        # Measured on the target as matched (cropped for print) and, for mosaics too
        # large to hold in memory, on the mosaic painted again band by band.
        quality = mosaic.quality()
        for line in quality.lines():
            _line(line, err=False)
        if mosaic.optimal is not None:
            _line(mosaic.optimal.line(), err=False)
        if mosaic.improvement is not None:
            _line(mosaic.improvement.line(), err=False)
    if report_folder is not None:
        from .report import mosaic_report

        _said_report(report, mosaic_report(mosaic, report_folder, force=force, title=output.name))


def _said_report(report: _Report, result: Report) -> None:
    """The lines saying where a report is, and the one warning for missing tile files."""
    if result.missing_cells:
        _line(
            f"warning: {result.missing_cells:,} cell(s) show tiles whose files have moved or "
            f"vanished (e.g. {result.missing_example}); they are marked in the report"
        )
    report.say(
        f"wrote report {result.folder} ({result.tiles:,} image tiles, {result.seconds:.2f}s); "
        f"open {result.folder / 'index.html'}"
    )


def _build_batch(
    targets: tuple[Path, ...],
    library: Path | None,
    folder: Path,
    cluster: str | None,
    options: BuildOptions,
    quiet: bool,
    sources: tuple[Path, ...],
    manifest: Path | None,
    stats: bool,
    force: bool,
) -> None:
    """``build`` of several targets, or on a cluster: each into the folder ``folder``."""
    from .batch import build_many

    if library is None or sources:
        raise click.UsageError("several TARGETs or --cluster: give --library, not --tiles")
    if manifest is not None or stats:
        raise click.UsageError("several TARGETs or --cluster: --manifest and --stats not taken")
    if folder.exists() and not folder.is_dir():
        raise click.BadParameter(f"{str(folder)!r} is a file; give a folder.", param_hint="'-o'")
    report = _Report(quiet)
    try:
        results = build_many(
            targets, library, folder, cluster=cluster, progress=not quiet,
            on_result=lambda result: (report.say if result.status != "failed" else _line)(
                result.line()),
            options=options, force=force,
        )  # fmt: skip
    except KeyboardInterrupt:
        _line("interrupted: the mosaics written so far are kept; run again to go on")
        sys.exit(EXIT_INTERRUPTED)
    failed = sum(result.status == "failed" for result in results)
    if failed:
        raise click.ClickException(f"{failed} of {len(results)} targets failed")


@main.command()
@click.argument("sources", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--library",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The library folder; created if it does not exist.",
)
@_options_of(IndexOptions)
@click.option("--no-near-dedupe", is_flag=True, help="Keep near duplicates.")
@_options_of(SpliceOptions)
@_cluster_option
@click.option(
    "-q", "--quiet", is_flag=True, help="No progress bar or summary; warnings still shown."
)
def index(
    sources: tuple[Path, ...],
    library: Path,
    thumb_size: int,
    near_distance: int,
    no_near_dedupe: bool,
    max_image_pixels: int | None,
    threads: int | None,
    fps: float,
    crops: int,
    flat_variance: float,
    static_difference: float,
    cluster: str | None,
    quiet: bool,
) -> None:
    """Create or update the tile library --library from SOURCES (folders and files).

    Only new and changed files are read; files that disappeared from SOURCES leave
    the library. Without SOURCES, the folders indexed before are updated. Stopping
    with Ctrl-C (or a crash) loses nothing committed: run the command again to go on.
    """
    report = _Report(quiet)
    try:
        result = index_library(
            library,
            list(sources),
            thumb_size=thumb_size,
            near_distance=None if no_near_dedupe else near_distance,
            video=SpliceOptions(fps, crops, flat_variance, static_difference),
            max_image_pixels=max_image_pixels,
            workers=threads,
            progress=not quiet,
            on_skip=report.skip,
            cluster=cluster,
        )
    except IndexInterruptedError as err:
        _line(str(err))
        sys.exit(EXIT_INTERRUPTED)
    report.say(result.summary())


@main.group(name="library")
def library_group() -> None:
    """Inspect and check tile libraries."""


@library_group.command()
@click.argument("library", type=click.Path(path_type=Path, file_okay=False))
def info(library: Path) -> None:
    """Print what LIBRARY holds: sources, tiles, duplicates, size, unreadable files."""
    from .library.maintenance import library_info

    for line in library_info(library).lines():
        _line(line, err=False)


@library_group.command()
@click.argument("library", type=click.Path(path_type=Path, file_okay=False))
@click.option("--repair", is_flag=True, help="Fix what can be fixed (takes the writer's lock).")
def verify(library: Path, repair: bool) -> None:
    """Check that LIBRARY is consistent; exit status 1 if a problem remains.

    Checks the catalog (SQLite's integrity check, every row's values), the arrays'
    lengths, every thumbnail against its stored pixel hash and every descriptor
    against its thumbnail. --repair rebuilds a damaged catalog from what can be
    read, re-reads damaged thumbnails from their photos, and takes out what cannot
    be recovered so that the next `mosaicfast index` reads it again; it then
    verifies once more and says what, if anything, is still wrong.
    """
    from .library.maintenance import verify_library

    problems, notes = verify_library(library, repair=repair)
    for problem in problems:
        state = "repaired" if problem.repaired else "problem"
        _line(f"{state}: {problem.message}", err=False)
    for note in notes:
        _line(f"note: {note}", err=False)
    remaining = [p for p in problems if not p.repaired]
    if remaining:
        hint = "" if repair else " (try --repair)"
        raise click.ClickException(f"{len(remaining)} problem(s) found{hint}")
    _line(f"{library}: consistent" + (" after repair" if problems else ""), err=False)


@main.command()
@click.argument("videos", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for the tile images (created if missing).",
)
@click.option(
    "--size", type=click.IntRange(min=8), help="Side of each tile in pixels (default: as cut)."
)
@_options_of(SpliceOptions)
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary; warnings still shown.")
def splice(
    videos: tuple[Path, ...],
    output: Path,
    size: int | None,
    fps: float,
    crops: int,
    flat_variance: float,
    static_difference: float,
    quiet: bool,
) -> None:
    """Cut VIDEOS into square tile images in --output (no library needed).

    Files are named VIDEO-STEM_HHhMMmSSs[.t]_CROP.jpg after the frame's time.
    """
    report = _Report(quiet)
    options = SpliceOptions(fps, crops, flat_variance, static_difference)
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise click.ClickException(f"{output}: cannot create the folder ({err})") from None
    total = 0
    for video in videos:
        try:
            written, stats = splice_to_folder(video, output, size, options)
        except MosaicfastError as err:
            report.skip(video, str(err.reason if isinstance(err, ImageReadError) else err))
            continue
        total += written
        if stats.error:
            report.skip(video, f"{stats.error}; the tiles before it were written")
        report.say(
            f"{video}: {written:,} tiles from {stats.kept:,} frames "
            f"({stats.sampled:,} sampled, {stats.flat:,} flat and {stats.static:,} static skipped)"
        )
    report.say(f"wrote {total:,} tiles to {output}")
    if report.skipped:
        raise click.ClickException(f"{report.skipped} video(s) could not be read in full")


@main.command(name="report")
@click.argument("manifest", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The report folder to create; it opens from disk (index.html), no server needed.",
)
@click.option(
    "--mosaic",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The mosaic image (default: the output a JSON manifest records).",
)
@click.option(
    "--target",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The target photo (default: the one a JSON manifest records).",
)
@click.option("--force", is_flag=True, help="Replace an earlier report in --output.")
@click.option(
    "--threads",
    type=click.IntRange(1, MAX_THREADS),
    help="Threads encoding the image tiles (default: one per core).",
)
@click.option("-q", "--quiet", is_flag=True, help="No summary; warnings still shown.")
def report_command(
    manifest: Path,
    output: Path,
    mosaic: Path | None,
    target: Path | None,
    force: bool,
    threads: int | None,
    quiet: bool,
) -> None:
    """Write a deep-zoom report of a built mosaic from its MANIFEST into --output.

    The folder holds an image pyramid of the mosaic (Deep Zoom, 256-px JPEG tiles)
    and index.html: zoom from the whole mosaic to single tiles, the source, uses and
    match score of each tile, the target over the mosaic, a reuse heat map and the
    fidelity and diversity figures. Tiles whose files have moved are marked.
    """
    from .report import manifest_report

    result = manifest_report(
        manifest, output, mosaic=mosaic, target=target, force=force, workers=threads
    )
    _said_report(_Report(quiet), result)


@main.command(name="evaluate")
@click.argument("target", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("mosaic", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--manifest",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The mosaic's manifest (.json or .csv, from build --manifest): its grid and tiles.",
)
def evaluate_command(target: Path, mosaic: Path, manifest: Path) -> None:
    """Measure how well MOSAIC reproduces TARGET, and how varied its tiles are.

    Fidelity: SSIM of the luminance and mean CIEDE2000 colour difference between
    the target and the mosaic, both reduced to 8 px per cell. Diversity: distinct
    tiles (also per cell), the most uses of one tile, and the share of neighbouring
    cells holding the same tile.
    """
    cells = read_cells(manifest)
    image = open_rgb(mosaic)
    if cells is None:
        assignment = read_assignment(manifest)
        check_grid_fits(manifest, assignment, image.size)
        from .quality import evaluate

        quality = evaluate(open_rgb(target), image, assignment)
    else:
        quality = _evaluate_cells(manifest, open_rgb(target), image, cells)
    for line in quality.lines():
        _line(line, err=False)


def _evaluate_cells(
    manifest: Path,
    target: Image.Image,
    image: Image.Image,
    cells: tuple[CellList, NDArray[np.int64], tuple[int, int] | None],
) -> Quality:
    """The quality of an adaptive mosaic from its manifest's cells: fidelity on the
    plain grid its meta declares (8 px per cell, as for the plain mosaic)."""
    from .plan import Cells
    from .quality import evaluate

    (x, y, size), tiles, plain = cells
    spanned = (int((x + size).max()), int((y + size).max()))
    if image.size != spanned or plain is None:
        raise MosaicfastError(
            f"{manifest}: the manifest's cells do not make a {image.width}x{image.height} "
            "mosaic, or it does not name the grid they came from (a JSON manifest does)"
        )
    cell_map = Cells(x, y, size).cell_map(spanned)
    return evaluate(target, image, tiles, cell_map=cell_map, shape=plain)
