"""Process CPU seconds of the certified optimal assignment with one thread: a guide to its
speed on an idle machine that holds up while the machine is shared.

Problems: the demo build's (captured from a real ``build(assign="optimal")`` on ``make
demo``'s target and library, as the build poses it) and crops of real photos
(``photo_data.py``). Each is solved three times; the median is printed.

    .venv/bin/python benches/optimal_cpu.py [CELLSxTILES ...]

(default ``6144x10000 10000x10000 6144x190000``; run ``make demo`` first for the demo row).
"""

from __future__ import annotations

import os

# One BLAS thread, as the command line has (mosaicfast/_util/blas.py): NumPy's OpenBLAS
# threads otherwise spin beside the solver and add 3-5% to the process's CPU time.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from photo_data import photo_cells, photo_tiles

from mosaicfast import api, matching
from mosaicfast.kernels import assign

DEMO = Path(__file__).resolve().parent.parent / "demo"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def demo_problem() -> tuple[np.ndarray, np.ndarray, dict[str, Any]] | None:
    """The cells, tiles and options the demo build hands to the solver."""
    if not (DEMO / "library").exists():
        return None
    captured: dict[str, Any] = {}
    solve: Callable[..., Any] = assign.certified_optimum

    def spy(cells: np.ndarray, tiles: np.ndarray, **options: Any) -> Any:
        captured.update(cells=np.array(cells), tiles=np.array(tiles), options=options)
        return solve(cells, tiles, **options)

    matching.assign.certified_optimum = spy  # type: ignore[assignment]
    try:
        api.build(DEMO / "target.png", library=DEMO / "library", assign="optimal", blend=0)
    finally:
        matching.assign.certified_optimum = solve  # type: ignore[assignment]
    kept = {k: v for k, v in captured["options"].items() if k in ("capacity", "orientations")}
    return captured["cells"], captured["tiles"], kept


def main(argv: list[str]) -> None:
    shapes = argv or ["6144x10000", "10000x10000", "6144x190000"]
    problems = []
    demo = demo_problem()
    if demo is not None:
        cells, tiles, options = demo
        problems.append((f"demo build, {len(cells):,} cells", cells, tiles, options))
    for shape in shapes:
        m, n = (int(v) for v in shape.split("x"))
        problems.append((f"{m:,} x {n:,} photo crops", photo_cells(m), photo_tiles(n), {}))
    for name, cells, tiles, options in problems:
        runs = []
        for _ in range(3):
            cpu, wall = cpu_seconds(), time.perf_counter()
            result = assign.certified_optimum(cells, tiles, threads=1, **options)
            runs.append((cpu_seconds() - cpu, time.perf_counter() - wall))
        cpu_s, wall_s = (sorted(run[i] for run in runs)[1] for i in (0, 1))
        print(
            f"{name}: {cpu_s:.2f} s CPU (wall {wall_s:.2f} s), total {result.total_cost:,}, "
            f"gap {result.gap}",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
