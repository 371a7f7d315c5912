"""How well the library covers each target's colours: per target, the share of cells
(8 px per cell, as ``evaluate`` measures) whose mean CIELAB colour has no library tile,
or fewer than 5, within ΔE76 5 of it (tiles by the mean colour of their thumbnails).

    .venv/bin/python benches/quality/colours.py
"""

from __future__ import annotations

import numpy as np
from dataset import make_dataset
from photos import TARGETS
from PIL import Image
from skimage.color import rgb2lab

from mosaicfast.library.store import Library

CELL_PIXELS = 8
TILE_SIZE = 50
NEAR = 5.0
FEW = 5


def main() -> None:
    data = make_dataset()
    with Library.open(data.library) as lib:
        thumbs = lib.thumbnails(lib.tiles_in_use().slots)
    tiles = rgb2lab(thumbs.reshape(-1, 1, 3)).reshape(thumbs.shape).mean(axis=(1, 2))
    print("| target | cells | max uses | no tile near | fewer than 5 | median tiles near |")
    print("|---|---|---|---|---|---|")
    for photo in TARGETS:
        image = Image.open(data.target(photo.name)).convert("RGB")
        size = (image.width * CELL_PIXELS // TILE_SIZE, image.height * CELL_PIXELS // TILE_SIZE)
        cells = rgb2lab(np.asarray(image.resize(size, Image.Resampling.BOX))).reshape(-1, 3)
        near = np.array([(np.linalg.norm(tiles - c, axis=1) <= NEAR).sum() for c in cells])
        print(f"| {photo.name} | {len(cells):,} | {max(1, round(0.01 * len(cells)))} "
              f"| {np.mean(near == 0):.1%} | {np.mean(near < FEW):.1%} "
              f"| {int(np.median(near))} |")  # fmt: skip


if __name__ == "__main__":
    main()
