"""Reading one photo correctly: oriented, colour-managed, 8-bit sRGB pixels.

Every image that enters mosaicfast goes through :func:`open_rgb` or
:func:`load_square`, so that the pixels match what a photo viewer shows:

* the EXIF orientation is applied (all eight orientations);
* an embedded ICC profile is converted to sRGB;
* every Pillow mode becomes 8-bit ``RGB``; transparent pixels are composited
  over :data:`BACKGROUND` (white), and 16- and 32-bit data are scaled down, not
  clipped;
* only the first frame of an animated GIF or multipage TIFF is used;
* any failure raises :class:`~mosaicfast.errors.ImageReadError` with a short
  reason, never a raw Pillow or OS exception.

The functions are safe to call from several threads at once.
"""

from __future__ import annotations

import io
import math
import os
import re
import stat
import struct
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from ..errors import ImageReadError
from .paths import non_regular_reason

if TYPE_CHECKING:
    from PIL import ImageCms

__all__ = [
    "BACKGROUND",
    "IMAGE_SUFFIXES",
    "Box",
    "load_square",
    "open_rgb",
    "square_box",
    "to_srgb",
]

Box = tuple[int, int, int, int]
"""A crop rectangle ``(left, upper, right, lower)`` in pixels, right and lower exclusive."""

BACKGROUND: tuple[int, int, int] = (255, 255, 255)
"""The colour (white) that transparent and translucent pixels are composited over."""

IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {
        ".avif",
        ".bmp",
        ".gif",
        ".heic",
        ".heif",
        ".jfif",
        ".jpeg",
        ".jpg",
        ".pbm",
        ".pgm",
        ".png",
        ".ppm",
        ".tif",
        ".tiff",
        ".webp",
    }
)
"""Lower-case file suffixes, with the dot as in :attr:`pathlib.Path.suffix`, of the
formats read: Pillow's own (AVIF needs Pillow 11.3 or later) and HEIC/HEIF through
pillow-heif."""

_ORIENTATION_TAG = 0x0112

# How to turn the stored pixels into the displayed picture, per EXIF orientation
# (the same table as PIL.ImageOps.exif_transpose).
_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# The inverse of _TRANSPOSE for rectangles: to find a displayed rectangle in the stored
# pixels, swap x and y (swap), then mirror x (flip_x), then mirror y (flip_y).
_STORED_AXES: dict[int, tuple[bool, bool, bool]] = {
    1: (False, False, False),
    2: (False, True, False),
    3: (False, True, True),
    4: (False, False, True),
    5: (True, False, False),
    6: (True, False, True),
    7: (True, True, True),
    8: (True, True, False),
}

_HIGH_DEPTH_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})

# Modes an embedded ICC profile is applied in, and the mode of the sRGB result.
_ICC_OUTPUT_MODES: dict[str, str] = {"L": "RGB", "RGB": "RGB", "CMYK": "RGB", "RGBA": "RGBA"}

# What Pillow's plugins raise on malformed files, besides its own exceptions.
_READ_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    MemoryError,
)

#: Bytes of a JPEG read to find its first scan (past EXIF and ICC segments).
_JPEG_HEAD = 1 << 20
#: Frame markers of Huffman-coded DCT JPEGs: baseline, extended, progressive.
_HUFFMAN_DCT_FRAMES = (0xC0, 0xC1, 0xC2)

# ``warnings.catch_warnings`` swaps process-wide state: never let two threads overlap in it.
_OPEN_LOCK = threading.Lock()
# Transforms are built and cached one at a time; applying them is thread-safe.
_TRANSFORM_LOCK = threading.Lock()
# Whether pillow-heif's opener is registered with Pillow (see _register_heif_opener).
_heif_registered = False


def square_box(width: int, height: int) -> Box:
    """Return the largest centred square inside a ``width x height`` image.

    Parameters
    ----------
    width, height : int
        Size of the image in pixels, both at least 1.

    Returns
    -------
    tuple of int
        ``(left, upper, right, lower)`` of the square, right and lower exclusive.
        When the margin to cut is odd, the right (or bottom) margin is one pixel wider
        than the left (or top) one.

    Raises
    ------
    ValueError
        If a side is smaller than 1.
    """
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    side = min(width, height)
    left = (width - side) // 2
    upper = (height - side) // 2
    return left, upper, left + side, upper + side


