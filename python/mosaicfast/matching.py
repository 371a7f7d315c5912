"""Choosing a tile for every cell: candidates, their scores, and the assignment modes.

1. **Candidates**: the exhaustive exact search of the Rust core gives every cell its
   ``candidates`` nearest tiles by the descriptor (``descriptor``: ``ylab``, a luma
   grid and an a*b* grid at half its resolution, colour weighted 0.7; or ``lab``, a
   CIELAB colour grid; ``docs/descriptors.md``) (with ``flips``, mirrored tiles
   compete too, with ``rotate`` tiles turned by quarter turns; a tile counts as one
   tile whatever its orientation). With ``prune``, a
   KD-tree on a PCA projection (or on the mean colour, the source blog's method)
   picks the leaves of tiles nearest each cell and only those get exact distances
   (see ``docs/pruning.md``: several times faster on large libraries, recall@1
   about 0.99; the exhaustive default is exact).
2. **Scores** (lower is better, normalised so that the options below mean the same
   whatever the metric):

   * ``color``: the RMS difference per grid block divided by :data:`COLOUR_SCALE`
     (25 units, a clearly different colour, scores 1): of CIELAB with ``lab``, of
     luma (0-100) and 0.7 times a*b* with ``ylab``;
   * ``ssim``: ``(1 - SSIM) / 2`` of the luminance patches at ``match_size``
     pixels (0 for identical structure, 1 for inverted), with a 7 x 7 uniform or an
     11 x 11 Gaussian window (``ssim_window``);
   * ``combined``: ``(1 - w) * color + w * ssim`` with ``w = ssim_weight``.

3. **Assignment**:

   * ``best``: each cell its best candidate (``vary > 1``: a seeded random pick
     among its ``vary`` best);
   * ``penalty``: the penalised greedy of the source blog: cells in a fixed order
     (``hardest`` first: worst best score first; or ``random`` by the seed) each
     take the candidate minimising ``score + penalty * uses``;
   * ``optimal``: the minimum total with every tile used at most ``max_uses`` times
     (default once). With the ``color`` metric it is the least total squared
     colour-grid distance over **every** cell and tile, certified over all pairs
     (:func:`mosaicfast.kernels.assign.certified_optimum`; the search is exhaustive whatever
     ``prune`` says). SSIM scores cannot be priced by the search kernel, so with
     ``ssim`` and ``combined`` it is the least total score over *re-ranked
     candidates only*: each cell's ``candidates`` tiles of least reduced colour cost
     under the certified colour optimum's duals (which always admit an assignment),
     scored, quantised to ``1e-6`` and solved exactly on that graph.

   ``max_uses`` and ``min_distance`` (no tile twice within that Chebyshev distance)
   constrain ``best`` and ``penalty`` too (through the greedy); ``optimal`` takes
   ``max_uses`` as its capacity and does not look at ``min_distance``. In the
   greedy, a **flat** tile (:func:`flat_tiles`: the Rec. 601 luma of its thumbnail's
   pixels varies by a standard deviation below :data:`FLAT_STD` on 0-255) counts as
   ``flat_weight`` tiles: ``flat_weight`` times the max uses, ``penalty /
   flat_weight`` per use, and up to ``flat_weight - 1`` repeats within the min
   distance; a repeated flat tile shows no clump (``docs/matching.md``). Cells whose
   candidates are all ruled out get more candidates, automatically.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._util.arrays import sorted_distinct
from ._util.progress import SolverBar
from .errors import MosaicfastError
from .kernels import assign, descriptors, orientation, release_free_memory
from .kernels.candidates import DEFAULT_LEAF_SIZE, CandidateIndex, default_shortlist
from .kernels.ssim import candidate_ssim
from .options import (
    ASSIGNMENTS,
    FLAT_GRID,
    FLAT_STD,
    MAX_USES_SHARE,
    METRICS,
    ORDERS,
    PRUNING,
    SSIM_WINDOWS,
    MatchOptions,
)

__all__ = [
    "ASSIGNMENTS",
    "COLOUR_SCALE",
    "FLAT_GRID",
    "FLAT_STD",
    "METRICS",
    "ORDERS",
    "PRUNING",
    "SCORE_UNIT",
    "SSIM_WINDOWS",
    "Match",
    "MatchOptions",
    "OptimalReport",
    "check_matching_memory",
    "default_max_uses",
    "flat_tiles",
    "match_cells",
]

#: RMS CIELAB difference per block that the colour score counts as 1.
COLOUR_SCALE = 25.0
#: Scores are solved exactly by ``assign="optimal"`` in whole multiples of this.
SCORE_UNIT = 1e-6
#: Status of an ``optimal`` result with the ``ssim`` or ``combined`` metric.
RERANKED = "optimal over the re-ranked candidates (certified on them)"

#: Candidates scored at a time (cells x candidates per cell), or with ``prune`` KD-tree
#: leaves probed at a time when a cell probes more leaves than it has candidates: the
#: search's and the scoring's temporaries stay near a few hundred MB whatever the number
#: of cells.
CANDIDATES_PER_CHUNK = 1 << 21
#: Memory a candidate takes in the result: tile (8 bytes), orientation (1), score (8) and
#: colour distance (8).
BYTES_PER_CANDIDATE = 25
#: Memory a searched descriptor value takes: the ``int16`` array of every orientation and
#: the core's copy packed for its kernels.
SEARCH_BYTES_PER_VALUE = 4
#: Memory ``prune`` adds per searched descriptor value: the index's ``int16`` copy of
#: the descriptors in leaf order (2 bytes a value) and, per entry, its projected
#: coordinates, their copy in leaf order and the tree (the projection converts a block of
#: rows at a time). Peak RSS of fresh processes on random descriptors rose by 2.6 and 2.8
#: bytes a value (246 and 212 an entry) beside the 4 above (``benches/prune_memory.py``:
#: 100,000 to 800,000 entries, 96 and 75 values).
PRUNE_BYTES_PER_VALUE = 3
#: Memory ``prune`` adds per KD-tree leaf that a cell of a chunk probes (the leaves it
#: scans: its shortlist over the leaves' size): the core's rows of nearest leaves, their
#: padded copy and its list of them. Peak RSS rose by 1.5 kB a cell more than
#: exhaustively at 57 leaves a cell (``benches/prune_memory.py --best``: 100,000 entries,
#: 100,000 and 400,000 cells of one candidate).
PRUNE_BYTES_PER_PROBE = 26

LumaLoader = Callable[[NDArray[np.int64]], NDArray[np.float32]]
"""``load(tiles)`` gives the ``(len(tiles), s, s)`` luminance patches of those tiles."""

#: Bytes of tiles' luminance patches one matching keeps, so that a tile's patch is read
#: once (the wider candidates of stuck cells, later chunks, list tiles already scored).
LUMA_MEMORY = 1 << 26
#: The optimal assignment reads every tile's patch during its colour solve only for
#: libraries of at most this many tiles per cell: a larger one's candidates use a
#: small part of it (6,144 cells x 190,000 tiles: every patch fits in LUMA_MEMORY,
#: but reading them all is 190,000 thumbnails).
LUMA_PREFETCH_TILES_PER_CELL = 2


@dataclass(frozen=True)
class Match:
    """The tile chosen for every cell (row-major) and how well it fits.

    Attributes
    ----------
    tile_indices : numpy.ndarray
        ``(m,)`` tile index per cell (a row of the tile descriptors matched).
    flipped : numpy.ndarray
        ``(m,)`` whether the tile is used mirrored.
    turns : numpy.ndarray
        ``(m,)`` quarter turns counter-clockwise of the tile, after the mirror
        (:mod:`~mosaicfast.kernels.orientation`).
    score : numpy.ndarray
        ``(m,)`` score of the chosen tile (see the module documentation).
    distance : numpy.ndarray
        ``(m,)`` exact squared colour-grid distance of the chosen tile.
    optimal : OptimalReport, optional
        With ``assign="optimal"``: what the result is optimal for, and its proof.
    improvement : mosaicfast.kernels.assign.Improvement, optional
        With ``improve``: how much the local improvement lowered the greedy's total.
    """

    tile_indices: NDArray[np.int64]
    flipped: NDArray[np.bool_]
    turns: NDArray[np.uint8]
    score: NDArray[np.float64]
    distance: NDArray[np.int64]
    optimal: OptimalReport | None = None
    improvement: assign.Improvement | None = None

    @classmethod
    def of(
        cls,
        found: _Candidates,
        chosen: NDArray[np.intp],
        optimal: OptimalReport | None = None,
        improvement: assign.Improvement | None = None,
    ) -> Match:
        """The candidates in columns ``chosen`` (one per row) of ``found``."""
        rows = np.arange(len(found.tiles))
        flipped, turns = orientation.split(found.orientation[rows, chosen])
        return cls(
            found.tiles[rows, chosen], flipped, turns, found.score[rows, chosen],
            found.distance[rows, chosen], optimal, improvement,
        )  # fmt: skip


@dataclass(frozen=True)
class OptimalReport:
    """What an ``optimal`` assignment is optimal for, and the certificate's figures.

    Attributes
    ----------
    status : str
        ``"optimal (certified)"`` (colour metric: over every cell and tile) or
        ``"optimal over the re-ranked candidates (certified on them)"``.
    objective : str
        The total minimised, in words.
    total_cost : int
        That total, in the objective's integer units.
    gap : int
        ``total_cost`` minus the duals' lower bound: 0.
    candidates : int, optional
        Candidates per cell the re-ranked solve chose among.
    solver : dict
        What the colour solver did (phases, bids, exhaustive passes, pairs the
        certificate added).
    """

    status: str
    objective: str
    total_cost: int
    gap: int
    candidates: int | None = None
    solver: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        """One line for ``build --stats``."""
        total = f"total {self.objective} {self.total_cost:,}"
        return f"assignment: {self.status}, {total}, gap {self.gap}"

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-able values (for the manifest)."""
        return dataclasses.asdict(self)


