"""Research prototypes of the fidelity levers of issue 14, in NumPy on top of the core.

A :class:`Recipe` says how cells are matched: the descriptor (:class:`Descriptor`: CIELAB
grids with weights per channel, a finer luminance grid, luminance gradients), tile
orientations (mirror images and quarter turns), SSIM re-ranking, and the assignment
(penalised greedy, a global min-cost assignment with a convex cost per use, then local
moves and swaps). :class:`Matcher` runs a recipe on a target against the tiles of a
library and returns the tile and orientation of every cell.

What runs where: descriptors are NumPy here (float32); the top-k search is the core's
exact integer search on them quantised to int16 (the core's kernels take any width); SSIM
re-ranking and the greedy are the core's (``candidate_ssim``, ``penalised_greedy``); the
global assignments are the core's (``optimal_assignment`` on a graph of tile copies for
the penalised objective, ``certified_optimum`` over every cell and tile for the capacitated
one); the local improvement is plain Python (slow: it is the piece that needs Rust).

Orientation ``o`` (0 to 7) of a tile is ``np.rot90(tile, o % 4)``, mirrored left to
right first when ``o >= 4``. A tile counts as one tile whatever its orientation, for
``max_uses``, ``min_distance`` and the diversity figures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from mosaicfast.kernels import assign, descriptors
from mosaicfast.kernels.resample import resize_image
from mosaicfast.kernels.ssim import candidate_ssim, luminance

__all__ = ["FLAT_STD", "Descriptor", "Matcher", "Recipe", "Result", "orient"]

#: Side, in pixels, of the samples of a cell or tile that descriptors are computed from.
SAMPLE = 40
COLOUR_SCALE = 25.0
#: A tile whose 8x8 Rec. 601 luma (0-255) has a smaller standard deviation is flat.
FLAT_STD = 2.0
#: Largest magnitude of a descriptor value once quantised for the core's integer solver.
_QUANT = 2000.0

_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375],
     [0.2126729, 0.7151522, 0.0721750],
     [0.0193339, 0.1191920, 0.9503041]], dtype=np.float64,
)  # fmt: skip
_WHITE = np.array([0.95047, 1.0, 1.08883])


@dataclass(frozen=True)
class Descriptor:
    """A descriptor whose squared distance is a weighted mean squared colour error.

    ``l_grid x l_grid`` block means of the lightness channel, ``ab_grid x ab_grid`` of the
    two colour channels, scaled so that the squared distance is
    ``l_weight**2 * mean dL**2 + ab_weight**2 * mean (da**2 + db**2)`` (means over the
    blocks), plus ``gradient_weight**2`` times the mean squared difference of the
    lightness steps between neighbouring blocks. The channels (``space``):

    * ``"lab"``: CIELAB of block means taken in linear light (mosaicfast's descriptor;
      ``Descriptor()`` is its 5x5 colour grid);
    * ``"lab-srgb"``: CIELAB of block means of the 8-bit sRGB values, the area average
      the fidelity measure takes;
    * ``"ycc"``: Rec. 601 luma Y' (what the SSIM of the fidelity measure compares) and
      the chroma differences Cb, Cr of those sRGB block means, scaled to 0-100 like L*;
    * ``"y-lab"``: what the fidelity measure compares: Rec. 601 luma (0-100) of the sRGB
      block means as the light channel (SSIM's), their CIELAB a*, b* as the colour
      (CIEDE2000's);
    * ``"rgb"``: those sRGB block means (0-100) on orthonormal opponent axes, the grey
      axis ``(R + G + B) / sqrt(3)`` as the light channel: with equal grids and weights
      the distance is the classic tool's summed squared RGB difference, rotated.
    """

    l_grid: int = 5
    ab_grid: int = 5
    l_weight: float = 1.0
    ab_weight: float = 1.0
    gradient_weight: float = 0.0
    space: str = "lab"

    def __call__(self, samples: NDArray[np.uint8]) -> NDArray[np.float32]:
        """``(n, d)`` descriptors of ``(n, SAMPLE, SAMPLE, 3)`` samples."""
        n = len(samples)
        light = self._channels(samples, self.l_grid)[..., 0]
        colour = self._channels(samples, self.ab_grid)[..., 1:]
        parts = [
            self.l_weight / self.l_grid * light.reshape(n, -1),
            self.ab_weight / self.ab_grid * colour.reshape(n, -1),
        ]
        if self.gradient_weight:
            dx = np.diff(light, axis=2).reshape(n, -1)
            dy = np.diff(light, axis=1).reshape(n, -1)
            steps = dx.shape[1] + dy.shape[1]
            parts.append(self.gradient_weight / np.sqrt(steps) * np.hstack([dx, dy]))
        return np.ascontiguousarray(np.hstack(parts), dtype=np.float32)

    def _channels(self, samples: NDArray[np.uint8], grid: int) -> NDArray[np.float32]:
        if self.space == "lab":
            return _lab(_block_means(_LINEAR_8BIT[samples], grid))
        means = _block_means(samples.astype(np.float32) / 255, grid)
        if self.space == "lab-srgb":
            return _lab(_linear(means))
        if self.space == "ycc":
            return (100 * means @ _YCC.T).astype(np.float32)
        if self.space == "y-lab":
            return np.concatenate(
                [100 * means @ _YCC[:1].T, _lab(_linear(means))[..., 1:]], axis=-1
            ).astype(np.float32)
        if self.space == "rgb":
            return (100 * means @ _OPPONENT.T).astype(np.float32)
        raise ValueError(f"unknown colour space {self.space!r}")


def _block_means(linear: NDArray[np.float32], grid: int) -> NDArray[np.float32]:
    n, side = linear.shape[:2]
    if side % grid:
        raise ValueError(f"a {grid}x{grid} grid does not divide {side}-px samples")
    step = side // grid
    return linear.reshape(n, grid, step, grid, step, 3).mean(axis=(2, 4))


def _linear(u: NDArray[np.float32]) -> NDArray[np.float32]:
    """The inverse sRGB transfer curve of values in [0, 1]."""
    return np.where(u <= 0.04045, u / 12.92, ((u + 0.055) / 1.055) ** 2.4).astype(np.float32)


_LINEAR_8BIT = _linear(np.arange(256, dtype=np.float32) / 255)
# Rec. 601 Y'CbCr of gamma-encoded RGB (luma as in mosaicfast.metrics and ssim.luminance).
_OPPONENT = np.array([[1, 1, 1], [1, -1, 0], [1, 1, -2]], dtype=np.float64) / np.sqrt(
    [[3], [2], [6]]
)
_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]],
                dtype=np.float32)  # fmt: skip


def _lab(linear: NDArray[np.float32]) -> NDArray[np.float32]:
    t = (linear.astype(np.float64) @ _XYZ.T) / _WHITE
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    lab = np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]),
                    200 * (f[..., 1] - f[..., 2])], axis=-1)  # fmt: skip
    return lab.astype(np.float32)


def orient(tiles: NDArray, orientation: int) -> NDArray:
    """``(n, s, s, ...)`` tiles in one of the 8 orientations (see the module doc)."""
    if orientation >= 4:
        tiles = tiles[:, :, ::-1]
    return np.rot90(tiles, orientation % 4, axes=(1, 2))


@dataclass(frozen=True)
class Recipe:
    """How cells are matched (see the module documentation).

    Attributes
    ----------
    descriptor : Descriptor
        The colour/structure descriptor of the exhaustive search.
    orientations : int
        1 (tiles upright), 2 (and mirrored), 4 (the quarter turns) or 8 (both).
    candidates : int
        Nearest tiles per cell kept for re-ranking and assignment.
    ssim_weight : float
        Score ``(1 - w) * colour + w * (1 - SSIM) / 2`` (0: colour only).
    match_size : int
        Side of the luminance patches SSIM compares.
    assign : str
        ``"best"`` (no constraint), ``"greedy"`` (the core's penalised greedy, hardest
        cell first), ``"flow"`` (global minimum of the penalised objective over the
        candidates) or ``"optimal"`` (the core's certified least summed squared distance
        over every cell and tile, ``max_uses`` as the capacity); after ``flow`` and
        ``optimal`` the min-distance conflicts are repaired greedily.
    penalty : float
        Cost of each earlier use of a tile (the objective's convex term).
    max_uses : float
        Most uses of one tile, as a share of the cells (0.01: 1%); 0 for no limit.
    min_distance : int
        No tile twice within this Chebyshev distance.
    improve : int
        Passes of local moves and swaps after the assignment (0: none).
    flat_copies : int
        With the greedy: each flat tile (8x8 Rec. 601 luma standard deviation below
        ``flat_std``, on 0-255) counts as ``1 + flat_copies`` tiles for ``max_uses`` and
        ``min_distance``, so it may be used that many times more and next to itself (a
        repeated flat tile shows no clump); 0 for none.
    flat_std : float
        See ``flat_copies``.
    """

    descriptor: Descriptor = field(default_factory=Descriptor)
    orientations: int = 1
    candidates: int = 32
    ssim_weight: float = 0.0
    match_size: int = 16
    assign: str = "greedy"
    penalty: float = 0.05
    max_uses: float = 0.01
    min_distance: int = 1
    improve: int = 0
    flat_copies: int = 0
    flat_std: float = FLAT_STD

    def with_(self, **changes: object) -> Recipe:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass
class Result:
    """Per cell (row-major): tile, orientation, score; and the seconds of each step."""

    tiles: NDArray[np.int64]
    orientation: NDArray[np.int64]
    score: NDArray[np.float64]
    timings: dict[str, float]


class Matcher:
    """The tiles of one library, prepared once for every recipe.

    Parameters
    ----------
    thumbs : numpy.ndarray
        ``(n, s, s, 3)`` tile thumbnails (the library's, in tile order).
    """

    def __init__(self, thumbs: NDArray[np.uint8]) -> None:
        self.thumbs = thumbs
        self.samples = _box_resize(thumbs, SAMPLE)
        self._descriptors: dict[tuple[Descriptor, int], NDArray[np.float32]] = {}
        self._luma: dict[tuple[int, int], NDArray[np.float32]] = {}

    @property
    def n(self) -> int:
        return len(self.thumbs)

    def tile_descriptors(self, descriptor: Descriptor, orientations: int) -> NDArray[np.float32]:
        """``(orientations * n, d)``: orientation ``o`` of tile ``t`` is row ``o * n + t``."""
        key = (descriptor, orientations)
        if key not in self._descriptors:
            self._descriptors[key] = np.concatenate(
                [descriptor(np.ascontiguousarray(orient(self.samples, o)))
                 for o in _orientation_list(orientations)]
            )  # fmt: skip
        return self._descriptors[key]

    def flat_tiles(self, max_std: float) -> NDArray[np.bool_]:
        """``(n,)``: the tiles whose 8x8 Rec. 601 luma (0-255) varies by less than
        ``max_std`` (standard deviation), as the fidelity measure sees a cell."""
        luma = _block_means(self.samples.astype(np.float32), 8) @ _YCC[0]
        return luma.reshape(self.n, -1).std(axis=1) < max_std

    def tile_luma(self, size: int, orientations: int) -> NDArray[np.float32]:
        key = (size, orientations)
        if key not in self._luma:
            luma = luminance(_box_resize(self.thumbs, size))
            self._luma[key] = np.ascontiguousarray(
                np.concatenate([orient(luma, o) for o in _orientation_list(orientations)])
            )
        return self._luma[key]

    def match(self, target: Image.Image, grid: tuple[int, int], recipe: Recipe) -> Result:
        """Match every cell of ``target`` (cut into ``grid`` = ``(rows, cols)``)."""
        timings: dict[str, float] = {}
        clock = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[stage] = timings.get(stage, 0.0) + now - clock
            clock = now

        rows, cols = grid
        m = rows * cols
        space = self.tile_descriptors(recipe.descriptor, recipe.orientations)
        lap("tile descriptors")
        cells = recipe.descriptor(cell_samples(target, grid, SAMPLE))
        lap("describe")
        k = min(recipe.candidates, self.n)
        found = self._candidates(cells, space, k)
        lap("search")
        if recipe.ssim_weight > 0:
            found = self._rerank(found, target, grid, recipe)
            lap("ssim")
        cap = m if not recipe.max_uses else max(1, round(recipe.max_uses * m))
        n_ids = self.n
        if recipe.flat_copies:
            if recipe.assign != "greedy":
                raise ValueError("flat_copies goes with the greedy assignment only")
            found = found.with_copies(self.flat_tiles(recipe.flat_std), recipe.flat_copies)
            n_ids = self.n * (1 + recipe.flat_copies)
        if recipe.assign == "best":
            chosen = np.zeros(m, np.int64)
        elif recipe.assign == "greedy":
            found, chosen = self._greedy(found, cells, space, grid, recipe, cap, n_ids=n_ids)
        elif recipe.assign == "flow":
            found, chosen = self._flow(found, cells, space, grid, recipe, cap)
        elif recipe.assign == "optimal":
            found, chosen = self._optimal(found, cells, space, grid, recipe, cap)
        else:
            raise ValueError(f"unknown assignment {recipe.assign!r}")
        lap("assign")
        tiles, orientation, score = found.pick(chosen)
        tiles = tiles % self.n  # a copy of a flat tile is that tile
        if recipe.improve:
            tiles, orientation, score = improve(found, chosen, grid, recipe, cap)
            lap("improve")
        return Result(tiles, orientation, score, timings)

    def _candidates(
        self, cells: NDArray[np.float32], space: NDArray[np.float32], k: int,
        rows: NDArray[np.intp] | None = None,
    ) -> Candidates:  # fmt: skip
        picked = np.arange(len(cells)) if rows is None else rows
        slots = _orientation_list(len(space) // self.n)
        index, distance = search_topk(cells[picked], space, min(len(space), len(slots) * k))
        return Candidates.from_search(index, distance, self.n, k, slots)

    def _rerank(
        self, found: Candidates, target: Image.Image, grid: tuple[int, int], recipe: Recipe
    ) -> Candidates:
        size = recipe.match_size
        cell_luma = luminance(cell_samples(target, grid, size))
        patches = self.tile_luma(size, recipe.orientations)
        order = _orientation_list(recipe.orientations)
        slot = np.array([order.index(o) if o in order else 0 for o in range(8)])
        local = np.where(found.tiles >= 0, slot[found.orientation] * self.n + found.tiles, 0)
        ssim = candidate_ssim(cell_luma, patches, local).astype(np.float64)
        w = recipe.ssim_weight
        score = np.where(found.tiles >= 0, (1 - w) * found.score + w * (1 - ssim) / 2, np.inf)
        return found.sorted_by(score)

    def _greedy(
        self, found, cells, space, grid, recipe, cap, kept: NDArray[np.int64] | None = None,
        n_ids: int | None = None,
    ) -> tuple[Candidates, NDArray]:  # fmt: skip
        """The core's penalised greedy, hardest cell first, over the cells not ``kept``
        (tile ``-1``); cells left without an allowed candidate get wider candidate lists
        until every cell has a tile."""
        free = np.full(len(cells), -1, np.int64) if kept is None else kept
        order = assign.hardest_first(np.where(found.tiles >= 0, found.score, -np.inf))
        order = order[free[order] < 0]
        while True:
            free, _ = assign.penalised_greedy(
                found.tiles, found.score, order, n_ids or self.n, penalty=recipe.penalty,
                max_uses=cap, min_distance=recipe.min_distance, shape=grid, fixed=free,
            )  # fmt: skip
            stuck = np.flatnonzero(free < 0)
            if not stuck.size:
                return found, found.columns(free)
            found = found.replaced(stuck, self._candidates(cells, space, 4 * found.width, stuck))
            order = order[np.isin(order, stuck)]

    def _flow(self, found, cells, space, grid, recipe, cap) -> tuple[Candidates, NDArray]:
        while True:
            try:
                chosen_tiles = flow_assignment(found, self.n, recipe.penalty, cap)
                break
            except assign.InfeasibleAssignmentError as err:
                stuck = err.unmatched.astype(np.intp)
                found = found.replaced(
                    stuck, self._candidates(cells, space, 4 * found.width, stuck)
                )
        return self._repair(found, chosen_tiles, cells, space, grid, recipe, cap)

    def _optimal(self, found, cells, space, grid, recipe, cap) -> tuple[Candidates, NDArray]:
        """The core's certified optimum of the summed squared descriptor distance (the
        descriptors quantised to integers), each tile at most ``cap`` times, over every
        cell and tile (and mirror image, with 2 orientations); then the min-distance
        repair."""
        if recipe.orientations not in (1, 2):
            raise ValueError("the certified optimum takes 1 or 2 (mirror) orientations")
        cell_q, tile_q, scale = quantised(cells, space)
        result = assign.certified_optimum(
            cell_q, tile_q, capacity=cap, orientations=recipe.orientations
        )
        score = np.sqrt(result.costs) / scale / COLOUR_SCALE
        mirrored = result.orientation.astype(np.int64)  # block 1: the mirror images
        found = found.with_first(result.assignment, 4 * mirrored, score)
        return self._repair(found, result.assignment, cells, space, grid, recipe, cap)

    def _repair(
        self, found, chosen_tiles, cells, space, grid, recipe, cap
    ) -> tuple[Candidates, NDArray]:
        """A global solution ignores neighbours: the cells of the min-distance conflicts
        (the worse-scoring cell of each pair) are reassigned by the greedy, hardest
        cells first, the others kept."""
        conflicts = _conflicting_cells(chosen_tiles, grid, recipe.min_distance, found)
        kept = chosen_tiles.copy()
        kept[conflicts] = -1
        return self._greedy(found, cells, space, grid, recipe, cap, kept)


def _orientation_list(orientations: int) -> list[int]:
    return {1: [0], 2: [0, 4], 4: [0, 1, 2, 3], 8: list(range(8))}[orientations]


def _box_resize(tiles: NDArray[np.uint8], size: int) -> NDArray[np.uint8]:
    if tiles.shape[1] == size:
        return tiles
    return np.stack(
        [np.asarray(Image.fromarray(t).resize((size, size), Image.Resampling.BOX)) for t in tiles]
    )


def cell_samples(target: Image.Image, grid: tuple[int, int], side: int) -> NDArray[np.uint8]:
    """``(rows * cols, side, side, 3)``: the target resized (area averaging) and cut."""
    rows, cols = grid
    pixels = resize_image(np.asarray(target.convert("RGB")), (cols * side, rows * side),
                          filter="box")  # fmt: skip
    cut = pixels.reshape(rows, side, cols, side, 3).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(cut).reshape(rows * cols, side, side, 3)


def quantised(
    cells: NDArray[np.float32], space: NDArray[np.float32]
) -> tuple[NDArray[np.int16], NDArray[np.int16], float]:
    """Cells and tiles as the core's integer descriptors, one scale for both (the largest
    magnitude becomes ``_QUANT``), and that scale."""
    scale = _QUANT / max(float(np.abs(space).max()), float(np.abs(cells).max()), 1e-9)
    return (np.rint(cells * scale).astype(np.int16), np.rint(space * scale).astype(np.int16),
            scale)  # fmt: skip


def search_topk(
    cells: NDArray[np.float32], space: NDArray[np.float32], k: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Exhaustive top-``k`` by squared distance, sorted, ties to the lower index: the
    core's exact integer search on the descriptors quantised by :func:`quantised`."""
    cell_q, tile_q, scale = quantised(cells, space)
    index, distance = descriptors.search_topk(cell_q, tile_q, k)
    return index, distance / scale**2


@dataclass
class Candidates:
    """Per cell, ``width`` candidates sorted by score: tile (``-1`` pads), orientation,
    score (lower is better)."""

    tiles: NDArray[np.int64]
    orientation: NDArray[np.int64]
    score: NDArray[np.float64]

    @property
    def width(self) -> int:
        return self.tiles.shape[1]

    @classmethod
    def from_search(
        cls, index: NDArray[np.int64], distance: NDArray[np.float64], n: int, k: int,
        slots: list[int],
    ) -> Candidates:  # fmt: skip
        """The ``k`` best distinct tiles of each row of a search over oriented tiles (row
        ``i * n + t`` of the searched space is tile ``t`` in orientation ``slots[i]``)."""
        tiles, orientation = index % n, np.asarray(slots)[index // n]
        score = np.sqrt(distance) / COLOUR_SCALE
        # The first (best) entry of each tile in its row; a tile has at most len(slots)
        # entries, so a row of len(slots) * k entries holds at least k distinct tiles.
        order = np.argsort(tiles, axis=1, kind="stable")
        by_tile = np.take_along_axis(tiles, order, axis=1)
        first_sorted = np.ones_like(by_tile, dtype=bool)
        first_sorted[:, 1:] = by_tile[:, 1:] != by_tile[:, :-1]
        first = np.empty_like(first_sorted)
        np.put_along_axis(first, order, first_sorted, axis=1)
        keep = first & (np.cumsum(first, axis=1) <= k)
        rows = len(index)
        out_t, out_o, out_s = (a[keep].reshape(rows, -1) for a in (tiles, orientation, score))
        return cls(out_t, out_o, out_s)

    def sorted_by(self, score: NDArray[np.float64]) -> Candidates:
        order = np.lexsort((self.tiles, score), axis=1)
        return Candidates(*(np.take_along_axis(a, order, axis=1)
                            for a in (self.tiles, self.orientation, score)))  # fmt: skip

    def columns(self, tiles: NDArray[np.int64]) -> NDArray[np.int64]:
        return np.argmax(self.tiles == tiles[:, None], axis=1)

    def pick(self, columns: NDArray[np.int64]) -> tuple[NDArray, NDArray, NDArray]:
        rows = np.arange(len(columns))
        return (self.tiles[rows, columns], self.orientation[rows, columns],
                self.score[rows, columns])  # fmt: skip

    def with_first(
        self, tiles: NDArray[np.int64], orientation: NDArray[np.int64], score: NDArray
    ) -> Candidates:
        """Each row led by the given entry, the row's own entry of that tile dropped."""
        same = self.tiles == tiles[:, None]
        keep = np.where(same, -1, self.tiles)
        order = np.argsort(keep < 0, axis=1, kind="stable")

        def lead(a: NDArray, first: NDArray, fill: float) -> NDArray:
            rest = np.take_along_axis(np.where(same, fill, a), order, axis=1)
            return np.hstack([first[:, None], rest])

        return Candidates(lead(self.tiles, tiles, -1), lead(self.orientation, orientation, 0),
                          lead(self.score, score, np.inf))  # fmt: skip

    def with_copies(self, flat: NDArray[np.bool_], copies: int) -> Candidates:
        """Each entry of a ``flat`` tile ``t`` also as ids ``t + j * n``, ``j`` from 1 to
        ``copies`` (``n = len(flat)``), at the same score; rows sorted again."""
        n = len(flat)
        is_flat = (self.tiles >= 0) & flat[np.maximum(self.tiles, 0)]
        extra = [np.where(is_flat, self.tiles + j * n, -1) for j in range(1, copies + 1)]
        score = np.hstack([self.score, *(np.where(e >= 0, self.score, np.inf) for e in extra)])
        tiles = np.hstack([self.tiles, *extra])
        orientation = np.hstack([self.orientation] * (1 + copies))
        return Candidates(tiles, orientation, score).sorted_by(score)

    def replaced(self, rows: NDArray[np.intp], wider: Candidates) -> Candidates:
        width = max(self.width, wider.width)

        def pad(a: NDArray, fill: float) -> NDArray:
            return np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=fill)

        out = Candidates(pad(self.tiles, -1), pad(self.orientation, 0), pad(self.score, np.inf))
        out.tiles[rows] = pad(wider.tiles, -1)
        out.orientation[rows] = pad(wider.orientation, 0)
        out.score[rows] = pad(wider.score, np.inf)
        return out


def flow_assignment(found: Candidates, n: int, penalty: float, cap: int) -> NDArray[np.int64]:
    """Tile per cell minimising ``sum(score) + penalty * sum(uses * (uses - 1) / 2)`` with
    at most ``cap`` uses a tile: a min-cost flow, solved exactly on the candidate graph by
    the core's assignment solver over copies of each tile (copy ``j`` costs ``j * penalty``
    more). Copies stop where no more cells have the tile among their candidates, or at
    ``cap``."""
    valid = found.tiles >= 0
    counts = np.bincount(found.tiles[valid], minlength=n)
    copies = np.minimum(counts, cap) if penalty > 0 else np.ones(n, np.int64)
    if penalty == 0:  # every copy costs the same: one node of capacity cap
        result = assign.optimal_assignment(
            np.where(valid, found.tiles, -1), np.where(valid, found.score, 0.0), n, capacity=cap
        )
        return result.assignment
    first_copy = np.concatenate([[0], np.cumsum(copies)[:-1]])
    m, k = found.tiles.shape
    width = k * int(copies.max())
    cand = np.full((m, width), -1, np.int64)
    cost = np.zeros((m, width))
    for r in range(m):
        t = found.tiles[r][valid[r]]
        s = found.score[r][valid[r]]
        j = np.concatenate([np.arange(c) for c in copies[t]])
        owner = np.repeat(np.arange(len(t)), copies[t])
        cand[r, : len(j)] = first_copy[t[owner]] + j
        cost[r, : len(j)] = s[owner] + penalty * j
    result = assign.optimal_assignment(cand, cost, int(copies.sum()), capacity=1)
    copy_owner = np.repeat(np.arange(n), copies)
    return copy_owner[result.assignment]


def _conflicting_cells(
    tiles: NDArray[np.int64], grid: tuple[int, int], radius: int, found: Candidates
) -> NDArray[np.intp]:
    """Cells to reassign so no tile repeats within ``radius``: of each conflicting pair,
    the cell whose tile scores worse there."""
    if radius == 0:
        return np.empty(0, np.intp)
    rows, cols = grid
    board = tiles.reshape(rows, cols)
    score = found.pick(found.columns(tiles))[2].reshape(rows, cols)
    drop = np.zeros((rows, cols), bool)
    for dy in range(0, radius + 1):
        for dx in range(-radius, radius + 1):
            if dy == 0 and dx <= 0:
                continue
            a = board[: rows - dy, max(0, -dx) : cols - max(0, dx)]
            b = board[dy:, max(0, dx) : cols + min(0, dx)]
            same = a == b
            sa = score[: rows - dy, max(0, -dx) : cols - max(0, dx)]
            sb = score[dy:, max(0, dx) : cols + min(0, dx)]
            drop_a = same & (sa > sb)
            drop[: rows - dy, max(0, -dx) : cols - max(0, dx)] |= drop_a
            drop[dy:, max(0, dx) : cols + min(0, dx)] |= same & ~drop_a
    return np.flatnonzero(drop.ravel())


def improve(
    found: Candidates, columns: NDArray[np.int64], grid: tuple[int, int], recipe: Recipe,
    cap: int,
) -> tuple[NDArray, NDArray, NDArray]:  # fmt: skip
    """Local search on the penalised objective keeping ``cap`` and ``min_distance``:
    moves (a cell takes a better allowed candidate) and swaps (two cells exchange tiles,
    each a candidate of the other), ``recipe.improve`` passes at most."""
    rows, cols = grid
    m = rows * cols
    radius, penalty = recipe.min_distance, recipe.penalty
    col = columns.copy()
    tile = found.tiles[np.arange(m), col]
    uses = np.bincount(tile, minlength=int(found.tiles.max()) + 1)
    where: dict[int, set[int]] = {}
    for cell, t in enumerate(tile.tolist()):
        where.setdefault(t, set()).add(cell)
    column_of = [
        dict(zip(found.tiles[c].tolist(), range(found.width), strict=True)) for c in range(m)
    ]
    scores = found.score

    def free(cell: int, t: int, ignore: int = -1) -> bool:
        r, c = divmod(cell, cols)
        for other in where.get(t, ()):
            if other in (cell, ignore):
                continue
            orow, ocol = divmod(other, cols)
            if abs(orow - r) <= radius and abs(ocol - c) <= radius:
                return False
        return True

    def put(cell: int, new_col: int) -> None:
        old = int(tile[cell])
        new = int(found.tiles[cell, new_col])
        where[old].discard(cell)
        uses[old] -= 1
        where.setdefault(new, set()).add(cell)
        uses[new] += 1
        tile[cell], col[cell] = new, new_col

    def _swap(cell: int, j: int, t: int, cur_t: int, current: float) -> bool:
        """Give ``cell`` its candidate ``j`` (tile ``t``) and a holder of ``t`` the tile
        ``cur_t`` of ``cell``, if that lowers the total (uses do not change)."""
        for other in list(where.get(t, ())):
            back = column_of[other].get(cur_t)
            if back is None:
                continue
            delta = scores[cell, j] + scores[other, back] - current - scores[other, col[other]]
            if delta < -1e-12 and free(cell, t, other) and free(other, cur_t, cell):
                put(cell, j)
                put(other, back)
                return True
        return False

    for _ in range(recipe.improve):
        changed = 0
        for cell in range(m):
            current = scores[cell, col[cell]]
            cur_t = int(tile[cell])
            for j in range(col[cell]):
                t = int(found.tiles[cell, j])
                if t < 0:
                    continue
                gain = current - scores[cell, j] - penalty * (uses[t] - (uses[cur_t] - 1))
                if gain > 1e-12 and uses[t] < cap and free(cell, t):
                    put(cell, j)
                    changed += 1
                    break
                if _swap(cell, j, t, cur_t, current):
                    changed += 1
                    break
        if not changed:
            break
    rows_ = np.arange(m)
    return tile, found.orientation[rows_, col], scores[rows_, col]
