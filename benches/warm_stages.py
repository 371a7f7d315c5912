"""Warm builds of the new code beside a baseline, interleaved run by run (issue 14 item 5,
issue 16 item 4): `mosaicfast build TARGET --tiles DIR -o out.png` with default options
from an indexed folder, each run a fresh process, the baseline's Python tree (with its
compiled core) first on ``PYTHONPATH``; prints the medians of the wall time and of each
stage the CLI reports, and the load average before and after.

    .venv/bin/python benches/warm_stages.py --data .bench/first-mosaic --runs 5 \\
        --baseline /tmp/base/python

The data are ``benches/first_mosaic.py``'s (crops of scikit-image's sample photos, the
target Chelsea held out); make them with it first (``--files 10000 --data
.bench/first-mosaic-10k`` for 10,000 tiles). A baseline tree is made with e.g.
``git archive BASE python | tar -x -C /tmp/base`` plus a copy of that commit's built
``_core*.so`` into ``/tmp/base/python/mosaicfast``. Without ``--baseline`` only the
current code runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).parent))
from first_mosaic import build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(".bench/first-mosaic"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="the baseline's python/ folder")
    args = parser.parse_args()
    target, tiles = args.data / "target.png", args.data / "tiles"
    cache, out = args.data / "cache", args.data / "out.png"
    sides = {"new": os.environ.get("PYTHONPATH", "")}
    if args.baseline is not None:
        sides = {"baseline": str(args.baseline.resolve()), **sides}
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    for path in sides.values():  # one warm-up each: the library indexed, files cached
        build(target, tiles, cache, out, pythonpath=path)
    runs: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    for _ in range(args.runs):
        for side, path in sides.items():
            runs[side].append(build(target, tiles, cache, out, pythonpath=path))
    for side, found in runs.items():
        names = list(found[0])
        parts = "  ".join(f"{name} {median(run[name] for run in found):.2f}s" for name in names)
        print(f"{side} (median of {len(found)}): {parts}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
