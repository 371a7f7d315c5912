"""Every option of ``build`` and ``index``, defined once: its default, its range or
choices, and its help text.

The option groups are frozen dataclasses whose fields carry an :class:`Spec`
(``field.metadata["spec"]``). From them come

- the Python API: :func:`mosaicfast.build` takes a :class:`BuildOptions` (or the same
  options as keyword arguments, put in their groups by :meth:`BuildOptions.of`);
- the command line: ``cli.py`` makes each ``--flag`` from a field (name, type,
  default, range or choices, help), so no flag is written by hand;
- the manifest: :meth:`BuildOptions.as_dict` is what a mosaic records it was made with;
- ``docs/cli.md``: ``tests/test_options.py`` holds its tables to these fields.

Every rule is checked once, when an option object is made (``__post_init__``), and
errors name parameters (``cols must be at least 1``), never flags. Adding an option
is adding one field here (``docs/architecture.md``, "Adding an option").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from ._util.fields import (
    GROUP,
    Spec,
    check_fields,
    choice,
    flag,
    integer,
    option,
    real,
    specs,
    text,
)
from .errors import MosaicfastError
from .io.output import STREAM_PIXELS
from .kernels import MAX_THREADS, check_threads, orientation
from .kernels.candidates import SHORTLIST_FACTOR
from .kernels.descriptors import DEFAULT_GRID, MAX_GRID, SPACES
from .kernels.ssim import MAX_SIDE, MIN_SIDE

__all__ = [
    "ASSIGNMENTS",
    "DEFAULT_DPI",
    "DEFAULT_TILE_SIZE",
    "METRICS",
    "ORDERS",
    "PRUNING",
    "SSIM_WINDOWS",
    "BuildOptions",
    "IndexOptions",
    "MatchOptions",
    "PlanOptions",
    "RenderOptions",
    "Spec",
    "specs",
]

METRICS = ("color", "ssim", "combined")
ASSIGNMENTS = ("best", "penalty", "optimal")
ORDERS = ("hardest", "random")
#: SSIM windows: 7 x 7 uniform (scikit-image's default) or 11 x 11 Gaussian, sigma 1.5
#: (Wang et al. 2004).
SSIM_WINDOWS = ("uniform", "gaussian")
#: Side of the Gaussian SSIM window.
GAUSSIAN_WINDOW = 11
#: Share of the cells one tile may fill by default with ``assign="penalty"`` (issue 14's
#: diversity limit).
MAX_USES_SHARE = 0.01
#: A tile whose thumbnail's Rec. 601 luma (every pixel, 0-255) has a smaller standard
#: deviation is flat: a patch of sky, wall or paper, whose repeats show no clump
#: (``docs/matching.md``, flat tiles).
FLAT_STD = 4.0
#: The luma grid that rules most tiles out before their thumbnails are read (that of
#: the default ``ylab`` descriptor).
FLAT_GRID = 8
#: Candidate search: exhaustive, or pruned by a KD-tree (see :mod:`mosaicfast.kernels.candidates`).
PRUNING = ("none", "pca", "mean")
#: Side of each tile in the output when neither ``tile_size`` nor ``print_size`` is given.
DEFAULT_TILE_SIZE = 50
#: Resolution of ``print_size`` when no ``dpi`` is given.
DEFAULT_DPI = 300


def threads(help: str) -> Any:
    """The thread count of a job (1 to :data:`MAX_THREADS`; default one per core),
    checked by the core's one rule (:func:`mosaicfast.kernels.check_threads`)."""
    return option(None, Spec(help, int, 1, MAX_THREADS, metavar="N", rule=check_threads))


