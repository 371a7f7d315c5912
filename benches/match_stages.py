"""Where the match stage of a warm default build goes (issue 14 item 5, issue 16 item 4):
the build of ``benches/first_mosaic.py``'s job from its indexed library, in process,
``--runs`` times after one warm-up, with the match stage split into the top-k search,
the candidates' SSIM luma (read from the library), the SSIM kernel, the greedy, the local
improvement, and the rest (Python glue: scores, sorts, orientation repeats, wider
candidates); prints the median of each part.

    .venv/bin/python benches/match_stages.py --data .bench/first-mosaic --runs 5
    .venv/bin/python benches/match_stages.py --data .bench/first-mosaic-10k --runs 5

Make the data (and index them once) with ``benches/first_mosaic.py`` first.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from statistics import median
from typing import Any

from mosaicfast import api, matching

#: The parts timed, as (module, function name, label).
PARTS = (
    (matching.descriptors, "search_topk", "top-k search"),
    (matching, "candidate_ssim", "SSIM kernel"),
    (matching.assign, "penalised_greedy", "greedy"),
    (matching.assign, "improve_assignment", "improvement"),
)


@contextmanager
def timed_parts(seconds: dict[str, float]) -> Iterator[None]:
    """Adds each part's time to ``seconds`` while inside (the functions wrapped)."""
    originals = [(module, name, getattr(module, name)) for module, name, _ in PARTS]

    def wrap(function: Callable[..., Any], label: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[label] += time.perf_counter() - start

        return timed

    for (module, name, label), (_, _, function) in zip(PARTS, originals, strict=True):
        setattr(module, name, wrap(function, label))
    luma_loader = api._tile_luminance

    def loader(*args: Any) -> Callable[..., Any]:
        return wrap(luma_loader(*args), "candidates' luma")

    api._tile_luminance = loader
    try:
        yield
    finally:
        for module, name, function in originals:
            setattr(module, name, function)
        api._tile_luminance = luma_loader


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(".bench/first-mosaic"))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    library = next((args.data / "cache" / "libraries").iterdir())
    target = args.data / "target.png"
    api.build(target, library=library)  # warm-up: files in the page cache
    runs: list[dict[str, float]] = []
    for _ in range(args.runs):
        seconds: dict[str, float] = defaultdict(float)
        with timed_parts(seconds):
            mosaic = api.build(target, library=library)
        seconds["match"] = mosaic.timings["match"]
        seconds["rest (Python glue)"] = seconds["match"] - sum(
            seconds[label] for label in (*[p[2] for p in PARTS], "candidates' luma")
        )
        runs.append(seconds)
    print(f"{args.data}: {len(runs)} runs, load average {os.getloadavg()[0]:.1f}; medians:")
    for label in runs[0]:
        print(f"  {label:<20} {median(run[label] for run in runs):.3f} s")


if __name__ == "__main__":
    main()
