"""What each fidelity lever costs at 10,000 tiles, stage by stage, on one target of the
quality benchmark (the medians of ``--repeat`` runs, wall seconds, this machine).

    .venv/bin/python benches/quality/costs.py --target china --repeat 3

Stages timed: describing the cells; the core's exhaustive top-k search for each
descriptor width and number of orientations (the cost grows with width x orientations x
tiles, so the 190,000-tile figure is this one times 19); SSIM re-ranking of the top 32 at
8 and 16 px; the core's penalised greedy (with the flat tiles' copies, as the prototype
does them); the core's certified optimum with a capacity of 1% of the cells on the 5x5
CIELAB grid mosaicfast uses; the prototype's local moves and swaps (plain Python) and
the core's local improvement (``--improve 2``) on the same greedy result.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from dataset import make_dataset
from levers import Descriptor, Recipe, cell_samples, improve, quantised
from PIL import Image
from run import ENLARGEMENT, FINE_W, TILE_SIZE, YL, Bench

from mosaicfast.kernels import assign, descriptors
from mosaicfast.plan import plan_grid


def median_seconds(work: Callable[[], object], repeat: int) -> float:
    """The median wall time of ``repeat`` calls of ``work``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="china")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bench = Bench(make_dataset())
    matcher, repeat = bench.matcher, args.repeat
    target = Image.open(bench.data.target(args.target)).convert("RGB")
    plan = plan_grid(target.size, tile_size=TILE_SIZE, enlargement=ENLARGEMENT)
    grid = (plan.rows, plan.cols)
    m, n = plan.rows * plan.cols, matcher.n
    cap = round(0.01 * m)
    print(f"{args.target}: {m:,} cells, {n:,} tiles, max uses {cap}; medians of {repeat}")
    print("| stage | setting | seconds |\n|---|---|---|")

    def row(stage: str, setting: str, seconds: float) -> None:
        print(f"| {stage} | {setting} | {seconds:.3f} |", flush=True)

    samples = cell_samples(target, grid, 40)
    row("describe cells", "40-px samples, box filter", median_seconds(
        lambda: cell_samples(target, grid, 40), repeat))  # fmt: skip
    widths = [("5x5 Lab (d=75)", Descriptor()), ("L8 + ab4 (d=96)", YL),
              ("L8 + ab8 (d=192)", Descriptor(8, 8, 1, 0.5, 0, "y-lab"))]  # fmt: skip
    for name, descriptor in widths:
        cells = descriptor(samples)
        for orientations in (1, 2, 8):
            space = matcher.tile_descriptors(descriptor, orientations)
            cell_q, tile_q, _ = quantised(cells, space)
            seconds = median_seconds(
                lambda c=cell_q, t=tile_q, o=orientations: descriptors.search_topk(c, t, 32 * o),
                repeat,
            )
            row("search top-32", f"{name}, {orientations} orientation(s)", seconds)
    cells = YL(samples)
    found = matcher._candidates(cells, matcher.tile_descriptors(YL, 1), 32)
    for size in (8, 16):
        recipe = Recipe(descriptor=YL, ssim_weight=0.3, match_size=size)
        matcher.tile_luma(size, 1)
        row("SSIM re-rank", f"top 32 at {size} px", median_seconds(
            lambda r=recipe: matcher._rerank(found, target, grid, r), repeat))  # fmt: skip
    order = assign.hardest_first(found.score)
    for copies in (0, 19):
        wide = found.with_copies(matcher.flat_tiles(2.0), copies) if copies else found
        ids = n * (1 + copies)
        row("penalised greedy", f"penalty 0, flat copies {copies}, width {wide.width}",
            median_seconds(lambda w=wide, i=ids: assign.penalised_greedy(
                w.tiles, w.score, order, i, penalty=0.0, max_uses=cap, min_distance=1,
                shape=grid), repeat))  # fmt: skip
    lab = Descriptor()
    cell_q, tile_q, _ = quantised(lab(samples), matcher.tile_descriptors(lab, 1))
    row("certified optimum", f"5x5 Lab, capacity {cap}", median_seconds(
        lambda: assign.certified_optimum(cell_q, tile_q, capacity=cap), 1))  # fmt: skip
    chosen, _ = assign.penalised_greedy(found.tiles, found.score, order, n, penalty=0.0,
                                        max_uses=cap, min_distance=1, shape=grid)  # fmt: skip
    recipe = Recipe(descriptor=FINE_W, penalty=0.0, improve=3)
    row("local moves and swaps", "3 passes, Python", median_seconds(
        lambda: improve(found, found.columns(chosen), grid, recipe, cap), 1))  # fmt: skip
    for threads in (1, 2):
        row("local improvement", f"2 passes, the core, {threads} thread(s)", median_seconds(
            lambda t=threads: assign.improve_assignment(
                found.tiles, found.score, chosen, n, penalty=0.0, max_uses=cap, min_distance=1,
                shape=grid, max_passes=2, threads=t), repeat))  # fmt: skip


if __name__ == "__main__":
    main()
