"""What colour fidelity the library allows under the use limit (issue 14 item 1).

    .venv/bin/python benches/quality/reachable.py                     # every target
    .venv/bin/python benches/quality/reachable.py --targets chelsea,coffee
    .venv/bin/python benches/quality/reachable.py --orientations 8   # quarter turns too

For each target, the least mean CIEDE2000 any assignment of the library's tiles can
reach, measured as ``mosaicfast evaluate`` measures it (8 px per cell, tiles untouched at
50 px, a tile or its mirror image, whichever is closer; with ``--orientations 8`` also
their quarter turns, as ``--rotate`` allows), with no tile in more than 1%,
2% or 5% of the cells (a flat tile, by the product's rule, 20 times that), and with no
limit. Each is the exact optimum of a transportation problem (the core's
``optimal_assignment``, certified by its duals) over every cell's ``--shortlist``
nearest tiles by squared CIELAB difference of the 8 x 8 patches: the cost of a cell and
a tile is the cell's mean CIEDE2000, which is what ``evaluate`` averages, so the total is
the mosaic's figure. It ignores the min distance and SSIM, so a real mosaic under the
diversity rules can only do worse; the shortlist makes it a close upper estimate of the
true optimum rather than a bound (a wider shortlist changes it little: ``--shortlist``).
Beside it, the classic tool's figure from the last ``run.py`` row, when there is one.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from dataset import LIBRARY_NAMES, data_folder, make_dataset
from numpy.typing import NDArray
from photos import TARGETS
from PIL import Image
from summary import latest

from mosaicfast.kernels.assign import optimal_assignment
from mosaicfast.kernels.orientation import orient
from mosaicfast.kernels.resample import resize_tiles
from mosaicfast.library.store import Library
from mosaicfast.matching import FLAT_GRID, flat_tiles
from mosaicfast.quality import PIXELS_PER_CELL, ciede2000, srgb_to_lab

TILE_SIZE = 50
FLAT_WEIGHT = 20
CAPS = (0.01, 0.02, 0.05)
P = PIXELS_PER_CELL


def tile_patches(thumbs: NDArray[np.uint8], orientations: int = 2) -> NDArray[np.float64]:
    """``(n, orientations, P*P, 3)`` CIELAB of every tile at 50 px reduced to 8 px (box),
    upright and mirrored (with 8 orientations, each also turned): what ``evaluate`` sees of
    a tile in a cell."""
    tiles = resize_tiles(thumbs, TILE_SIZE)
    small = np.stack([np.asarray(Image.fromarray(t).resize((P, P), Image.Resampling.BOX))
                      for t in tiles])  # fmt: skip
    laid = np.stack([orient(small, code) for code in range(orientations)], axis=1)
    return srgb_to_lab(laid).reshape(len(tiles), orientations, P * P, 3)


def cell_patches(target: Image.Image) -> tuple[NDArray[np.float64], tuple[int, int]]:
    """``(m, P*P, 3)`` CIELAB of the target's cells as ``evaluate`` reduces it."""
    cols = target.width * 8 // TILE_SIZE
    rows = target.height * 8 // TILE_SIZE
    small = np.asarray(target.resize((cols * P, rows * P), Image.Resampling.BOX))
    patches = small.reshape(rows, P, cols, P, 3).transpose(0, 2, 1, 3, 4)
    return srgb_to_lab(patches).reshape(rows * cols, P * P, 3), (rows, cols)


