"""What ``rotate`` costs at library scale: the match of 6,144 cells against real-photo
tiles (``photo_data``: crops of scikit-image's sample photos, 5x5 CIELAB descriptors),
colour metric, the greedy at 1% uses, with the mirror alone and with quarter turns, each
in a fresh process, alternating.

    .venv/bin/python benches/rotate_cost.py                 # 190,000 tiles, 2 rounds
    .venv/bin/python benches/rotate_cost.py --tiles 10000 --rounds 3
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

CELLS, COLS = 6144, 96


def one(mode: str, tiles: int) -> None:
    """Times one match in this process and prints it."""
    from photo_data import bench_tiles, photo_cells

    from mosaicfast.matching import default_max_uses, match_cells
    from mosaicfast.options import MatchOptions

    cells, library = photo_cells(CELLS, COLS), bench_tiles(tiles)
    options = MatchOptions(descriptor="lab", grid=5, metric="color", rotate=mode == "rotate",
                           max_uses=default_max_uses(CELLS, tiles))  # fmt: skip
    start = time.perf_counter()
    match = match_cells(cells, library, (CELLS // COLS, COLS), options)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"| {mode} | {tiles:,} | {seconds:.2f} | {peak:.0f} | {int((match.turns > 0).sum()):,} "
          f"| {match.distance.mean():,.0f} |", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiles", type=int, default=190_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--one", choices=("mirror", "rotate"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one, args.tiles)
        return
    print("| setting | tiles | match s | peak MB | cells turned | mean distance |")
    print("|---|---|---|---|---|---|")
    for _ in range(args.rounds):
        for mode in ("mirror", "rotate"):
            command = [sys.executable, __file__, "--one", mode, "--tiles", str(args.tiles)]
            subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
