"""Recall and cost of candidate pruning on real photos (``docs/pruning.md``).

Tiles are random crops of scikit-image's sample photos and the cells are four
held-out colour photos (``photo_data``). For each pruning method and shortlist
the script compares the pruned query with the exhaustive search on the same
cells: recall@1 (the exhaustive best tile is returned), the share of cells that
still get a tile at the best distance, the share of the library scanned, the
mean colour error of the chosen tiles and the wall time of both searches. It
also reports, on a sample of cells, at which rank of the reduced space the
exhaustive best tile sits.

Run ``python benches/recall.py [--tiles N] [--cells M]``; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from math import sqrt

import numpy as np
from baselines import spread_sample
from numpy.typing import NDArray
from photo_data import GRID, TARGETS, photo_cells, photo_tiles

from mosaicfast.kernels.candidates import CandidateIndex, Method
from mosaicfast.kernels.descriptors import search_topk

METHODS: tuple[Method, ...] = ("mean", "pca")
SHORTLIST_FACTORS = (5, 10, 20, 35, 55, 80)
"""Shortlists measured, in multiples of the square root of the library size."""
BLOG_SHORTLIST = 50
"""The blog's KD-tree query: the 50 tiles nearest in mean colour."""
RANK_PERCENTILES = (50, 90, 99)
RANK_CELLS = 2000
"""Cells sampled for the rank statistics (all tiles are ranked for each)."""


@dataclass(frozen=True)
class Row:
    """One method and shortlist measured against the exhaustive search."""

    method: str
    shortlist: int
    fraction: float
    recall: float
    same_distance: float
    error: float
    miss_penalty: float
    seconds: float


def colour_error(distances: NDArray[np.int64]) -> float:
    """Mean over cells of the RMS CIELAB difference per block (descriptors are in 1/4 units)."""
    return float(np.mean(np.sqrt(distances / (GRID * GRID)) / 4.0))


def miss_penalty(distances: NDArray[np.int64], best_distances: NDArray[np.int64]) -> float:
    """Mean extra RMS CIELAB error per block over the cells that lost their best tile."""
    missed = distances != best_distances
    if not missed.any():
        return 0.0
    return colour_error(distances[missed]) - colour_error(best_distances[missed])


def timed(call: Callable[[], tuple[NDArray[np.int64], NDArray[np.int64]]]) -> tuple:
    """The result of ``call`` and its wall time in seconds."""
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def best_rank(
    index: CandidateIndex, tiles: NDArray[np.int16], cells: NDArray[np.int16], best: NDArray
) -> NDArray[np.int64]:
    """1-based rank of each cell's exhaustive best tile by distance in the reduced space."""
    reduced_tiles = index.project(tiles)
    ranks = np.empty(len(cells), dtype=np.int64)
    step = max(1, (1 << 23) // len(tiles))
    for start in range(0, len(cells), step):
        part = slice(start, start + step)
        reduced = index.project(cells[part])
        gaps = ((reduced[:, None, :] - reduced_tiles[None, :, :]) ** 2).sum(axis=2)
        best_gap = np.take_along_axis(gaps, best[part, None], axis=1)
        ranks[part] = 1 + (gaps < best_gap).sum(axis=1)
    return ranks


def explained_variance(index: CandidateIndex, tiles: NDArray[np.int16]) -> float:
    """Share of the tiles' descriptor variance kept by the index's projection."""
    return float(
        index.project(tiles).var(axis=0).sum() / tiles.astype(np.float64).var(axis=0).sum()
    )


def measure(
    index: CandidateIndex,
    cells: NDArray[np.int16],
    best: NDArray[np.int64],
    best_distance: NDArray[np.int64],
    shortlist: int,
) -> Row:
    """Pruned top-1 query at one shortlist, scored against the exhaustive result."""
    (chosen, distance), seconds = timed(lambda: index.query(cells, 1, shortlist=shortlist))
    return Row(
        method=index.method,
        shortlist=shortlist,
        fraction=index.scanned_fraction(cells, 1, shortlist=shortlist),
        recall=float(np.mean(chosen[:, 0] == best)),
        same_distance=float(np.mean(distance[:, 0] == best_distance)),
        error=colour_error(distance[:, 0]),
        miss_penalty=miss_penalty(distance[:, 0], best_distance),
        seconds=seconds,
    )


def print_table(rows: list[Row], exhaustive_error: float, exhaustive_seconds: float) -> None:
    """The measured rows, then the exhaustive search for reference."""
    print(
        f"{'method':>6}  {'shortlist':>9}  {'full dist.':>10}  {'recall@1':>8}  "
        f"{'best dist.':>10}  {'dE/block':>8}  {'miss +dE':>8}  {'time':>8}  {'vs exh.':>7}"
    )
    for row in rows:
        print(
            f"{row.method:>6}  {row.shortlist:>9}  {row.fraction:>10.2%}  {row.recall:>8.4f}  "
            f"{row.same_distance:>10.4f}  {row.error:>8.3f}  {row.miss_penalty:>8.3f}  "
            f"{row.seconds:>7.3f}s  "
            f"{row.seconds / exhaustive_seconds:>6.1f}x"
        )
    print(
        f"{'exhaustive':>17}  {1:>10.2%}  {1:>8.4f}  {1:>10.4f}  {exhaustive_error:>8.3f}  "
        f"{0:>8.3f}  {exhaustive_seconds:>7.3f}s  {1:>6.1f}x"
    )


def main() -> None:
    """Parse options, build the data, measure every method and shortlist, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiles", type=int, default=190_000, help="tiles (default 190000)")
    parser.add_argument("--cells", type=int, default=6144, help="cells (default 6144)")
    options = parser.parse_args()

    tiles = photo_tiles(options.tiles)
    cells = photo_cells(options.cells)
    print(f"{len(tiles)} tiles, {len(cells)} cells of {', '.join(TARGETS)}, grid {GRID}")

    (best, best_distance), exhaustive_seconds = timed(lambda: search_topk(cells, tiles, 1))
    best, best_distance = best[:, 0], best_distance[:, 0]
    sample = spread_sample(cells, RANK_CELLS)
    shortlists = sorted({min(len(tiles), round(f * sqrt(len(tiles)))) for f in SHORTLIST_FACTORS})
    rows = []
    for method in METHODS:
        start = time.perf_counter()
        index = CandidateIndex(tiles, method=method)
        built = time.perf_counter() - start
        ranks = best_rank(index, tiles, cells[sample], best[sample])
        quantiles = np.percentile(ranks, RANK_PERCENTILES)
        print(
            f"{method}: {index.dims} dims keep {explained_variance(index, tiles):.1%} of the tile "
            f"variance; {index.leaves} leaves, index built in {built:.3f}s; rank of the "
            "exhaustive best: "
            + ", ".join(f"p{p} {q:.0f}" for p, q in zip(RANK_PERCENTILES, quantiles, strict=True))
            + f", max {ranks.max()}; within {BLOG_SHORTLIST}: "
            + f"{np.mean(ranks <= BLOG_SHORTLIST):.4f}"
        )
        rows.extend(measure(index, cells, best, best_distance, s) for s in shortlists)
    print()
    print_table(rows, colour_error(best_distance), exhaustive_seconds)


if __name__ == "__main__":
    main()
