"""Stage times of adaptive cells against the plain grid (docs/adaptive.md): each target
built plain and adaptive one after the other, untouched and blended, warm (the first
round is not counted); medians of the stages printed per setting.

    .venv/bin/python benches/quality/adaptive_times.py --targets grace_hopper,china,chelsea
"""

from __future__ import annotations

import argparse
import os
import statistics

from dataset import make_dataset

import mosaicfast

STAGES = ("target", "open library", "plan cells", "describe", "match", "render")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default="grace_hopper,china,chelsea")
    parser.add_argument("--rounds", type=int, default=2, help="counted rounds per target")
    args = parser.parse_args()
    data = make_dataset()
    runs: dict[tuple[float, bool], list[dict[str, float]]] = {}
    for name in args.targets.split(","):
        for blend in (0.0, 0.5):
            for counted in [False] + [True] * args.rounds:
                for adaptive in (False, True):
                    mosaic = mosaicfast.build(data.target(name), library=data.library,
                                              tile_size=50, enlargement=8.0, adaptive=adaptive,
                                              blend=blend)  # fmt: skip
                    mosaic.image  # noqa: B018 (timed as render)
                    if counted:
                        runs.setdefault((blend, adaptive), []).append(dict(mosaic.timings))
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("| setting | " + " | ".join(STAGES) + " | total |")
    for (blend, adaptive), timings in runs.items():
        cells = [statistics.median(t.get(s, 0.0) for t in timings) for s in STAGES]
        total = statistics.median(sum(t.values()) for t in timings)
        setting = f"{'adaptive' if adaptive else 'plain'}, blend {blend:g}"
        print(f"| {setting} | " + " | ".join(f"{c:.2f}" for c in cells) + f" | {total:.2f} |")


if __name__ == "__main__":
    main()
