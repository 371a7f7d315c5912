"""Assignment of tiles to cells: the certified optimum against SciPy's dense solver, on crops
of real photographs, and the greedy against its pure-Python reference
(``references.penalised_greedy``).

The optimum (``mosaicfast.kernels.assign.certified_optimum``) is timed on the cells of held-out
sample photos against random crops of the other sample photos (``photo_data.py``): there
thousands of cells compete for the same few tiles, which is what makes the problem hard.
SciPy's ``linear_sum_assignment`` on the dense matrix of the same squared distances runs in
the same session (once: it takes minutes at full size) wherever that matrix fits in
``SCIPY_MAX_BYTES``; both totals must agree. Beside it, an extra row on random descriptors,
labelled as such: there each cell's nearest tiles barely overlap and the problem is easy.

Environment variables
---------------------
MOSAICFAST_BENCH_ASSIGN_SHAPES
    Comma-separated ``CELLSxTILES`` problems, each tile used at most once (default
    ``300x300,200x2000,300x300+bars``; the full benchmark:
    ``10000x10000,6144x10000,6144x190000,6144x10000+bars``). ``+bars`` letterboxes the
    target photos (black bars over an eighth of their height, top and bottom, as on a
    video frame): a flat area whose cells are identical.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import references
from baselines import synthetic_descriptors
from conftest import CELL_COLS, CELL_ROWS
from photo_data import photo_cells, photo_tiles
from pytest_benchmark.fixture import BenchmarkFixture
from scipy.optimize import linear_sum_assignment

from mosaicfast.kernels import assign
from mosaicfast.kernels.descriptors import search_topk

GREEDY_TILES = 10_000
GREEDY_K = 32
GREEDY_RADIUS = 2
GREEDY_MAX_USES = 4
SCIPY_MAX_BYTES = 2 << 30
"""Largest dense float64 cost matrix given to SciPy (10,000 x 10,000 is 800 MB)."""
BARS = 0.125
"""A ``+bars`` problem's black bars, top and bottom, as a fraction of each photo's height."""


def _shape(text: str) -> tuple[int, int, float]:
    size, _, extra = text.partition("+")
    m, n = (int(v) for v in size.split("x"))
    return m, n, BARS if extra == "bars" else 0.0


SHAPES = [
    _shape(shape)
    for shape in os.environ.get(
        "MOSAICFAST_BENCH_ASSIGN_SHAPES", "300x300,200x2000,300x300+bars"
    ).split(",")
]
IDS = [f"{m}x{n}" + ("+bars" if bars else "") for m, n, bars in SHAPES]

GreedyProblem = tuple[tuple[Any, ...], dict[str, Any]]
"""Positional and keyword arguments of ``penalised_greedy``."""

PEAK_RSS = """\
import sys
sys.path.insert(0, sys.argv[3])
from photo_data import photo_cells, photo_tiles
from mosaicfast.kernels.assign import certified_optimum
cells = photo_cells(int(sys.argv[1]), bars=float(sys.argv[4]))
certified_optimum(cells, photo_tiles(int(sys.argv[2])))
status = open("/proc/self/status").read().split("\\n")
print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")))
"""
"""Solves one problem in a fresh process; prints its peak RSS in KiB (VmHWM: its own,
where ``ru_maxrss`` would also count the benchmark process's, carried into a child
started by vfork and exec)."""


def dense_costs(cells: np.ndarray, tiles: np.ndarray) -> np.ndarray:
    """Every pair's squared distance, float64 (exact: integers below 2**53)."""
    a, b = cells.astype(np.float64), tiles.astype(np.float64)
    costs = a @ b.T
    costs *= -2.0
    costs += np.einsum("ij,ij->i", a, a)[:, None]
    costs += np.einsum("ij,ij->i", b, b)[None, :]
    return costs


class DenseOptima:
    """SciPy's optimum of each problem: recorded by the SciPy benchmark, or computed on first
    use if that did not run (None where the dense matrix does not fit)."""

    def __init__(self) -> None:
        self.totals: dict[object, int] = {}

    def record(self, key: object, costs: np.ndarray) -> int:
        rows, cols = linear_sum_assignment(costs)
        self.totals[key] = round(costs[rows, cols].sum())
        return self.totals[key]

    def __call__(self, key: object, cells: np.ndarray, tiles: np.ndarray) -> int | None:
        if key not in self.totals and len(cells) * len(tiles) * 8 <= SCIPY_MAX_BYTES:
            self.record(key, dense_costs(cells, tiles))
        return self.totals.get(key)


@pytest.fixture(scope="module")
def dense_optima() -> DenseOptima:
    return DenseOptima()


def photo_problem(shape: tuple[int, int, float]) -> tuple[np.ndarray, np.ndarray]:
    """Cells of the held-out photos (letterboxed with ``bars``) and tiles cropped from the
    others."""
    m, n, bars = shape
    return photo_cells(m, bars=bars), photo_tiles(n)


def _label(benchmark: BenchmarkFixture, implementation: str, shape: tuple[int, int, float]) -> None:
    m, n, bars = shape
    flat = f", photos letterboxed ({bars:.3g} of their height top and bottom)" if bars else ""
    benchmark.group = f"optimal assignment, {m} cells x {n} tiles, each tile once{flat}"
    benchmark.extra_info.update(
        stage="optimal", implementation=implementation, cells=m, tiles=n, data="photo crops",
        bars=bars,
    )  # fmt: skip