def open_rgb(path: str | Path, *, draft_size: int | None = None) -> Image.Image:
    """Read an image file as fully loaded, upright, 8-bit sRGB ``RGB`` pixels.

    Parameters
    ----------
    path : str or Path
        The image file. Multi-frame files (GIF, TIFF) give their first frame.
    draft_size : int, optional
        If given, a JPEG is decoded at a reduced scale (1/2, 1/4 or 1/8), the strongest
        reduction that keeps both sides at least ``draft_size`` pixels. This makes big JPEGs
        much faster to read when only a small image is needed. Other formats are
        decoded at full size.

    Returns
    -------
    PIL.Image.Image
        Mode ``RGB``, EXIF orientation applied, colours converted to sRGB from an
        embedded ICC profile, transparency composited over :data:`BACKGROUND`. Its
        ``info`` is empty: no orientation tag or profile is left to be applied twice.

    Raises
    ------
    ImageReadError
        If the file is missing, unreadable, empty, not an image, truncated or corrupt,
        or has more pixels than ``PIL.Image.MAX_IMAGE_PIXELS`` (decompression bomb guard).
    ValueError
        If `draft_size` is smaller than 1.
    """
    if draft_size is not None and draft_size < 1:
        raise ValueError(f"draft_size must be at least 1, got {draft_size}")
    path = Path(path)
    with _reading(path) as image:
        if draft_size is not None:
            image.draft("RGB", (draft_size, draft_size))
        image.load()
        orientation = _orientation(image)
        upright = _upright(to_srgb(image), orientation)
    upright.info.clear()
    return upright


