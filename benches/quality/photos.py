"""The real photographs of the quality benchmark: where each comes from, and which are targets.

Every picture ships inside a maintained package, so nothing is downloaded:

* scikit-image's sample data (``skimage.data``, public-domain and CC0 pictures);
* scikit-learn's sample images (``sklearn.datasets.load_sample_image``: china, flower);
* matplotlib's ``mpl-data/sample_data/grace_hopper.jpg`` (a portrait);
* PyWavelets' test images (``pywt.data``: aero, ascent);
* the example data of OpenCV's documentation, Debian's ``opencv-doc`` package
  (``/usr/share/doc/opencv-doc/examples/data``: street, building, fruit, animal and
  sports photos);
* for the wider tile library only, the photographs among the desktop wallpapers of
  Debian's ``plasma-workspace-wallpapers`` and ``mate-backgrounds`` packages
  (landscapes, water, leaves, flowers, grass, architecture; :data:`WALLPAPERS`).

Synthetic pictures (drawings, renders, test charts, a painting, composites) are left
out. The :data:`TARGETS` are never cut into tiles; neither is a second view of the same
scene (:data:`RELATED`). The other photos are the tile sources of the two tile
libraries, :data:`TILE_LIBRARIES`: ``standard`` (:data:`TILE_SOURCES`, 41 photos) and
``wide`` (those and :data:`WALLPAPERS`, 63 photos).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

__all__ = [
    "OPENCV_DATA", "RELATED", "TARGETS", "TILE_LIBRARIES", "TILE_SOURCES", "WALLPAPERS",
    "Photo", "load",
]  # fmt: skip

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
PLASMA_WALLPAPERS = Path("/usr/share/wallpapers")
MATE_BACKGROUNDS = Path("/usr/share/backgrounds/mate/nature")
#: Wallpapers are read at this many pixels on their longest side (Lanczos), about the
#: size of the other sources (512-1,024 px), so that a crop spans a like share of a scene.
WALLPAPER_SIDE = 1024


@dataclass(frozen=True)
class Photo:
    """A photograph shipped in a package.

    Attributes
    ----------
    name : str
        Short unique name.
    package : str
        The package that ships it.
    kind : str
        What sort of picture it is (for targets: the case it stands for).
    why : str
        For targets: why it is in the evaluation.
    """

    name: str
    package: str
    kind: str = ""
    why: str = ""


TARGETS = (
    Photo("grace_hopper", "matplotlib", "portrait",
          "smooth skin and dark uniform beside fine braid and medals: the issue's worst case"),
    Photo("astronaut", "scikit-image", "portrait",
          "a colourful portrait with a flag and a white suit"),
    Photo("chelsea", "scikit-image", "close-up", "fur texture and large smooth areas (the demo)"),
    Photo("coffee", "scikit-image", "close-up", "saturated reds, a specular cup, a plain table"),
    Photo("flower", "scikit-learn", "close-up", "a saturated macro on a dark green background"),
    Photo("china", "scikit-learn", "landscape", "sky, foliage and a temple's fine detail"),
    Photo("leuvenA", "Debian opencv-doc", "landscape",
          "a cobbled street of brick houses under a grey sky"),
    Photo("building", "Debian opencv-doc", "high-key", "a white building under a bright sky"),
    Photo("immunohistochemistry", "scikit-image", "high-key",
          "stained tissue on a white background"),
    Photo("hubble_deep_field", "scikit-image", "low-key", "points of light on black"),
)  # fmt: skip

RELATED = (Photo("leuvenB", "Debian opencv-doc"),)
"""Other views of a target's scene: neither a target nor a tile source."""

_SKIMAGE = [
    "brick", "camera", "cell", "clock", "coins", "grass", "gravel", "moon",
    "motorcycle_left", "motorcycle_right", "page", "retina", "rocket", "text",
]  # fmt: skip
_OPENCV = [
    "aero1.jpg", "aero3.jpg", "aloeL.jpg", "aloeR.jpg", "apple.jpg", "baboon.jpg",
    "basketball1.png", "board.jpg", "box_in_scene.png", "butterfly.jpg", "chicky_512.png",
    "ela_original.jpg", "fruits.jpg", "graf1.png", "home.jpg", "left01.jpg",
    "licenseplate_motion.jpg", "messi5.jpg", "orange.jpg", "right01.jpg", "rubberwhale1.png",
    "squirrel_cls.jpg", "stuff.jpg", "sudoku.png", "text_defocus.jpg",
]  # fmt: skip

