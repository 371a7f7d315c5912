"""The quality benchmark's data, made once in ``.bench/quality`` from the photos of
:mod:`photos`: the targets, about 10,000 tile photos and the library ``mosaicfast index``
makes of them.

* **Targets**: each target photo resized (Lanczos) so its longest side is 600 px, then
  centre-cropped so both sides are multiples of 25 px: at 8x enlargement and 50-px tiles
  the grid then covers the target exactly (96 cells across a 600-px side), for
  mosaicfast and the classic tool alike.
* **Tiles**: random square crops of one tile library's sources (``standard`` or
  ``wide``, :data:`photos.TILE_LIBRARIES`; a source picked uniformly, a side
  uniform from 24 px to 60% of its short side, a uniform position; upright, as a user's
  photos are), saved as JPEG (quality 90), at most 128 px a side.
* **Library**: ``mosaicfast index TILES --library LIBRARY`` with the default options
  (64-px thumbnails, near duplicates set aside), as a user gets it.

The standard library's data are in ``.bench/quality``, the wide one's in
``.bench/quality/wide`` (:func:`data_folder`), each with its own targets, results and
mosaics.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from photos import TARGETS, TILE_LIBRARIES, Photo, load
from PIL import Image

__all__ = ["DATA", "LIBRARY_NAMES", "Dataset", "data_folder", "make_dataset"]

DATA = Path(__file__).resolve().parents[2] / ".bench" / "quality"
TARGET_SIDE = 600
SIDE_MULTIPLE = 25
MIN_CROP = 24
MAX_CROP_SHARE = 0.6
MAX_TILE_SIDE = 128
LIBRARY_NAMES = tuple(TILE_LIBRARIES)


def data_folder(library: str = "standard") -> Path:
    """Where the data of the tile library ``library`` (a name of :data:`LIBRARY_NAMES`) go."""
    return DATA if library == "standard" else DATA / library


@dataclass(frozen=True)
class Dataset:
    """Where the data of one tile count and seed are."""

    folder: Path
    tiles: int
    seed: int

    @property
    def targets(self) -> Path:
        return self.folder / "targets"

    @property
    def tile_folder(self) -> Path:
        return self.folder / f"tiles-{self.tiles}-{self.seed}"

    @property
    def library(self) -> Path:
        return self.folder / f"library-{self.tiles}-{self.seed}"

    def target(self, name: str) -> Path:
        return self.targets / f"{name}.png"


def target_pixels(photo: Photo) -> NDArray[np.uint8]:
    """The photo at 600 px on its longest side, both sides cut to multiples of 25 px."""
    image = Image.fromarray(load(photo))
    scale = TARGET_SIDE / max(image.size)
    size = tuple(max(SIDE_MULTIPLE, round(side * scale)) for side in image.size)
    image = image.resize(size, Image.Resampling.LANCZOS)
    width, height = (side - side % SIDE_MULTIPLE for side in size)
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    return np.asarray(image.crop((left, top, left + width, top + height)))


def _write_tiles(folder: Path, count: int, seed: int, sources: tuple[Photo, ...]) -> None:
    rng = np.random.default_rng(seed)
    photos = [(photo.name, Image.fromarray(load(photo))) for photo in sources]
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for i in range(count):
        name, photo = photos[rng.integers(len(photos))]
        width, height = photo.size
        side = int(rng.uniform(MIN_CROP, MAX_CROP_SHARE * min(width, height)))
        left = int(rng.integers(0, width - side + 1))
        top = int(rng.integers(0, height - side + 1))
        crop = photo.crop((left, top, left + side, top + side))
        if side > MAX_TILE_SIDE:
            crop = crop.resize((MAX_TILE_SIDE, MAX_TILE_SIDE), Image.Resampling.LANCZOS)
        crop.save(tmp / f"{name}-{i:05d}.jpg", quality=90)
    tmp.rename(folder)


def make_dataset(
    tiles: int = 10_000, seed: int = 0, folder: Path | None = None, library: str = "standard"
) -> Dataset:
    """Make (once; reused while the recipe is unchanged) the targets, tiles and library of
    the tile library ``library``, in ``folder`` (default :func:`data_folder`)."""
    folder = data_folder(library) if folder is None else folder
    sources = TILE_LIBRARIES[library]
    data = Dataset(folder, tiles, seed)
    recipe = {
        **asdict(data),
        "folder": str(folder),
        "targets": [t.name for t in TARGETS],
        "sources": [s.name for s in sources],
        "crop": [MIN_CROP, MAX_CROP_SHARE, MAX_TILE_SIDE],
    }
    stamp = data.library / "recipe.json"
    if stamp.exists() and json.loads(stamp.read_text()) == recipe:
        return data
    data.targets.mkdir(parents=True, exist_ok=True)
    for photo in TARGETS:
        Image.fromarray(target_pixels(photo)).save(data.target(photo.name))
    shutil.rmtree(data.tile_folder, ignore_errors=True)
    shutil.rmtree(data.library, ignore_errors=True)
    print(f"writing {tiles:,} tile photos to {data.tile_folder}", file=sys.stderr)
    _write_tiles(data.tile_folder, tiles, seed, sources)
    command = [sys.executable, "-m", "mosaicfast", "index", str(data.tile_folder),
               "--library", str(data.library)]  # fmt: skip
    print("$ mosaicfast " + " ".join(command[3:]), file=sys.stderr)
    subprocess.run(command, check=True)
    stamp.write_text(json.dumps(recipe))
    return data


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--library", choices=LIBRARY_NAMES, default="standard")
    print(make_dataset(library=parser.parse_args().library))