def candidates(
    cells: NDArray[np.float64], tiles: NDArray[np.float64], shortlist: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Each cell's ``shortlist`` nearest tiles (squared CIELAB patch difference, the
    best orientation) and their exact mean CIEDE2000, best first."""
    n, k = tiles.shape[:2]
    flat_tiles_ = tiles.reshape(n * k, -1).astype(np.float32)
    t_norm = (flat_tiles_**2).sum(axis=1)
    cand = np.empty((len(cells), shortlist), np.int64)
    cost = np.empty((len(cells), shortlist))
    for start in range(0, len(cells), 128):
        block = cells[start : start + 128].reshape(-1, tiles.shape[2] * 3).astype(np.float32)
        d = t_norm[None, :] - 2 * block @ flat_tiles_.T
        d = d.reshape(len(block), n, k).min(axis=2)
        near = np.argpartition(d, shortlist, axis=1)[:, :shortlist]
        # exact CIEDE2000 of every orientation of each near tile
        a = block.reshape(len(block), 1, 1, -1, 3).astype(np.float64)
        b = tiles[near]  # (c, s, 2, P*P, 3)
        de = ciede2000(np.broadcast_to(a, b.shape), b).mean(axis=3).min(axis=2)
        order = np.argsort(de, axis=1, kind="stable")
        cand[start : start + len(block)] = np.take_along_axis(near, order, axis=1)
        cost[start : start + len(block)] = np.take_along_axis(de, order, axis=1)
    return cand, cost


def capped_optimum(
    cand: NDArray[np.int64], cost: NDArray[np.float64], flat: NDArray[np.bool_], cap: int
) -> float:
    """Least mean cost with every tile at most ``cap`` uses, a flat one ``20 * cap``: the
    flat tiles stand as 20 tiles each of capacity ``cap``."""
    n = len(flat)
    flat_ids = np.flatnonzero(flat)
    extra = np.full(n, -1, np.int64)
    extra[flat_ids] = n + np.arange(len(flat_ids)) * (FLAT_WEIGHT - 1)
    copies = [cand]
    for j in range(FLAT_WEIGHT - 1):
        copies.append(np.where(flat[cand], extra[cand] + j, -1))
    wide_cand = np.concatenate(copies, axis=1)
    wide_cost = np.concatenate([cost] * FLAT_WEIGHT, axis=1)
    keep = wide_cand >= 0
    order = np.argsort(~keep, axis=1, kind="stable")  # real candidates first
    wide_cand = np.take_along_axis(wide_cand, order, axis=1)
    wide_cost = np.where(np.take_along_axis(keep, order, axis=1),
                         np.take_along_axis(wide_cost, order, axis=1), 0.0)  # fmt: skip
    width = int(keep.sum(axis=1).max())
    result = optimal_assignment(wide_cand[:, :width], wide_cost[:, :width],
                                n + len(flat_ids) * (FLAT_WEIGHT - 1), capacity=cap)  # fmt: skip
    return result.total_cost / len(cand)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default="all", help="comma-separated names, or all")
    parser.add_argument("--shortlist", type=int, default=96)
    parser.add_argument(
        "--orientations", type=int, choices=(2, 8), default=2,
        help="2: a tile or its mirror image; 8: their quarter turns too",
    )  # fmt: skip
    parser.add_argument("--library", choices=LIBRARY_NAMES, default="standard")
    args = parser.parse_args()
    names = [t.name for t in TARGETS] if args.targets == "all" else args.targets.split(",")
    data = make_dataset(library=args.library)
    with Library.open(data.library) as lib:
        rows = lib.tiles_in_use()
        thumbs = lib.thumbnails(rows.slots)
        desc = lib.tile_descriptors(FLAT_GRID, rows.slots, space="ylab")
        flat = flat_tiles(desc, lambda r: thumbs[r], thumbs.shape[1])
    tiles = tile_patches(thumbs, args.orientations)
    results = data_folder(args.library) / "results.jsonl"
    measured = latest(results) if results.exists() else {}
    caps = " | ".join(f"{c:.0%} uses" for c in CAPS)
    print(f"| target | cells | classic | no limit | {caps} | seconds |")
    print("|---|---|---|---|" + "---|" * len(CAPS) + "---|")
    for name in names:
        start = time.perf_counter()
        cells, _ = cell_patches(Image.open(data.target(name)).convert("RGB"))
        cand, cost = candidates(cells, tiles, args.shortlist)
        figures = [cost[:, 0].mean()]
        for share in CAPS:
            figures.append(capped_optimum(cand, cost, flat, max(1, round(share * len(cells)))))
        classic = measured.get((name, "classic"), {}).get("delta_e", float("nan"))
        cells_s = " | ".join(f"{f:.2f}" for f in figures)
        print(f"| {name} | {len(cells):,} | {classic:.2f} | {cells_s} "
              f"| {time.perf_counter() - start:.0f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