@dataclass
class _Candidates:
    """Per cell: candidate tiles (``-1`` pads), orientation (a code of
    :mod:`~mosaicfast.kernels.orientation`), score, colour distance."""

    tiles: NDArray[np.int64]
    orientation: NDArray[np.uint8]
    score: NDArray[np.float64]
    distance: NDArray[np.int64]


def match_cells(
    cell_desc: NDArray[np.int16],
    tile_desc: NDArray[np.int16],
    shape: tuple[int, int],
    options: MatchOptions,
    *,
    cell_luma: NDArray[np.float32] | None = None,
    tile_luma: LumaLoader | None = None,
    flat: NDArray[np.bool_] | None = None,
    threads: int | None = None,
    progress: bool = False,
    neighbours: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None,
) -> Match:
    """Choose a tile for every cell.

    Parameters
    ----------
    cell_desc, tile_desc : numpy.ndarray
        Colour-grid descriptors of the ``rows * cols`` cells (row-major) and the tiles.
    shape : tuple of int
        ``(rows, cols)`` of the cells.
    options : MatchOptions
        Metric, candidates and assignment mode.
    cell_luma : numpy.ndarray, optional
        ``(m, s, s)`` luminance of the cells at ``options.match_size``; needed by the
        ``ssim`` and ``combined`` metrics, as is ``tile_luma``.
    tile_luma : callable, optional
        Gives the luminance patches of tiles by index.
    flat : numpy.ndarray, optional
        ``(n,)`` which tiles are flat (:func:`flat_tiles`); the greedy counts each as
        ``options.flat_weight`` tiles. None: no tile is.
    threads : int, optional
        Worker threads of the core; the result does not depend on it.
    progress : bool, default False
        Show a progress bar for the optimal assignment's solve.
    neighbours : tuple of numpy.ndarray, optional
        ``(offsets, cells)``: the cells within ``options.min_distance`` of each cell
        (:func:`~mosaicfast.kernels.assign.nearby_squares`), for cells not on one grid;
        ``shape`` is then ``(1, m)``.
    """
    n = len(tile_desc)
    capacity = options.max_uses or 1
    if options.assign == "optimal" and len(cell_desc) > n * capacity:
        raise MosaicfastError(
            f"the library has {n:,} tiles: too few to fill {len(cell_desc):,} cells using each "
            f"at most {capacity} time(s); allow more uses (max_uses) or use more tiles",
            parameters=("max_uses",),
        )
    space = _Space(tile_desc, options, threads)
    weights = None
    if flat is not None and options.flat_weight > 1:
        weights = np.where(flat, options.flat_weight, 1).astype(np.uint32)
    if tile_luma is not None:
        tile_luma = _RememberedLuma(tile_luma, n, options.match_size)
    matcher = _Matcher(cell_desc, space, n, options, cell_luma, tile_luma, weights, neighbours)
    k = options.candidate_count(matcher.space.size)
    if options.assign == "optimal":
        return matcher.optimal(k, progress)
    found = matcher.candidates(k)
    improvement = None
    if options.assign == "penalty" or options.constrained:
        found, tiles_chosen = matcher.greedy(found, k, shape)
        if options.improve:
            release_free_memory()
            tiles_chosen, improvement = matcher.improve(found, tiles_chosen, shape)
        chosen = _columns(found, tiles_chosen)
    else:
        chosen = _best(found, options)
    return Match.of(found, chosen, improvement=improvement)


