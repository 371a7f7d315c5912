"""Print the search benchmarks of a pytest-benchmark JSON file as one table.

Usage: ``python benches/report.py BENCH.json``

For each tile count: the median times of the Rust core, the NumPy baseline and the pure-Python
reference (timed on a subsample and extrapolated to the full search), the speed-ups of the
Rust core, and its throughput in GFLOP/s, counting ``2 * cells * tiles * d`` operations (one
subtraction and one multiply-add per descriptor value). For scale, the machine's float32
matrix-product throughput is measured in this process with NumPy.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mosaicfast import _core

PEAK_SIZE = 4096
PEAK_REPEATS = 5


@dataclass
class SizeResult:
    """Median timings, in seconds, of the three implementations at one tile count."""

    cells: int
    tiles: int
    dim: int
    rust: float | None = None
    numpy: float | None = None
    python: float | None = None

    @property
    def operations(self) -> int:
        """Counted floating-point-equivalent operations of one full search."""
        return 2 * self.cells * self.tiles * self.dim


#: Benchmarks of the search table (by their group); the others get a plain table.
SEARCH_GROUP = "search top-1"


def load_results(path: Path) -> list[SizeResult]:
    """Median time per implementation and tile count from a ``--benchmark-json`` file.

    Parameters
    ----------
    path : Path
        The JSON file written by pytest-benchmark.

    Returns
    -------
    list of SizeResult
        One entry per tile count, in increasing order; the Python time is extrapolated.
    """
    results: dict[int, SizeResult] = {}
    for bench in json.loads(path.read_text())["benchmarks"]:
        info = bench["extra_info"]
        if not _is_search(bench):
            continue
        result = results.setdefault(
            info["tiles"], SizeResult(cells=info["cells"], tiles=info["tiles"], dim=info["dim"])
        )
        median = bench["stats"]["median"]
        implementation = info["implementation"]
        if implementation == "python":
            median *= info["extrapolation"]
        setattr(result, implementation, median)
    return [results[tiles] for tiles in sorted(results)]


def _is_search(bench: dict) -> bool:
    return str(bench.get("group") or "").startswith(SEARCH_GROUP)


def other_benchmarks(path: Path) -> list[list[str]]:
    """The header and one row per benchmark that is not part of the search table."""
    rows = [["benchmark", "median", "rounds"]]
    for bench in json.loads(path.read_text())["benchmarks"]:
        if _is_search(bench):
            continue
        stats = bench["stats"]
        rows.append([bench["fullname"].split("::")[-1], format_seconds(stats["median"]),
                     str(stats["rounds"])])  # fmt: skip
    return rows


def float32_matmul_gflops(size: int = PEAK_SIZE, repeats: int = PEAK_REPEATS) -> float:
    """Best-of-``repeats`` throughput of a ``size x size`` float32 ``np.matmul``, in GFLOP/s.

    Parameters
    ----------
    size : int, optional
        Side of the square matrices.
    repeats : int, optional
        Timed products; the fastest counts.

    Returns
    -------
    float
        ``2 * size**3`` operations divided by the best time, in units of 1e9 per second.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    out = np.matmul(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def format_seconds(seconds: float | None) -> str:
    """A duration with a readable unit, or ``-`` when it was not measured."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    if seconds < 600:
        return f"{seconds:.2f} s"
    if seconds < 36000:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def format_ratio(numerator: float | None, denominator: float | None) -> str:
    """``numerator / denominator`` as ``12.3x``, or ``-`` if either is missing."""
    if numerator is None or denominator is None:
        return "-"
    return f"{numerator / denominator:.1f}x"


def table_rows(results: list[SizeResult]) -> list[list[str]]:
    """The header and one row of text cells per tile count."""
    header = [
        "tiles",
        "cells",
        "d",
        "Rust median",
        "NumPy median",
        "Python (extrapolated)",
        "NumPy/Rust",
        "Python/Rust",
        "Rust GFLOP/s",
    ]
    rows = [header]
    for result in results:
        gflops = "-" if result.rust is None else f"{result.operations / result.rust / 1e9:.1f}"
        rows.append(
            [
                str(result.tiles),
                str(result.cells),
                str(result.dim),
                format_seconds(result.rust),
                format_seconds(result.numpy),
                format_seconds(result.python),
                format_ratio(result.numpy, result.rust),
                format_ratio(result.python, result.rust),
                gflops,
            ]
        )
    return rows


def render(rows: list[list[str]]) -> str:
    """Rows of text cells as an aligned plain-text table, numbers right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the table for the JSON file named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path, help="output of pytest --benchmark-json")
    args = parser.parse_args(argv)
    results = load_results(args.json)
    others = other_benchmarks(args.json)
    if not results and len(others) == 1:
        parser.error(f"{args.json} holds no benchmarks")
    if len(others) > 1:
        print("Other stages (medians)")
        print(render(others))
        print()
    if not results:
        return 0
    print("Exhaustive top-1 search (medians; Python timed on a subsample and extrapolated)")
    print(render(table_rows(results)))
    print("GFLOP/s counts 2*cells*tiles*d operations (one subtract + one multiply-add per value).")
    print(f"Rust kernel: {_core.search_kernel()}, {_core.default_threads()} threads")
    peak = float32_matmul_gflops()
    print(
        f"float32 peak, np.matmul {PEAK_SIZE}x{PEAK_SIZE} best of {PEAK_REPEATS} "
        f"(same process): {peak:.1f} GFLOP/s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
