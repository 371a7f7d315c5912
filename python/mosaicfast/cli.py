"""The ``mosaicfast`` command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from . import __version__
from .api import build as build_mosaic
from .errors import MosaicfastError
from .grid import DEFAULT_MAX_CELLS, DEFAULT_MAX_OUTPUT_PIXELS
from .manifest import MANIFEST_SUFFIXES
from .output import check_image_path
from .progress import Stages

__all__ = ["main"]


class _Report:
    """Status lines on standard error, kept clear of progress bars."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.skipped = 0

    def say(self, message: str) -> None:
        if not self.quiet:
            tqdm.write(message, file=sys.stderr)

    def skip(self, path: Path, reason: str) -> None:
        self.skipped += 1
        tqdm.write(f"warning: skipped {path}: {reason}", file=sys.stderr)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mosaicfast")
def main() -> None:
    """Fast, faithful photo mosaics from big photo libraries."""


@main.command()
@click.argument("target", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--tiles",
    "tile_dirs",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="Folder (searched recursively) or file of tile photos; repeat for several.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Output image; the format follows the suffix: .png, .jpg, .tif or .webp.",
)
@click.option(
    "--tile-size",
    default=50,
    show_default=True,
    type=click.IntRange(min=1),
    help="Side of each tile in the output, in pixels.",
)
@click.option(
    "--enlargement",
    default=8.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Output size as a multiple of the target's (the classic default).",
)
@click.option(
    "--cols",
    type=click.IntRange(min=1),
    help="Number of cells across, instead of --enlargement; rows follow the aspect ratio.",
)
@click.option(
    "--grid",
    "grid",
    default=5,
    show_default=True,
    type=click.IntRange(1, 16),
    help="Match resolution g: tiles and cells are compared as g x g grids of mean "
    "colours in CIELAB (averaged in linear light).",
)
@click.option(
    "--vary",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Pick each cell's tile at random (by --seed) among its VARY best matches.",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Seed of every random choice: same inputs and options, same mosaic.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="Worker threads (default: one per core); the result does not depend on it.",
)
@click.option(
    "--manifest",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write, per cell, the tile id, source and crop box (.json or .csv).",
)
@click.option(
    "--max-cells",
    default=DEFAULT_MAX_CELLS,
    show_default=True,
    type=click.IntRange(min=1),
    help="Refuse grids with more cells than this.",
)
@click.option(
    "--max-output-pixels",
    default=DEFAULT_MAX_OUTPUT_PIXELS,
    show_default=True,
    type=click.IntRange(min=1),
    help="Refuse outputs with more pixels than this.",
)
@click.option(
    "-q", "--quiet", is_flag=True, help="No progress bars or timings; warnings still shown."
)
def build(
    target: Path,
    tile_dirs: tuple[Path, ...],
    output: Path,
    tile_size: int,
    enlargement: float,
    cols: int | None,
    grid: int,
    vary: int,
    seed: int,
    threads: int | None,
    manifest: Path | None,
    max_cells: int,
    max_output_pixels: int,
    quiet: bool,
) -> None:
    """Build a mosaic of TARGET from the photos given by --tiles and write it to -o OUTPUT."""
    report = _Report(quiet)
    try:
        check_image_path(output)
        if manifest is not None and manifest.suffix.lower() not in MANIFEST_SUFFIXES:
            raise MosaicfastError(f"{manifest}: a manifest must end in .json or .csv")
        mosaic = build_mosaic(
            target,
            list(tile_dirs),
            tile_size=tile_size,
            enlargement=enlargement,
            cols=cols,
            grid=grid,
            vary=vary,
            seed=seed,
            threads=threads,
            max_cells=max_cells,
            max_output_pixels=max_output_pixels,
            progress=not quiet,
            on_skip=report.skip,
        )
        stages = Stages(mosaic.timings)
        with stages("write"):
            mosaic.save(output)
            if manifest is not None:
                mosaic.write_manifest(manifest)
    except MosaicfastError as err:
        raise click.ClickException(str(err)) from None
    except KeyboardInterrupt:
        click.echo("interrupted: nothing was written", err=True)
        sys.exit(130)
    if report.skipped:
        tqdm.write(f"warning: {report.skipped} tile file(s) skipped", file=sys.stderr)
    plan = mosaic.plan
    width, height = plan.output_size
    report.say(
        f"wrote {output} ({width}x{height} px, {plan.cols}x{plan.rows} cells, "
        f"{len(mosaic.tiles):,} tiles, {len(set(mosaic.assignment.flat)):,} distinct used)"
    )
    if manifest is not None:
        report.say(f"wrote {manifest}")
    report.say(stages.summary())