def load_square(
    path: str | Path, size: int, *, box: Box | None = None, data: bytes | None = None
) -> tuple[np.ndarray, Box]:
    """Read a square crop of an image file, resized to ``size x size`` pixels.

    The crop is taken from the upright image (EXIF orientation applied) in sRGB, as
    :func:`open_rgb` gives it. A JPEG is decoded at the smallest draft scale that
    still leaves the crop at least `size` pixels wide, then resized with Lanczos.

    Parameters
    ----------
    path : str or Path
        The image file.
    size : int
        Side of the result in pixels, at least 1.
    box : tuple of int, optional
        ``(left, upper, right, lower)`` of the crop in the pixel coordinates of the
        full-resolution upright image. Defaults to the centred square,
        ``square_box(width, height)``. Passing the box returned by an earlier call
        renders the same crop at another size.
    data : bytes, optional
        The file's contents, already read (``path`` then only names it in errors).

    Returns
    -------
    pixels : numpy.ndarray
        C-contiguous ``uint8`` array of shape ``(size, size, 3)``.
    box : tuple of int
        The crop used, in full-resolution upright coordinates (whatever draft scale
        was used to decode).

    Raises
    ------
    ImageReadError
        If the file cannot be read (see :func:`open_rgb`), or `box` does not lie inside
        the image.
    ValueError
        If `size` is smaller than 1 or `box` is empty or has negative coordinates.
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    if box is not None:
        _require_valid_box(box)
    path = Path(path)
    with _reading(path, data) as image:
        stored_size = image.size
        crop_side = min(stored_size) if box is None else min(box[2] - box[0], box[3] - box[1])
        divisor = _draft_divisor(image, _draft_request(stored_size, crop_side, size))
        image.load()
        orientation = _orientation(image)
        upright_size = _upright_size(stored_size, orientation)
        crop = square_box(*upright_size) if box is None else box
        _require_box_inside(crop, upright_size, path)
        region = _scaled_box(_stored_box(crop, stored_size, orientation), divisor)
        tile = _resized_crop(image, region, size)
        return np.array(_upright(tile, orientation)), crop


def to_srgb(image: Image.Image) -> Image.Image:
    """Convert a loaded image of any Pillow mode to 8-bit sRGB ``RGB``.

    Parameters
    ----------
    image : PIL.Image.Image
        A loaded image. An ICC profile in ``image.info["icc_profile"]`` is applied;
        if it cannot be used (broken, or not matching the mode), the colours are
        converted as if there were none.

    Returns
    -------
    PIL.Image.Image
        Mode ``RGB``. Alpha and transparency keys are composited over
        :data:`BACKGROUND`; ``I;16*`` data are scaled by ``>> 8``; ``I`` data are taken
        as 8-bit if no value exceeds 255, else scaled from 16 bits (65535 -> 255);
        ``F`` data are scaled by 255 if no value exceeds 1.0, else clipped to 0..255.
        The result is `image` itself when that is already plain ``RGB`` without
        profile or transparency; otherwise it is a new image with no ICC profile.
    """
    profile = image.info.get("icc_profile")
    working = _working_image(image)
    if profile and working.mode in _ICC_OUTPUT_MODES:
        working = _icc_to_srgb(working, profile)
    if working.mode == "RGBA":
        rgb = _over_background(working)
    elif working.mode == "RGB":
        rgb = working
    else:
        rgb = working.convert("RGB")
    if rgb is not image:
        rgb.info.pop("icc_profile", None)
        rgb.info.pop("transparency", None)
    return rgb


@contextmanager
def _reading(path: Path, data: bytes | None = None) -> Iterator[ImageFile.ImageFile]:
    """Open `path`, or its contents `data`, (header only) and turn any failure in the
    block into ImageReadError."""
    try:
        if data is None:
            _require_nonempty_file(path)
        elif not data:
            raise ImageReadError(path, "file is empty")
        image = _open_quietly(path if data is None else io.BytesIO(data))
        with image:
            _require_pixels_within_limit(image.size, path)
            if image.format in ("JPEG", "MPO"):
                _require_enough_jpeg_data(image, path, data)
            yield image
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageReadError(path, _bomb_reason_from(exc)) from exc
    except _READ_ERRORS as exc:
        raise ImageReadError(path, _failure_reason(exc)) from exc


def _require_nonempty_file(path: Path) -> None:
    """Raise ImageReadError if `path` is a directory, a special file or empty."""
    status = path.stat()
    if stat.S_ISDIR(status.st_mode):
        raise ImageReadError(path, "is a directory")
    reason = non_regular_reason(status.st_mode)
    if reason is not None:
        raise ImageReadError(path, reason)
    if status.st_size == 0:
        raise ImageReadError(path, "file is empty")


def _open_quietly(path: Path | io.BytesIO) -> ImageFile.ImageFile:
    """``Image.open`` without Pillow's decompression-bomb warning; the caller checks size.

    A file no plugin of Pillow's identifies is tried again with the HEIC/HEIF opener
    registered: pillow-heif is loaded only once such a file is met, not at start-up.
    """
    with _OPEN_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(path)
        except UnidentifiedImageError:
            if not _register_heif_opener():
                raise
        if isinstance(path, io.BytesIO):
            path.seek(0)
        return Image.open(path)


def _register_heif_opener() -> bool:
    """Let Pillow read HEIC/HEIF (what phones save) through pillow-heif; False if that
    was done before (call with ``_OPEN_LOCK`` held)."""
    global _heif_registered
    if _heif_registered:
        return False
    import pillow_heif

    pillow_heif.register_heif_opener()
    _heif_registered = True
    return True


def _require_pixels_within_limit(size: tuple[int, int], path: Path) -> None:
    """Raise ImageReadError if an image of `size` exceeds ``Image.MAX_IMAGE_PIXELS``."""
    limit = Image.MAX_IMAGE_PIXELS
    pixels = size[0] * size[1]
    if limit is not None and pixels > limit:
        raise ImageReadError(path, _bomb_reason(pixels, limit))


def _require_enough_jpeg_data(image: ImageFile.ImageFile, path: Path, data: bytes | None) -> None:
    """Raise ImageReadError if a JPEG holds too few bytes for the size its header claims.

    libjpeg pads a scan that ends early with grey and only warns, so a tiny file whose
    header claims 9000 x 9000 pixels would decode "successfully". Huffman coding spends
    at least one bit per 8 x 8 block on its DC value, which bounds the scan data from
    below (arithmetic-coded and lossless JPEGs are not checked).
    """
    head = data[:_JPEG_HEAD] if data is not None else _file_head(path, _JPEG_HEAD)
    layout = jpeg_layout(head)
    if layout is None or layout[0] not in _HUFFMAN_DCT_FRAMES:
        return
    size = len(data) if data is not None else path.stat().st_size
    needed = _ceil_div(jpeg_blocks(image.size, getattr(image, "layer", [])), 8)
    if size - layout[1] < needed:
        width, height = image.size
        raise ImageReadError(
            path,
            f"truncated or corrupt image data (the header says {width}x{height} pixels, "
            f"which take at least {needed:,} bytes of JPEG data; the file holds "
            f"{max(size - layout[1], 0):,})",
        )


def _file_head(path: Path, count: int) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(count)


def jpeg_layout(head: bytes) -> tuple[int, int] | None:
    """The frame marker (``0xC0`` baseline, ``0xC2`` progressive, ...) of a JPEG and the
    offset where its first scan's data start, read from the file's first bytes.

    None if ``head`` is not a JPEG header or ends before the first scan.
    """
    if not head.startswith(b"\xff\xd8"):
        return None
    position, frame = 2, None
    while position + 4 <= len(head):
        if head[position] != 0xFF:
            return None
        code = head[position + 1]
        if code == 0xFF:  # fill byte
            position += 1
            continue
        if code == 0x01 or 0xD0 <= code <= 0xD8:  # markers without a length
            position += 2
            continue
        length = int.from_bytes(head[position + 2 : position + 4], "big")
        if length < 2:
            return None
        if 0xC0 <= code <= 0xCF and code not in (0xC4, 0xC8, 0xCC):
            frame = code
        if code == 0xDA:
            return (frame, position + 2 + length) if frame is not None else None
        position += 2 + length
    return None


def jpeg_blocks(size: tuple[int, int], components: list[tuple[int, int, int, int]]) -> int:
    """8 x 8 blocks a JPEG of ``size`` codes, from its components' ``(id, h, v, table)``
    sampling factors (as Pillow's ``JpegImageFile.layer`` lists them); 0 if unknown."""
    if not components:
        return 0
    width, height = size
    h_max = max(max(c[1] for c in components), 1)
    v_max = max(max(c[2] for c in components), 1)
    return sum(
        _ceil_div(_ceil_div(width * h, h_max), 8) * _ceil_div(_ceil_div(height * v, v_max), 8)
        for _, h, v, _ in components
    )


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _bomb_reason(pixels: int, limit: int) -> str:
    """Reason for rejecting an image with too many pixels."""
    return f"image has {pixels} pixels, more than the limit of {limit} (decompression bomb guard)"


def _bomb_reason_from(exc: Image.DecompressionBombError) -> str:
    """Reason for an image Pillow itself refused as a decompression bomb."""
    limit = Image.MAX_IMAGE_PIXELS
    match = re.search(r"(\d+) pixels", str(exc))
    if match is None or limit is None:
        return f"{exc} (decompression bomb guard)"
    return _bomb_reason(int(match[1]), limit)


def _failure_reason(exc: BaseException) -> str:
    """Short human reason for an exception raised while reading an image."""
    if isinstance(exc, UnidentifiedImageError):
        return "not an image file Pillow can read"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, OSError) and exc.errno is not None:  # e.g. "permission denied"
        return (exc.strerror or os.strerror(exc.errno)).lower()
    if isinstance(exc, MemoryError):
        return "not enough memory to decode the image"
    return f"truncated or corrupt image data ({str(exc) or type(exc).__name__})"


