"""How far a blend chosen cell by cell could take CIEDE2000 (issue 14 item 2).

    .venv/bin/python benches/quality/blend_cells.py --targets hubble_deep_field

Builds each target with the defaults (max uses 1% of the cells) at several blend
strengths, the same assignment each time, and measures every cell's mean CIEDE2000 as
``evaluate`` does (8 px per cell). Prints the mosaic's figure at each strength and the
figure if every cell took its best strength among them: what a blend adapting per cell
(among these strengths) could reach at most.
"""

from __future__ import annotations

import argparse

import numpy as np
from dataset import make_dataset
from photos import TARGETS
from PIL import Image
from run import ENLARGEMENT, MAX_USES_SHARE, TILE_SIZE

import mosaicfast
from mosaicfast.plan import plan_grid
from mosaicfast.quality import PIXELS_PER_CELL, ciede2000, srgb_to_lab

STRENGTHS = (0.0, 0.5, 0.75, 1.0)
P = PIXELS_PER_CELL


def cell_delta_e(target: Image.Image, mosaic: Image.Image, rows: int, cols: int) -> np.ndarray:
    """``(rows * cols,)`` mean CIEDE2000 of each cell, both images reduced as ``evaluate``
    reduces them."""
    size = (cols * P, rows * P)
    a, b = (srgb_to_lab(np.asarray(im.convert("RGB").resize(size, Image.Resampling.BOX)))
            for im in (target, mosaic))  # fmt: skip
    de = ciede2000(a, b).reshape(rows, P, cols, P)
    return de.mean(axis=(1, 3)).ravel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default="all", help="comma-separated names, or all")
    args = parser.parse_args()
    names = [t.name for t in TARGETS] if args.targets == "all" else args.targets.split(",")
    data = make_dataset()
    heads = " | ".join(f"blend {s:g}" for s in STRENGTHS)
    print(f"| target | {heads} | best per cell |")
    print("|---|" + "---|" * (len(STRENGTHS) + 1))
    for name in names:
        path = data.target(name)
        target = Image.open(path).convert("RGB")
        plan = plan_grid(target.size, tile_size=TILE_SIZE, enlargement=ENLARGEMENT)
        uses = max(1, round(MAX_USES_SHARE * plan.cells))
        per_cell = []
        for strength in STRENGTHS:
            mosaic = mosaicfast.build(
                path, library=data.library, enlargement=ENLARGEMENT, tile_size=TILE_SIZE,
                max_uses=uses, blend=strength,
            )  # fmt: skip
            per_cell.append(cell_delta_e(target, mosaic.image, plan.rows, plan.cols))
        figures = [d.mean() for d in per_cell] + [np.min(per_cell, axis=0).mean()]
        print(f"| {name} | " + " | ".join(f"{f:.2f}" for f in figures) + " |", flush=True)


if __name__ == "__main__":
    main()
