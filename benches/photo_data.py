"""Descriptors of real photographs at any library size, for the pruning benchmarks.

Synthetic descriptors (``baselines.synthetic_descriptors``) are easy for a KD-tree:
their variation lives in a few directions. Crops of real photos are not: layouts,
edges and textures spread the variance over many. These tiles are random square
crops (random position, side from 12 pixels to 60% of the short side, one of the
8 rotations and mirror images) of scikit-image's sample photos, which ship with
the package (nothing is downloaded); the cells are four other sample photos cut
into a grid as ``mosaicfast.api`` cuts a target. Tile descriptors are cached in
``.bench/photo-tiles`` since 190,000 crops take about 20 s to make.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from mosaicfast.demo import TARGET, TILE_SOURCES, sample_photo
from mosaicfast.kernels.descriptors import cell_descriptors, tile_descriptors

GRID = 5
TARGETS = (TARGET, "astronaut", "coffee", "rocket")
"""Photos cut into cells; they are never cropped into tiles."""
SAMPLES_PER_BLOCK = 4
"""Pixels per block side when sampling, as ``mosaicfast.api`` does."""
CACHE = Path(__file__).resolve().parent.parent / ".bench" / "photo-tiles"
CACHED_TILES = 50_000
"""Benchmark libraries at least this large are cached in ``CACHE``."""
SEED = 0


def photo_tiles(count: int, seed: int = SEED, cache: Path | None = CACHE) -> NDArray[np.int16]:
    """``(count, 75)`` descriptors of random crops of the sample photos (not the targets).

    The first ``n`` of a larger call equal a call for ``n`` with the same seed.
    """
    path = None if cache is None else cache / f"tiles-{seed}-{count}.npy"
    if path is not None and path.exists():
        return np.load(path)
    rng = np.random.default_rng(seed)
    photos = [Image.fromarray(sample_photo(name)) for name in TILE_SOURCES if name not in TARGETS]
    side = GRID * SAMPLES_PER_BLOCK
    thumbs = np.empty((count, side, side, 3), dtype=np.uint8)
    for i in range(count):
        photo = photos[rng.integers(len(photos))]
        width, height = photo.size
        crop = int(rng.uniform(12, 0.6 * min(width, height)))
        left, top = rng.integers(0, width - crop + 1), rng.integers(0, height - crop + 1)
        box = (int(left), int(top), int(left) + crop, int(top) + crop)
        pixels = np.asarray(photo.crop(box).resize((side, side), Image.Resampling.BOX))
        orientation = int(rng.integers(8))
        if orientation & 1:
            pixels = pixels[:, ::-1]
        thumbs[i] = np.rot90(pixels, orientation >> 1)
    descriptors = tile_descriptors(thumbs, GRID)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, descriptors)
    return descriptors


def bench_tiles(count: int) -> NDArray[np.int16]:
    """``photo_tiles(count)``, cached on disk only from ``CACHED_TILES`` tiles up."""
    return photo_tiles(count, cache=CACHE if count >= CACHED_TILES else None)


def photo_cells(count: int, cols: int = 96, bars: float = 0.0) -> NDArray[np.int16]:
    """The first ``count`` cell descriptors of the target photos, ``cols`` cells across each;
    with ``bars``, each photo letterboxed first (black bars over that fraction of its height,
    top and bottom, as on a video frame: their cells are identical)."""
    cells = []
    for name in TARGETS:
        pixels = sample_photo(name).copy()
        bar = round(bars * len(pixels))
        pixels[:bar] = 0
        pixels[len(pixels) - bar :] = 0
        image = Image.fromarray(pixels)
        rows = max(1, round(cols * image.height / image.width))
        side = GRID * SAMPLES_PER_BLOCK
        sampled = image.resize((cols * side, rows * side), Image.Resampling.BOX)
        cells.append(cell_descriptors(np.asarray(sampled), rows, cols, GRID))
    available = np.concatenate(cells)
    if count > len(available):
        raise ValueError(f"the target photos give {len(available)} cells, asked for {count}")
    return np.ascontiguousarray(available[:count])