def _orientation(image: Image.Image) -> int:
    """EXIF orientation 1..8 of a loaded image; 1 when absent, invalid or unreadable."""
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
    except _READ_ERRORS:
        return 1
    return value if isinstance(value, int) and value in _STORED_AXES else 1


def _upright(image: Image.Image, orientation: int) -> Image.Image:
    """`image` (stored pixels) transposed as its EXIF `orientation` says."""
    method = _TRANSPOSE.get(orientation)
    return image if method is None else image.transpose(method)


def _upright_size(stored_size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """Size of the upright image; orientations 5 to 8 swap width and height."""
    width, height = stored_size
    swap, _, _ = _STORED_AXES[orientation]
    return (height, width) if swap else (width, height)


def _stored_box(box: Box, stored_size: tuple[int, int], orientation: int) -> Box:
    """The rectangle of the stored pixels that `box` of the upright image shows."""
    left, upper, right, lower = box
    swap, flip_x, flip_y = _STORED_AXES[orientation]
    if swap:
        left, upper, right, lower = upper, left, lower, right
    width, height = stored_size
    if flip_x:
        left, right = width - right, width - left
    if flip_y:
        upper, lower = height - lower, height - upper
    return left, upper, right, lower


def _scaled_box(box: Box, divisor: int) -> tuple[float, float, float, float]:
    """`box` in the coordinates of an image decoded at 1/`divisor` scale."""
    left, upper, right, lower = box
    return left / divisor, upper / divisor, right / divisor, lower / divisor


def _resized_crop(
    image: Image.Image, region: tuple[float, float, float, float], size: int
) -> Image.Image:
    """The `region` of `image` in sRGB, resized to `size` x `size` with Lanczos.

    Only pixels overlapping `region` contribute: the filter does not reach into the
    picture around the crop.
    """
    left, upper, right, lower = region
    outer = (math.floor(left), math.floor(upper), math.ceil(right), math.ceil(lower))
    inner = (left - outer[0], upper - outer[1], right - outer[0], lower - outer[1])
    return to_srgb(image.crop(outer)).resize(
        (size, size), Image.Resampling.LANCZOS, box=inner, reducing_gap=3.0
    )


def _draft_request(stored_size: tuple[int, int], crop_side: int, size: int) -> int:
    """Draft size for the short side so that a `crop_side` crop keeps >= `size` pixels."""
    return -(-min(stored_size) * size // crop_side)


def _draft_divisor(image: Image.Image, short_side: int) -> int:
    """Ask for JPEG draft decoding with the short side >= `short_side`; return the scale.

    Returns the integer the stored pixel coordinates are divided by (1, 2, 4 or 8);
    1 for formats without draft decoding.
    """
    width = image.width
    drafted = image.draft("RGB", (short_side, short_side))
    return 1 if drafted is None else round(width / drafted[1][2])


def _require_valid_box(box: Box) -> None:
    """Raise ValueError for a box that is empty or has negative coordinates."""
    left, upper, right, lower = box
    if left < 0 or upper < 0 or right <= left or lower <= upper:
        raise ValueError(f"crop box must be non-empty with non-negative coordinates, got {box}")


def _require_box_inside(box: Box, size: tuple[int, int], path: Path) -> None:
    """Raise ImageReadError if `box` reaches outside an image of `size`."""
    if box[2] > size[0] or box[3] > size[1]:
        raise ImageReadError(path, f"crop box {box} lies outside the {size[0]}x{size[1]} image")


def _working_image(image: Image.Image) -> Image.Image:
    """`image` in one of the modes L, RGB, CMYK or RGBA, keeping any transparency."""
    if image.mode in _HIGH_DEPTH_MODES:
        return _grey8(image)
    if image.mode == "La":
        return image.convert("LA").convert("RGBA")
    if image.has_transparency_data:
        return image.convert("RGBA")
    if image.mode in _ICC_OUTPUT_MODES:
        return image
    return image.convert("RGB")


def _grey8(image: Image.Image) -> Image.Image:
    """An ``I;16*``, ``I`` or ``F`` image scaled to 8-bit ``L``."""
    values = np.asarray(image)
    if image.mode == "F":
        grey = _float_to_8bit(values)
    elif image.mode == "I":
        grey = _int_to_8bit(values)
    else:
        grey = values >> 8
    return Image.fromarray(grey.astype(np.uint8))


def _int_to_8bit(values: np.ndarray) -> np.ndarray:
    """32-bit integer grey: 8-bit data as is, anything larger scaled from 16 bits."""
    if values.max(initial=0) > 255:
        values = np.rint(values / 257.0)
    return np.clip(values, 0, 255)


def _float_to_8bit(values: np.ndarray) -> np.ndarray:
    """Float grey: 0..1 data scaled by 255, anything larger clipped to 0..255."""
    values = np.nan_to_num(values.astype(np.float64), nan=0.0)
    if values.max(initial=0.0) <= 1.0:
        values = values * 255.0
    return np.clip(np.rint(values), 0, 255)


def _icc_to_srgb(image: Image.Image, profile: bytes) -> Image.Image:
    """`image` converted from the ICC `profile` to sRGB, or `image` if that fails."""
    from PIL import ImageCms  # only for images with a profile: not at start-up

    try:
        with _TRANSFORM_LOCK:
            transform = _srgb_transform(profile, image.mode)
        return transform.apply(image)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image


@lru_cache(maxsize=16)
def _srgb_transform(profile: bytes, mode: str) -> ImageCms.ImageCmsTransform:
    """Colour transform from an embedded ICC profile to sRGB (photos often share one)."""
    from PIL import ImageCms

    srgb = ImageCms.createProfile("sRGB")
    return ImageCms.buildTransform(io.BytesIO(profile), srgb, mode, _ICC_OUTPUT_MODES[mode])


def _over_background(image: Image.Image) -> Image.Image:
    """An ``RGBA`` image composited over :data:`BACKGROUND`, as ``RGB``."""
    flat = Image.new("RGB", image.size, BACKGROUND)
    flat.paste(image, mask=image.getchannel("A"))
    return flat