class _Space:
    """What the candidates are searched in: the tiles in every orientation of
    ``options.orientations``, one block of ``n`` entries each (with ``flips`` alone: the
    tiles, then their mirror images, ``n + i``); exhaustively or through a KD-tree.

    Mirroring or turning a descriptor mirrors or turns its grids: that is the
    descriptor of the tile so laid up to the pixel rounding of the block edges.
    """

    def __init__(self, tiles: NDArray[np.int16], options: MatchOptions, threads: int | None):
        #: The orientation code of each block of entries.
        self.codes = np.array(options.orientations, np.uint8)
        if len(self.codes) > 1:
            space = options.descriptor
            grid = descriptors.grid_of(tiles.shape[1], space)
            n = len(tiles)
            laid = np.empty((len(self.codes) * n, tiles.shape[1]), tiles.dtype)
            for b, code in enumerate(self.codes):
                laid[b * n : (b + 1) * n] = descriptors.oriented(tiles, grid, space, int(code))
            tiles = laid
        self.tiles = tiles
        self.size = len(tiles)
        self.threads = threads
        self.shortlist = options.shortlist
        self.index = (
            None
            if not options.pruned
            else CandidateIndex(
                tiles,
                method="pca" if options.prune == "pca" else "mean",
                space=options.descriptor,
                threads=threads,
            )
        )

    def search(
        self, cells: NDArray[np.int16], k: int, offsets: NDArray[np.int64] | None = None
    ) -> tuple[NDArray, NDArray]:
        """The ``k`` best entries of every cell: by distance, or exhaustively by
        ``distance + offsets[entry]``; the distances either way."""
        if offsets is not None:
            index, value = descriptors.search_topk(
                cells, self.tiles, k, offsets=offsets, threads=self.threads
            )
            return index, value - offsets[index]
        if self.index is None:
            return descriptors.search_topk(cells, self.tiles, k, threads=self.threads)
        shortlist = None if self.shortlist is None else max(self.shortlist, k)
        return self.index.query(cells, k, shortlist=shortlist)


