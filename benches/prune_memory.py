"""What ``prune`` adds to a matching's peak memory, per searched entry and per cell.

Each run matches cells to tiles in a fresh process, with and without ``prune``, and
prints the peak resident memory (``ru_maxrss``) the matching added to what the inputs
took (tracemalloc misses scipy's and the core's allocations). The descriptors are
random: the KD-tree's memory depends on how many entries it holds, not on their
values, so this measures scaling only, never recall (``benches/recall.py``). Cells come
in whole rows of 96; the colour metric and the default greedy (32 candidates a cell), or
with ``--best`` each cell its best tile (one candidate: the widest chunks of cells,
which with ``prune`` hold as many probed leaves as candidates otherwise).
The figures behind ``PRUNE_BYTES_PER_VALUE`` and ``PRUNE_BYTES_PER_PROBE`` of
:mod:`mosaicfast.matching` (``benches/NOTES.md``):

    .venv/bin/python benches/prune_memory.py                  # 100k, 400k, 800k entries
    .venv/bin/python benches/prune_memory.py --descriptor lab --entries 100000 800000
    .venv/bin/python benches/prune_memory.py --best --entries 100000 --cells 100000 400000
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import subprocess
import sys
import time

import numpy as np

COLS = 96
#: Descriptor values fit in int16 either way; ylab's luma is 0-400 in quarter units.
VALUE_RANGE = 400


def one(prune: str, entries: int, cells: int, descriptor: str, rotate: bool, best: bool) -> None:
    """Matches in this process and prints one row of the table."""
    import scipy.spatial  # noqa: F401  (pruning imports it: in the baseline either way)

    from mosaicfast.kernels.descriptors import descriptor_size
    from mosaicfast.matching import match_cells
    from mosaicfast.options import MatchOptions

    options = MatchOptions(descriptor=descriptor, metric="color", prune=prune, rotate=rotate)
    if best:
        options = dataclasses.replace(options, assign="best", min_distance=0)
    tiles = entries // len(options.orientations)
    dim = descriptor_size(options.descriptor_grid, descriptor)
    rng = np.random.default_rng(0)
    library = rng.integers(0, VALUE_RANGE, (tiles, dim), dtype=np.int16)
    rows = max(1, cells // COLS)
    targets = rng.integers(0, VALUE_RANGE, (rows * COLS, dim), dtype=np.int16)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    match_cells(targets, library, (rows, COLS), options, threads=1)
    seconds = time.perf_counter() - start
    added = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    print(f"| {prune} | {descriptor} {dim} | {len(options.orientations)} | {entries:,} | "
          f"{len(targets):,} | {seconds:.1f} | {added / 1e6:,.0f} | {added / entries:,.0f} |",
          flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, nargs="+", default=[100_000, 400_000, 800_000])
    parser.add_argument("--cells", type=int, nargs="+", default=[6144])
    parser.add_argument("--descriptor", choices=("ylab", "lab"), default="ylab")
    parser.add_argument("--rotate", action="store_true")
    parser.add_argument("--best", action="store_true", help="assign best: one candidate a cell")
    parser.add_argument("--prune", nargs="+", default=["none", "pca", "mean"])
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.prune[0], args.entries[0], args.cells[0], args.descriptor, args.rotate, args.best)
        return
    print("| prune | descriptor | orientations | entries | cells | match s | added MB "
          "| added bytes per entry |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for entries in args.entries:
        for cells in args.cells:
            for prune in args.prune:
                command = [sys.executable, __file__, "--one", "--prune", prune,
                           "--entries", str(entries), "--cells", str(cells),
                           "--descriptor", args.descriptor]  # fmt: skip
                flags = ["--rotate"] * args.rotate + ["--best"] * args.best
                subprocess.run(command + flags, check=True)


if __name__ == "__main__":
    main()
