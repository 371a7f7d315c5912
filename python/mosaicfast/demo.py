"""``python -m mosaicfast.demo``: a mosaic from sample photos, with no user data.

The sample photos are the colour images that scikit-image ships inside its
package (public-domain and CC0 pictures; see scikit-image's
``skimage/data/README.txt``), so nothing is downloaded. One of them, Chelsea the
cat, is the target; square crops of all the others, at three scales, are the
tiles. The demo then runs the real command line on them: it indexes the tiles
into ``demo/library`` and builds ``demo/mosaic.png``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

__all__ = ["main", "make_sample_data", "sample_photo", "square_crops"]

TARGET = "chelsea"
TILE_SOURCES = (
    "astronaut",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "colorwheel",
    "camera",
    "coins",
    "moon",
    "brick",
    "grass",
    "gravel",
    "clock",
    "page",
)
CROP_SCALES = (1 / 8, 1 / 4, 1 / 2)


def sample_photo(name: str) -> NDArray[np.uint8]:
    """The scikit-image sample photo ``name`` as ``(height, width, 3)`` RGB."""
    try:
        import skimage.data
    except ImportError as err:
        raise SystemExit(
            "the demo uses the sample photos shipped with scikit-image: "
            "pip install scikit-image (make demo installs it)"
        ) from err
    pixels = np.asarray(getattr(skimage.data, name)())
    return np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels[..., :3]


def square_crops(pixels: NDArray[np.uint8]) -> Iterator[NDArray[np.uint8]]:
    """Overlapping square crops at several scales, each stepped by half its side."""
    height, width = pixels.shape[:2]
    for scale in CROP_SCALES:
        side = max(16, int(min(height, width) * scale))
        step = side // 2
        for top in range(0, height - side + 1, step):
            for left in range(0, width - side + 1, step):
                yield pixels[top : top + side, left : left + side]


def make_sample_data(folder: Path) -> tuple[Path, Path, int]:
    """Write the demo target and tile photos under ``folder``.

    Returns
    -------
    target, tiles, count : Path, Path, int
        The target image, the tile folder and the number of tile files.
    """
    tiles = folder / "tiles"
    tiles.mkdir(parents=True, exist_ok=True)
    target = folder / "target.png"
    Image.fromarray(sample_photo(TARGET)).save(target)
    count = 0
    for name in TILE_SOURCES:
        for i, crop in enumerate(square_crops(sample_photo(name))):
            Image.fromarray(crop).save(tiles / f"{name}-{i:04d}.jpg", quality=90)
            count += 1
    return target, tiles, count


def _run(*args: str) -> None:
    """Run one ``mosaicfast`` command as a user would, stopping the demo if it fails."""
    print("$ mosaicfast " + " ".join(args), flush=True)
    result = subprocess.run([sys.executable, "-m", "mosaicfast", *args], check=False)
    if result.returncode != 0:
        raise SystemExit(result.returncode)


def main() -> None:
    """Make the sample data in ``demo/``, index it and build ``demo/mosaic.png``."""
    folder = Path("demo")
    target, tiles, count = make_sample_data(folder)
    print(f"sample data: target {target}, {count} tile photos in {tiles}/")
    library, output = folder / "library", folder / "mosaic.png"
    _run("index", str(tiles), "--library", str(library))
    _run("library", "info", str(library))
    _run(
        "build", str(target), "--library", str(library), "-o", str(output),
        "--manifest", str(folder / "mosaic.json"),
    )  # fmt: skip
    print(f"the mosaic is in {output.resolve()}")


if __name__ == "__main__":
    main()