@dataclass
class _Matcher:
    """The cells, the search space and the scoring of one matching, for the steps that
    search candidates (and search again, wider, when a cell runs out of them)."""

    cells: NDArray[np.int16]
    space: _Space
    n: int
    options: MatchOptions
    cell_luma: NDArray[np.float32] | None
    tile_luma: _RememberedLuma | None
    weights: NDArray[np.uint32] | None = None
    neighbours: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None

    def candidates(self, k: int, rows: NDArray[np.intp] | None = None) -> _Candidates:
        """The ``k`` nearest entries of the search space for ``cells[rows]`` (default
        all), scored, sorted by score, a tile and its mirror kept once (the better).

        Worked out :data:`CANDIDATES_PER_CHUNK` candidates (or probed leaves) at a time,
        so the search's and the scoring's temporaries stay bounded whatever the number
        of cells: the memory per cell is that of the result (:data:`BYTES_PER_CANDIDATE`
        a candidate).
        """
        picked = np.arange(len(self.cells)) if rows is None else rows
        step = _cells_per_chunk(k, self.space.size, self.options)
        out: _Candidates | None = None
        for start in range(0, max(len(picked), 1), step):
            part = self._chunk(k, picked[start : start + step])
            if out is None:
                out = _Candidates(
                    *(_like(getattr(part, f.name), len(picked)) for f in fields(_Candidates))
                )
            for f in fields(_Candidates):
                getattr(out, f.name)[start : start + step] = getattr(part, f.name)
            # The chunk's temporaries were freed into the workers' arenas (glibc),
            # where this thread's allocations cannot use them: give them back.
            del part
            release_free_memory()
        assert out is not None
        return out

    def _chunk(self, k: int, rows: NDArray[np.intp]) -> _Candidates:
        return self.scored(*self.space.search(self.cells[rows], k), rows)

    def scored(
        self, index: NDArray[np.int64], distance: NDArray[np.int64], rows: NDArray[np.intp]
    ) -> _Candidates:
        """Candidate entries ``index`` at ``distance`` of ``cells[rows]``, scored, sorted
        by score, a tile and its mirror kept once (the better)."""
        n, options = self.n, self.options
        score = _colour_score(distance, self.cells.shape[1], options.descriptor)
        if options.metric != "color":
            luma = None if self.cell_luma is None else self.cell_luma[rows]
            ssim_score = _ssim_score(
                index, n, luma, self.tile_luma, options, self.space.codes, self.space.threads
            )
            w = 1.0 if options.metric == "ssim" else options.ssim_weight
            score = (1.0 - w) * score + w * ssim_score
        codes = self.space.codes
        tiles, block, score, distance = assign.rank_candidates(
            index, score, distance, n, orientations=len(codes), threads=self.space.threads
        )
        return _Candidates(tiles, codes[block], score, distance)

    def greedy(
        self, found: _Candidates, k: int, shape: tuple[int, int]
    ) -> tuple[_Candidates, NDArray[np.int64]]:
        """Penalised greedy; cells left without an allowed candidate get wider candidates."""
        options, m = self.options, len(self.cells)
        if options.order == "hardest":
            order = assign.hardest_first(np.where(found.tiles >= 0, found.score, -np.inf))
        else:
            order = np.random.default_rng(options.seed).permutation(m)
        chosen = np.full(m, -1, np.int64)
        visit = order
        while True:
            chosen, _ = assign.penalised_greedy(
                found.tiles, found.score, visit, self.n, fixed=chosen, **self.rules(shape)
            )
            free = np.flatnonzero(chosen < 0)
            if not free.size:
                return found, chosen
            k = _wider(k, self.space.size, free.size, "max uses or min distance")
            found = _replace_rows(found, free, self.candidates(k, free))
            visit = order[np.isin(order, free)]

    def rules(self, shape: tuple[int, int]) -> dict[str, Any]:
        """The greedy's objective and rules, which the local improvement keeps."""
        options = self.options
        return {
            "penalty": options.penalty if options.assign == "penalty" else 0.0,
            "max_uses": options.max_uses,
            "min_distance": 0 if self.neighbours is not None else options.min_distance,
            "shape": shape,
            "weights": self.weights,
            "neighbours": self.neighbours,
        }

    def improve(
        self, found: _Candidates, chosen: NDArray[np.int64], shape: tuple[int, int]
    ) -> tuple[NDArray[np.int64], assign.Improvement]:
        """The greedy's assignment improved by local steps that keep its rules."""
        return assign.improve_assignment(
            found.tiles, found.score, chosen, self.n, max_passes=self.options.improve,
            threads=self.space.threads, **self.rules(shape),
        )  # fmt: skip

    def optimal(self, k: int, progress: bool) -> Match:
        """The least total, each tile at most ``max_uses`` times: certified over every
        pair for the colour metric, exact over re-ranked candidates for the others."""
        options, dim = self.options, self.cells.shape[1]
        capacity = options.max_uses or 1
        if self.tile_luma is not None:
            self.tile_luma.prefetch(len(self.cells))
        with SolverBar(progress) as bar:
            colour = assign.certified_optimum(
                self.cells, self.space.tiles, capacity=capacity,
                orientations=len(options.orientations), progress=bar.update,
                threads=self.space.threads,
            )  # fmt: skip
        if options.metric == "color":
            report = OptimalReport(
                colour.status, "squared colour-grid distance", colour.total_cost, colour.gap,
                solver=colour.stats,
            )  # fmt: skip
            score = _colour_score(colour.costs, dim, options.descriptor)
            codes = np.asarray(options.orientations, np.uint8)[colour.orientation]
            flipped, turns = orientation.split(codes)
            return Match(colour.assignment, flipped, turns, score, colour.costs, report)
        found = self.reranked(colour, k)
        scores = np.rint(np.where(found.tiles >= 0, found.score, 0.0) / SCORE_UNIT)
        result = assign.optimal_assignment(found.tiles, scores, self.n, capacity=capacity)
        dual = result.cell_duals.sum() + capacity * result.tile_duals.sum()
        report = OptimalReport(
            RERANKED, f"{options.metric} score (units of {SCORE_UNIT:g})",
            int(result.total_cost), round(result.total_cost - dual), found.tiles.shape[1],
            colour.stats,
        )  # fmt: skip
        return Match.of(found, _columns(found, result.assignment), optimal=report)

    def reranked(self, colour: assign.CertifiedAssignment, k: int) -> _Candidates:
        """Each cell's ``k`` entries of least reduced colour cost ``c_ij - v_j`` under the
        certified colour duals, its colour-optimal tile always among them (so the
        lists admit an assignment within the use limit), scored by the metric."""
        n = self.n
        offsets = np.tile(-colour.tile_duals, self.space.size // n)
        index, distance = self.space.search(self.cells, k, offsets)
        entry = colour.assignment + n * colour.orientation.astype(np.int64)
        missing = ~(index % n == colour.assignment[:, None]).any(axis=1)
        index[missing, -1] = entry[missing]
        distance[missing, -1] = colour.costs[missing]
        return self.scored(index, distance, np.arange(len(self.cells)))


class _RememberedLuma:
    """A :data:`LumaLoader` that loads each tile's patch once and keeps it, up to
    :data:`LUMA_MEMORY` bytes (past that it loads what is asked, as ``load`` does)."""

    def __init__(self, load: LumaLoader, n: int, side: int):
        self.load = load
        self.slot = np.full(n, -1, np.int64)
        self.patches: NDArray[np.float32] | None = None
        self.full = False
        self.every = n * side * side * np.dtype(np.float32).itemsize <= LUMA_MEMORY
        self.pending: Future[NDArray[np.float32]] | None = None

    def prefetch(self, cells: int) -> None:
        """Starts loading every tile's patch on another thread when they all fit in
        :data:`LUMA_MEMORY`, the library has at most :data:`LUMA_PREFETCH_TILES_PER_CELL`
        tiles per cell of the ``cells`` and none is loaded yet: the optimal assignment's
        colour solve releases the GIL and bids on one core, so the reads and the
        reduction (0.1-0.4 s on the demo) overlap it. The next call waits for them (and
        raises what they raised)."""
        n = len(self.slot)
        if not self.every or n > LUMA_PREFETCH_TILES_PER_CELL * cells:
            return
        if self.pending is not None or self.patches is not None:
            return
        pool = ThreadPoolExecutor(1, thread_name_prefix="mosaicfast-luma")
        self.pending = pool.submit(self.load, np.arange(len(self.slot)))
        pool.shutdown(wait=False)

    def __call__(self, tiles: NDArray[np.int64]) -> NDArray[np.float32]:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            self.patches = pending.result()
            self.slot = np.arange(len(self.slot))
        if self.full:
            return self.load(tiles)
        missing = sorted_distinct(tiles[self.slot[tiles] < 0])
        if missing.size:
            loaded = self.load(missing)
            kept = self.patches
            if kept is not None:
                loaded = np.concatenate([kept, loaded])
            self.slot[missing] = np.arange(len(loaded) - len(missing), len(loaded))
            self.full = loaded.nbytes > LUMA_MEMORY
            self.patches = None if self.full else loaded
            return loaded[self.slot[tiles]]
        assert self.patches is not None
        return self.patches[self.slot[tiles]]


def default_max_uses(cells: int, tiles: int) -> int:
    """Most uses of one tile when none is given: :data:`MAX_USES_SHARE` of the cells,
    or twice the cells per tile when the library is too small for that."""
    return max(1, round(MAX_USES_SHARE * cells), -(-2 * cells // max(tiles, 1)))


#: The most rounding moves the standard deviation of a tile's stored luma grid: half a
#: quarter unit of 0-100 on each value, 0.319 on 0-255, and a little for float32.
_GRID_ROUNDING = 0.33
#: Thumbnails read at a time by :func:`flat_tiles`.
_FLAT_CHUNK = 4096


def _grid_bound(side: int) -> float:
    """The standard deviation of the luma grid below which a square thumbnail of ``side``
    pixels may still be flat. The grid's blocks are ``side // FLAT_GRID`` pixels a side or
    one more, and by the law of total variance (blocks weighted by their areas) the block
    means of any image vary by at most ``sqrt(largest area / smallest area)`` times its
    pixels, that is ``ceil(side / FLAT_GRID) / (side // FLAT_GRID)`` times (1 when the
    grid divides the side); then the grid's rounding."""
    if side < FLAT_GRID:
        raise ValueError(f"thumbnails of {side} pixels are smaller than the {FLAT_GRID}-block grid")
    return FLAT_STD * -(-side // FLAT_GRID) / (side // FLAT_GRID) + _GRID_ROUNDING


def flat_tiles(
    luma_grid: NDArray[np.int16],
    thumbnails: Callable[[NDArray[np.int64]], NDArray[np.uint8]],
    side: int,
) -> NDArray[np.bool_]:
    """Which tiles are flat: the Rec. 601 luma of their thumbnail's pixels, on 0-255, has
    a standard deviation below :data:`FLAT_STD`. Fine texture counts (gravel, brick
    joints, print), which block means would smooth away.

    ``luma_grid`` holds the tiles' ``ylab`` descriptors at :data:`FLAT_GRID` (whose first
    ``FLAT_GRID**2`` values are luma block means in quarter units of 0-100);
    ``thumbnails(rows)`` gives the thumbnails, ``side`` pixels square, of the tiles at
    those rows. Block means vary no more than the pixels they average (the pixels'
    variance is the block means' plus the mean variance within blocks), so only the
    tiles whose grid varies by less than :func:`_grid_bound` have their thumbnails read:
    a few in a hundred of a library of photos, and never a flat tile left unread."""
    grid = luma_grid[:, : FLAT_GRID * FLAT_GRID].astype(np.float32) * np.float32(255 / 400)
    maybe = np.flatnonzero(grid.std(axis=1) < _grid_bound(side))
    flat = np.zeros(len(luma_grid), np.bool_)
    for start in range(0, len(maybe), _FLAT_CHUNK):
        rows = maybe[start : start + _FLAT_CHUNK]
        flat[rows] = descriptors.luma_spread(thumbnails(rows)) < FLAT_STD
    return flat


def _like(values: NDArray, rows: int) -> NDArray:
    """An uninitialised array of ``rows`` rows shaped and typed like those of ``values``."""
    return np.empty((rows, *values.shape[1:]), values.dtype)


def check_matching_memory(cells: int, tiles: int, options: MatchOptions) -> None:
    """Refuse up front a matching of ``cells`` cells to ``tiles`` tiles whose candidate
    lists, searched descriptors and (with ``prune``) KD-tree would take more than half of
    this machine's memory, with the figure (MosaicfastError)."""
    entries = tiles * len(options.orientations)
    k = options.candidate_count(entries)
    per_cell = k * BYTES_PER_CANDIDATE
    if options.metric != "color":
        per_cell += options.match_size**2 * 4  # the cells' luminance patches, float32
    lists = cells * per_cell
    # The descriptors searched, in every orientation (int16), and the core's packed copy.
    dim = descriptors.descriptor_size(options.descriptor_grid, options.descriptor)
    space = entries * dim * SEARCH_BYTES_PER_VALUE
    tree = _pruning_memory(cells, entries, dim, k, options) if options.pruned else 0
    need = lists + space + tree
    total = _physical_memory()
    if total is None or need <= total // 2:
        return
    names: tuple[str, ...]
    if tree >= max(lists, space):
        remedy, names = "search exhaustively (prune none) or use fewer tiles", ("prune",)
    elif lists >= space:
        remedy, names = "use fewer candidates (candidates) or fewer cells", ("candidates",)
    elif options.rotate:
        remedy, names = "turn quarter turns off (rotate) or use fewer tiles", ("rotate",)
    else:
        remedy, names = "use fewer tiles", ()
    raise MosaicfastError(
        f"matching {cells:,} cells with {k:,} candidates each against {entries:,} tile "
        f"orientations needs about {_size(need)}, more than half of this machine's "
        f"{_size(total)}; {remedy}",
        parameters=names,
    )


def _pruning_memory(cells: int, entries: int, dim: int, k: int, options: MatchOptions) -> int:
    """Bytes the KD-tree of ``prune`` adds: its construction's use of the ``entries``
    descriptors of ``dim`` values, and the leaves each cell of a chunk probes."""
    chunk = min(cells, _cells_per_chunk(k, entries, options))
    probes = _probed_leaves(k, entries, options)
    return entries * dim * PRUNE_BYTES_PER_VALUE + chunk * probes * PRUNE_BYTES_PER_PROBE


def _probed_leaves(k: int, entries: int, options: MatchOptions) -> int:
    """Most KD-tree leaves a cell probes for ``k`` candidates among ``entries`` with
    ``prune`` (0 without): its shortlist over half of
    :data:`~mosaicfast.kernels.candidates.DEFAULT_LEAF_SIZE`, the fewest tiles of a leaf."""
    if not options.pruned:
        return 0
    wanted = options.shortlist if options.shortlist is not None else default_shortlist(entries)
    return -(-min(entries, max(k, wanted)) // (DEFAULT_LEAF_SIZE // 2))


def _cells_per_chunk(k: int, entries: int, options: MatchOptions) -> int:
    """Cells whose ``k`` candidates among ``entries`` are worked out at a time: those
    holding :data:`CANDIDATES_PER_CHUNK` candidates, or as many probed leaves when a
    cell probes more leaves than it has candidates."""
    return max(1, CANDIDATES_PER_CHUNK // max(k, _probed_leaves(k, entries, options), 1))


def _size(count: int) -> str:
    return f"{count / 1e9:,.1f} GB" if count >= 1e9 else f"{count / 1e6:,.0f} MB"


def _physical_memory() -> int | None:
    """Bytes of memory of this machine, if the system says."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _colour_score(distance: NDArray[np.int64], dim: int, space: str) -> NDArray[np.float64]:
    """RMS difference per block (descriptors hold quarter units), / COLOUR_SCALE: both
    spaces' squared distances are ``16 g**2`` times a mean squared difference."""
    blocks = descriptors.grid_of(dim, space) ** 2
    return np.sqrt(distance / blocks) / 4.0 / COLOUR_SCALE


def _ssim_score(
    index: NDArray[np.int64],
    n: int,
    cell_luma: NDArray[np.float32] | None,
    tile_luma: LumaLoader | None,
    options: MatchOptions,
    codes: NDArray[np.uint8],
    threads: int | None,
) -> NDArray[np.float64]:
    if cell_luma is None or tile_luma is None:
        raise MosaicfastError(f"the {options.metric} metric needs luminance patches")
    used, local = _distinct(index % n, n)
    patches = tile_luma(used)
    # A candidate in orientation block b is compared with its patch so laid, stored in
    # block b of the patches.
    if len(codes) > 1:
        patches = np.concatenate([orientation.orient(patches, int(c)) for c in codes])
    local = local.reshape(index.shape) + (index // n) * len(used)
    gaussian = options.ssim_window == "gaussian"
    ssim = candidate_ssim(cell_luma, patches, local, gaussian=gaussian, threads=threads)
    return (1.0 - ssim.astype(np.float64)) / 2.0


def _distinct(values: NDArray[np.int64], n: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """``np.unique(values, return_inverse=True)`` for values in ``[0, n)``, by a table of
    the values present instead of a sort: the distinct values ascending, and the
    position of each value among them (shaped like ``values``)."""
    present = np.zeros(n, bool)
    present[values] = True
    return np.flatnonzero(present), (np.cumsum(present) - 1)[values]


def _best(found: _Candidates, options: MatchOptions) -> NDArray[np.intp]:
    """Column of each cell's best candidate, or a seeded pick among its ``vary`` best."""
    m = len(found.tiles)
    if options.vary == 1:
        return np.zeros(m, np.intp)
    valid = np.cumsum(found.tiles >= 0, axis=1)
    picks = np.random.default_rng(options.seed).integers(0, options.vary, m)
    # The pick-th valid column (flips may leave -1 gaps in a row).
    limit = np.minimum(picks, valid[:, -1] - 1)
    return np.argmax(valid > limit[:, None], axis=1)


def _wider(k: int, limit: int, stuck: int, reason: str) -> int:
    if k >= limit:
        raise MosaicfastError(
            f"{stuck:,} cells cannot be filled: every tile is ruled out there by {reason}; "
            "relax it or use more tiles"
        )
    return min(limit, 4 * k)


def _replace_rows(found: _Candidates, rows: NDArray[np.intp], wider: _Candidates) -> _Candidates:
    """``found`` with ``rows`` replaced by ``wider``'s (other rows padded to its width)."""
    width = max(found.tiles.shape[1], wider.tiles.shape[1])

    def padded(values: NDArray, fill: float) -> NDArray:
        extra = width - values.shape[1]
        return np.pad(values, ((0, 0), (0, extra)), constant_values=fill) if extra else values

    out = _Candidates(
        padded(found.tiles, -1), padded(found.orientation, 0),
        padded(found.score, np.inf), padded(found.distance, 0),
    )  # fmt: skip
    out.tiles[rows] = padded(wider.tiles, -1)
    out.orientation[rows] = padded(wider.orientation, 0)
    out.score[rows] = padded(wider.score, np.inf)
    out.distance[rows] = padded(wider.distance, 0)
    return out


def _columns(found: _Candidates, chosen: NDArray[np.int64]) -> NDArray[np.intp]:
    """Column of each cell's chosen tile in its candidate row."""
    return np.argmax(found.tiles == chosen[:, None], axis=1)