@dataclass(frozen=True)
class PlanOptions:
    """The output plan: how many cells, how large, for what print."""

    tile_size: int | None = integer(
        None, f"Side of each tile in the output, in pixels (default {DEFAULT_TILE_SIZE}, "
        "or what {print_size} gives).", low=1, metavar="PX",
    )  # fmt: skip
    enlargement: float = real(
        8.0, "Output size as a multiple of the target's (the classic default).",
        low=0, open_low=True, metavar="X",
    )  # fmt: skip
    cols: int | None = integer(
        None, "Number of cells across, instead of {enlargement}; rows follow the aspect ratio.",
        low=1, metavar="N",
    )  # fmt: skip
    print_size: Any = text(  # noqa: RUF009 (a str, or a PrintSize of mosaicfast.plan)
        "Make the mosaic for a print of this size at {dpi}, e.g. 60x40cm: the tile size is "
        "ceil(print width in pixels / cells across) (cells across: {cols}, else what "
        f"{{enlargement}} gives at {DEFAULT_TILE_SIZE}-px tiles) and the rows the fewest that "
        "cover the print's height, so the mosaic prints at least this size (less than one "
        "tile more). A target of another aspect ratio is centre-cropped to the print's. "
        "Replaces {tile_size}.",
        metavar="WxH[cm|mm|in]",
    )
    dpi: float | None = real(
        None, f"Print resolution in dots per inch (default {DEFAULT_DPI} with {{print_size}}); "
        "recorded in the output file. Without {print_size} it is only recorded.",
        low=0, open_low=True, metavar="N",
    )  # fmt: skip
    max_cells: int = integer(
        1_000_000, "Refuse grids with more cells than this.", low=1, metavar="N"
    )
    #: The limit refuses absurd jobs up front: 2 gigapixels is a 3.8 x 2.5 m print at
    #: 300 dpi, streamed to a ~3-6 GB TIFF.
    max_output_pixels: int = integer(
        2_000_000_000, "Refuse outputs with more pixels than this (formats other than .tif "
        f"are further limited to {STREAM_PIXELS:,}).", low=1, metavar="N",
    )  # fmt: skip
    adaptive: bool = flag(
        "Cells of several sizes, as many tiles as the plain grid: the cells whose target "
        "has the most detail their tile cannot carry split in four (down to {split_levels} "
        "times), as many groups of four flat cells merge into one (docs/adaptive.md)."
    )
    split_levels: int = integer(
        1, "With {adaptive}: how many times a cell may split, its side halved each time "
        "(the tile size must divide by 2 to that power).", low=1, high=3, metavar="N",
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_fields(self)
        if self.print_size is not None and self.tile_size is not None:
            raise MosaicfastError(
                "the print size sets the tile size: give print_size or tile_size, not both",
                parameters=("print_size", "tile_size"),
            )


@dataclass(frozen=True)
class MatchOptions:
    """How cells are matched to tiles; see :mod:`mosaicfast.matching`."""

    descriptor: str = choice(
        "ylab", SPACES, "What tiles and cells are compared by: ylab, a g x g grid of Rec. 601 "
        "luma and a g/2 x g/2 grid of CIELAB a*b* (colour weighted 0.7); lab, a g x g grid of "
        "CIELAB colours averaged in linear light (the rule before 0.2, with {grid} 5).",
    )  # fmt: skip
    grid: int | None = integer(
        None, "Match resolution g (default " + ", ".join(
            f"{g} for {space}" for space, g in DEFAULT_GRID.items()
        ) + "; even for ylab).", low=1, high=MAX_GRID, metavar="G",
    )  # fmt: skip
    metric: str = choice(
        "combined", METRICS, "Score candidates by the descriptor distance, by windowed SSIM of the "
        "luminance, or by (1 - W) * color + W * ssim (W = {ssim_weight}).",
    )  # fmt: skip
    ssim_weight: float = real(
        0.3, "Weight of SSIM in {metric} combined.", low=0, high=1, metavar="W"
    )
    ssim_window: str = choice(
        "uniform", SSIM_WINDOWS, "SSIM window: 7x7 uniform, or 11x11 Gaussian with sigma 1.5."
    )
    match_size: int = integer(
        8, "Side of the luminance patches SSIM compares, in pixels.",
        low=MIN_SIDE, high=MAX_SIDE, metavar="PX",
    )  # fmt: skip
    candidates: int = integer(
        32, "Nearest tiles by colour among which the metric and the assignment choose.",
        low=1, metavar="K",
    )  # fmt: skip
    assign: str = choice(
        "penalty", ASSIGNMENTS, "best: each cell its best tile; penalty: each use of a tile "
        "adds {penalty} to its score for later cells; optimal: least total with each tile "
        "used at most {max_uses} times (default once): with {metric} color the least total "
        "squared colour-grid distance over every cell and tile, certified; with {metric} ssim "
        "or combined, optimal over the re-ranked candidates only ({candidates} per cell).",
    )  # fmt: skip
    penalty: float = real(
        0.0, "With {assign} penalty: score added per earlier use (scores are about 0.1-0.3).",
        low=0, metavar="P",
    )  # fmt: skip
    max_uses: int | None = integer(
        None, "Most uses of one tile (default with {assign} penalty: "
        f"{MAX_USES_SHARE:.0%} of the cells, or twice the cells per tile for a library too "
        "small for that; optimal: once; best: no limit).", low=1, metavar="N",
    )  # fmt: skip
    min_distance: int = integer(
        1, "No tile twice within this many cells (Chebyshev distance), with {assign} best or "
        "penalty; {assign} optimal limits uses with {max_uses} instead.", low=0, metavar="R",
    )  # fmt: skip
    flat_weight: int = integer(
        20, f"A flat tile (luma standard deviation of its pixels below {FLAT_STD:g} on 0-255) "
        "counts as this many tiles for {max_uses}, {penalty} and {min_distance}: "
        "skies and walls need many, and a repeated flat tile shows no clump; 1 treats flat "
        "tiles like the others.", low=1, high=10_000, metavar="W",
    )  # fmt: skip
    improve: int = integer(
        2, "Passes of local improvement after the greedy ({assign} penalty, or best with "
        "{max_uses} or {min_distance}): cells move to other candidates, swap tiles or pass "
        "them on where that lowers the total score, keeping {max_uses}, {min_distance} and "
        "{flat_weight}; 0 turns it off.", low=0, high=100, metavar="N",
    )  # fmt: skip
    order: str = choice(
        "hardest", ORDERS,
        "Order in which the greedy fills cells: worst best score first, or random by {seed}.",
    )  # fmt: skip
    flips: bool = flag(
        "Let each tile's left-right mirror image compete too (a tile and its mirror count as "
        "one tile); the manifest records the orientation.",
        default=True,
        names=("--mirror/--no-mirror", "--flips/--no-flips"),
    )
    rotate: bool = flag(
        "Let each tile turned a quarter, half and three quarters of a turn compete too "
        "(with {flips}, their mirror images as well: 8 orientations); a tile counts as one "
        "tile whatever its orientation; {candidates} then counts per quarter turn. Raises "
        "fidelity, takes 2.5-4 times as long to match, and shows photos sideways and upside "
        "down: off by default.",
    )
    prune: str = choice(
        "none", PRUNING, "Search only the KD-tree leaves nearest each cell (exact distances "
        "within them): the tree partitions a PCA projection of the colour grid, or the mean "
        "colour (the source blog's key). Several times faster on large libraries; at the "
        "default {shortlist} it gave 99.97% or more of cells the exhaustive search's best "
        "tile, on 10,000 to 190,000 photo tiles (pruning.md in mosaicfast's docs); "
        "exhaustive is exact.",
    )  # fmt: skip
    shortlist: int | None = integer(
        None, "With {prune}: tiles scanned per cell, as whole KD-tree leaves nearest first "
        f"(default {SHORTLIST_FACTOR} x the square root of the library size).",
        low=1, metavar="N",
    )  # fmt: skip
    vary: int = integer(
        1, "Pick each cell's tile at random (by {seed}) among its VARY best matches.",
        low=1, metavar="K",
    )  # fmt: skip
    seed: int = integer(
        0, "Seed of every random choice: same inputs and options, same mosaic.",
        low=0, metavar="S",
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_fields(self)
        if self.descriptor == "ylab" and self.grid is not None and self.grid % 2:
            raise MosaicfastError(
                f"the ylab descriptor needs an even grid, got {self.grid}",
                parameters=("grid", "descriptor"),
            )
        if self.ssim_window == "gaussian" and self.match_size < GAUSSIAN_WINDOW:
            raise MosaicfastError(
                f"the gaussian SSIM window is {GAUSSIAN_WINDOW} pixels wide: it needs a "
                f"match_size of at least {GAUSSIAN_WINDOW}, got {self.match_size}",
                parameters=("ssim_window", "match_size"),
            )

    @property
    def descriptor_grid(self) -> int:
        """The match resolution in force: ``grid``, or the descriptor's default."""
        return self.grid if self.grid is not None else DEFAULT_GRID[self.descriptor]

    @property
    def orientations(self) -> tuple[int, ...]:
        """The orientation codes searched, in the order of the search's blocks
        (:func:`mosaicfast.kernels.orientation.searched`)."""
        return orientation.searched(self.flips, self.rotate)

    @property
    def pruned(self) -> bool:
        """Whether the candidates are searched through a KD-tree: with ``prune``, but for
        the optimal assignment, whose certificate needs every pair."""
        return self.prune != "none" and self.assign != "optimal"

    @property
    def constrained(self) -> bool:
        """Whether uses are limited or spread (so the greedy must run)."""
        return self.max_uses is not None or self.min_distance > 0

    def candidate_count(self, tiles: int) -> int:
        """Entries searched per cell (of ``tiles`` in all): ``candidates`` (with
        ``rotate``, ``candidates`` per quarter turn, so that a cell still sees about as
        many distinct tiles), or ``vary``."""
        wanted = self.vary
        if self.metric != "color" or self.assign != "best" or self.constrained:
            per_turn = orientation.QUARTER_TURNS if self.rotate else 1
            wanted = max(wanted, self.candidates * per_turn)
        return min(wanted, tiles)


@dataclass(frozen=True)
class RenderOptions:
    """How the chosen tiles are painted."""

    blend: float = real(
        0.5, "Shift each tile's colours toward its cell's (CIELAB mean and spread) by this "
        "much.", low=0, high=1, metavar="A",
    )  # fmt: skip
    overlay: float = real(
        0.0, "Lay the target over the mosaic at this opacity (the classic tools' cheat).",
        low=0, high=1, metavar="A",
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class BuildOptions:
    """Every option of :func:`mosaicfast.build`: the plan, the matching, the rendering and
    the threads of the job. ``BuildOptions.of(cols=120, assign="optimal")`` puts keyword
    options in their groups."""

    plan: PlanOptions = field(default_factory=PlanOptions, metadata=GROUP)
    match: MatchOptions = field(default_factory=MatchOptions, metadata=GROUP)
    render: RenderOptions = field(default_factory=RenderOptions, metadata=GROUP)
    threads: int | None = threads(
        "Worker threads (default: one per core); the result does not depend on it."
    )

    def __post_init__(self) -> None:
        for name, kind in _groups().items():
            if not isinstance(getattr(self, name), kind):
                raise MosaicfastError(
                    f"{name} must be a {kind.__name__}, got {getattr(self, name)!r}",
                    parameters=(name,),
                )
        check_fields(self)

    @classmethod
    def names(cls) -> frozenset[str]:
        """Every option name :meth:`of` takes: the groups' and their fields'."""
        return frozenset(_groups()) | {item.name for item, _ in specs(cls)}

    @classmethod
    def of(cls, options: BuildOptions | None = None, /, **overrides: Any) -> BuildOptions:
        """``options`` (default: every default) with ``overrides`` applied, each put in
        its group (``cols`` in ``plan``, ``assign`` in ``match`` ...) or replacing a group
        (``match=MatchOptions(...)``); checked once.

        Raises
        ------
        TypeError
            A name that is not an option.
        MosaicfastError
            An option out of its range, or options that do not go together.
        """
        unknown = sorted(set(overrides) - cls.names())
        if unknown:
            raise TypeError(f"unknown option(s): {', '.join(unknown)}")
        options = options or cls()
        own = {item.name for item in dataclasses.fields(cls)}
        changes = {name: overrides.pop(name) for name in own & set(overrides)}
        for name, kind in _groups().items():
            mine = {
                k: overrides[k] for k in {f.name for f in dataclasses.fields(kind)} & set(overrides)
            }
            if mine:
                changes[name] = dataclasses.replace(
                    changes.get(name, getattr(options, name)), **mine
                )
        return dataclasses.replace(options, **changes)

    def as_dict(self) -> dict[str, Any]:
        """The options a mosaic is made with, flat by name (``threads`` left out: the
        result does not depend on it), as the manifest records them."""
        return {name: value for group in _groups() for name, value in
                dataclasses.asdict(getattr(self, group)).items()}  # fmt: skip


def _groups() -> dict[str, type]:
    """The groups of :class:`BuildOptions` by field name: ``plan``, ``match``, ``render``."""
    return {item.name: item.default_factory for item in dataclasses.fields(BuildOptions)
            if item.metadata.get("group")}  # type: ignore[misc]  # fmt: skip


@dataclass(frozen=True)
class IndexOptions:
    """How photos become library tiles (:func:`mosaicfast.index_library`)."""

    thumb_size: int = integer(
        64, "Side of the stored thumbnails, for a new library; tiles up to this size render "
        "from the library alone.", low=32, high=1024, metavar="PX",
    )  # fmt: skip
    near_distance: int = integer(
        4, "Set aside near duplicates: tiles whose perceptual hashes differ in at most this "
        "many bits and whose colours are within 3 CIELAB units.", low=0, high=16, metavar="BITS",
    )  # fmt: skip
    max_image_pixels: int | None = integer(
        None, "Refuse images with more pixels than this (decompression-bomb guard; default "
        f"Pillow's limit, {Image.MAX_IMAGE_PIXELS:,}).", low=1, metavar="N",
    )  # fmt: skip
    threads: int | None = threads("Decoding threads (default: one per core).")

    def __post_init__(self) -> None:
        check_fields(self)