def _spot_check(result: assign.CertifiedAssignment, cells: np.ndarray, tiles: np.ndarray) -> None:
    """The certificate on 200 cells' every pair, checked with NumPy (the solver checked all)."""
    rows = np.random.default_rng(0).choice(len(cells), min(200, len(cells)), replace=False)
    reduced = dense_costs(cells[rows], tiles) - result.cell_duals[rows, None]
    reduced -= result.tile_duals[None, :]
    assert reduced.min() >= 0 and result.gap == 0


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_optimal_scipy_dense(
    benchmark: BenchmarkFixture, shape: tuple[int, int, float], dense_optima: DenseOptima
) -> None:
    m, n, _ = shape
    if m * n * 8 > SCIPY_MAX_BYTES:
        pytest.skip(f"the dense {m} x {n} matrix does not fit in {SCIPY_MAX_BYTES >> 30} GiB")
    _label(benchmark, "baseline", shape)
    costs = dense_costs(*photo_problem(shape))
    total = benchmark.pedantic(dense_optima.record, args=(shape, costs), rounds=1)
    benchmark.extra_info["total"] = total


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_optimal_certified(
    benchmark: BenchmarkFixture,
    shape: tuple[int, int, float],
    dense_optima: DenseOptima,
    rounds: int,
) -> None:
    cells, tiles = photo_problem(shape)
    _label(benchmark, "rust", shape)
    result = benchmark.pedantic(
        assign.certified_optimum, args=(cells, tiles), rounds=rounds, iterations=1
    )
    benchmark.extra_info.update(total=result.total_cost, stats=result.stats)
    if shape == max(SHAPES, key=lambda s: s[0] * s[1]):
        benchmark.extra_info["peak_mb"] = _peak_mb(shape)
    expected = dense_optima(shape, cells, tiles)
    assert expected is None or result.total_cost == expected
    _spot_check(result, cells, tiles)


def _peak_mb(shape: tuple[int, int, float]) -> float:
    """Peak RSS of the whole solve (data included) in a fresh process, in MB."""
    m, n, bars = shape
    here = str(Path(__file__).parent)
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(m), str(n), here, str(bars)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.split()[-1]) * 1024 / 1e6


def test_optimal_random_descriptors(
    benchmark: BenchmarkFixture, dense_optima: DenseOptima, rounds: int
) -> None:
    m = n = SHAPES[0][0]
    cells, tiles = synthetic_descriptors(m, 5, 11), synthetic_descriptors(n, 5, 12)
    benchmark.group = f"optimal assignment, {m} x {n} random descriptors, each tile once"
    benchmark.extra_info.update(
        stage="optimal", implementation="rust", cells=m, tiles=n, data="random descriptors"
    )
    result = benchmark.pedantic(
        assign.certified_optimum, args=(cells, tiles), rounds=rounds, iterations=1
    )
    expected = dense_optima(("random", m), cells, tiles)
    assert expected is None or result.total_cost == expected
    _spot_check(result, cells, tiles)
    benchmark.extra_info["stats"] = result.stats


@pytest.fixture(scope="module")
def greedy_problem(cells: np.ndarray, tile_library: Callable[[int], np.ndarray]) -> GreedyProblem:
    """The greedy's arguments: the 32 nearest of 10,000 tiles per cell, hardest cell first."""
    cand, dist = search_topk(cells, tile_library(GREEDY_TILES), GREEDY_K)
    cost = dist.astype(np.float64)
    options = {
        "penalty": float(np.median(cost[:, 0])),
        "max_uses": GREEDY_MAX_USES,
        "min_distance": GREEDY_RADIUS,
        "shape": (CELL_ROWS, CELL_COLS),
    }
    return (cand, cost, assign.hardest_first(cost), GREEDY_TILES), options


def _label_greedy(benchmark: BenchmarkFixture, implementation: str, cells: int) -> None:
    benchmark.group = f"penalised greedy, {cells} cells, k={GREEDY_K}, r={GREEDY_RADIUS}"
    benchmark.extra_info.update(
        stage="greedy",
        implementation=implementation,
        cells=cells,
        tiles=GREEDY_TILES,
        k=GREEDY_K,
        radius=GREEDY_RADIUS,
        max_uses=GREEDY_MAX_USES,
    )


def test_penalised_greedy_min_distance(
    benchmark: BenchmarkFixture,
    greedy_problem: GreedyProblem,
    rounds: int,
) -> None:
    args, options = greedy_problem
    _label_greedy(benchmark, "rust", len(args[0]))
    assignment, uses = benchmark.pedantic(
        assign.penalised_greedy, args=args, kwargs=options, rounds=rounds, warmup_rounds=1
    )
    assert uses.max() <= GREEDY_MAX_USES
    board = assignment.reshape(CELL_ROWS, CELL_COLS)
    assert not np.any((board[:, 1:] == board[:, :-1]) & (board[:, 1:] >= 0))


def test_penalised_greedy_python_reference(
    benchmark: BenchmarkFixture,
    greedy_problem: GreedyProblem,
    rounds: int,
) -> None:
    args, options = greedy_problem
    _label_greedy(benchmark, "python", len(args[0]))
    found = benchmark.pedantic(
        references.penalised_greedy, args=args, kwargs=options, rounds=rounds
    )
    expected = assign.penalised_greedy(*args, **options)
    np.testing.assert_array_equal(found[0], expected[0])


def test_stats_are_plain_json() -> None:
    """The solver's stats go to the benchmark JSON and the manifest."""
    result = assign.certified_optimum(photo_cells(50), photo_tiles(80))
    assert json.loads(json.dumps(result.stats)) == result.stats