TILE_SOURCES = (
    *(Photo(name, "scikit-image") for name in _SKIMAGE),
    *(Photo(name, "PyWavelets") for name in ("aero", "ascent")),
    *(Photo(Path(file).stem, "Debian opencv-doc", kind=file) for file in _OPENCV),
)
"""Photos cut into the standard tile library."""

_PLASMA = [
    "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf",
    "Grey", "OneStandsOut", "Path", "summer_1am",
]  # fmt: skip
_MATE = [
    "Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird",
    "RainDrops", "Storm", "TwoWings", "Wood", "YellowFlower",
]  # fmt: skip

WALLPAPERS = (
    *(Photo(name, "Debian plasma-workspace-wallpapers") for name in _PLASMA),
    *(Photo(name, "Debian mate-backgrounds") for name in _MATE),
)
"""The photographs among two desktop-wallpaper packages (the drawings, renders and the
one photo with a drawn kite left out), added to the tile sources of the wider library."""

TILE_LIBRARIES = {"standard": TILE_SOURCES, "wide": (*TILE_SOURCES, *WALLPAPERS)}
"""The tile libraries by name: which photos each is cut from."""


def _as_rgb(pixels: NDArray) -> NDArray[np.uint8]:
    pixels = np.asarray(pixels, dtype=np.uint8)
    return np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels[..., :3]


def _skimage(name: str) -> NDArray[np.uint8]:
    import skimage.data

    if name.startswith("motorcycle_"):  # a stereo pair: left, right, disparity
        left, right, _ = skimage.data.stereo_motorcycle()
        return _as_rgb(left if name.endswith("left") else right)
    return _as_rgb(getattr(skimage.data, name)())


def _sklearn(name: str) -> NDArray[np.uint8]:
    from sklearn.datasets import load_sample_image

    return _as_rgb(load_sample_image(f"{name}.jpg"))


def _matplotlib(name: str) -> NDArray[np.uint8]:
    from matplotlib import cbook

    with cbook.get_sample_data(f"{name}.jpg") as file:
        return _as_rgb(np.asarray(Image.open(file).convert("RGB")))


def _pywavelets(name: str) -> NDArray[np.uint8]:
    import pywt.data

    return _as_rgb(getattr(pywt.data, name)())


def _opencv(name: str) -> NDArray[np.uint8]:
    files = sorted(OPENCV_DATA.glob(f"{name}.*"))
    if not files:
        raise SystemExit(
            f"{OPENCV_DATA}/{name}.*: not found; the quality benchmark uses the example photos "
            "of Debian's opencv-doc package (apt-get install opencv-doc)"
        )
    return _as_rgb(np.asarray(Image.open(files[0]).convert("RGB")))


def _wallpaper(file: Path, package: str) -> NDArray[np.uint8]:
    if not file.exists():
        raise SystemExit(
            f"{file}: not found; the wide tile library uses photos of Debian's {package} "
            "package (apt-get install plasma-workspace-wallpapers mate-backgrounds)"
        )
    image = Image.open(file).convert("RGB")
    scale = WALLPAPER_SIDE / max(image.size)
    size = (round(image.width * scale), round(image.height * scale))
    return np.asarray(image.resize(size, Image.Resampling.LANCZOS))


def _plasma(name: str) -> NDArray[np.uint8]:
    """The largest of the sizes a Plasma wallpaper ships in."""
    images = PLASMA_WALLPAPERS / name / "contents" / "images"
    sizes = sorted(images.glob("*.jpg"), key=lambda f: [int(v) for v in f.stem.split("x")])
    return _wallpaper(sizes[-1] if sizes else images / "*.jpg", "plasma-workspace-wallpapers")


def _mate(name: str) -> NDArray[np.uint8]:
    return _wallpaper(MATE_BACKGROUNDS / f"{name}.jpg", "mate-backgrounds")


_LOADERS: dict[str, Callable[[str], NDArray[np.uint8]]] = {
    "scikit-image": _skimage,
    "scikit-learn": _sklearn,
    "matplotlib": _matplotlib,
    "PyWavelets": _pywavelets,
    "Debian opencv-doc": _opencv,
    "Debian plasma-workspace-wallpapers": _plasma,
    "Debian mate-backgrounds": _mate,
}


def load(photo: Photo) -> NDArray[np.uint8]:
    """The photo as ``(height, width, 3)`` 8-bit RGB (grey photos repeated to RGB)."""
    return _LOADERS[photo.package](photo.name)
