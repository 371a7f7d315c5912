"""Writing output files whole or not at all, in the format their suffix names.

JPEG and WebP are written by Pillow, PNG by :func:`write_png` (filtered and
compressed on all cores), from an image held in memory, so they are refused above
:data:`STREAM_PIXELS`. TIFF is written by tifffile as a tiled (Big)TIFF from an
iterator of bands (:func:`write_tiff`), so an image of any size can be streamed
to it without ever being whole in memory.
"""

from __future__ import annotations

import errno
import os
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from .._util.lifetime import pause_point
from .._util.parallel import ordered_map
from ..errors import MosaicfastError
from ._atomic import atomic_path
from .paths import os_reason

__all__ = [
    "IMAGE_FORMATS",
    "MAX_SIDES",
    "STREAM_PIXELS",
    "TIFF_TILE",
    "check_destination",
    "check_image_path",
    "check_output",
    "is_tiff",
    "save_image",
    "write_png",
    "write_tiff",
]

#: Outputs above this many pixels are not composed in memory: they can only be
#: written to TIFF, band by band (300 MB of RGB; 100 megapixels is a 1 x 0.67 m
#: print at 300 dpi).
STREAM_PIXELS = 100_000_000

#: Side of the square tiles of TIFF outputs.
TIFF_TILE = 256

#: Largest width or height each format can hold.
MAX_SIDES = {"JPEG": 65_535, "WEBP": 16_383, "PNG": 2**31 - 1, "TIFF": 2**31 - 1}

#: zlib level of TIFF tiles: level 1 is about a quarter faster than 6 on mosaics
#: for files under 0.5% larger.
TIFF_ZLIB_LEVEL = 1

# PNG at zlib level 1: on photographic content it is about a third faster to write
# than the default level 6 for files only about 5% larger.
IMAGE_FORMATS: dict[str, tuple[str, dict[str, Any]]] = {
    ".png": ("PNG", {"compress_level": 1}),
    ".jpg": ("JPEG", {"quality": 92, "subsampling": 0}),
    ".jpeg": ("JPEG", {"quality": 92, "subsampling": 0}),
    ".tif": ("TIFF", {"compression": "tiff_deflate"}),
    ".tiff": ("TIFF", {"compression": "tiff_deflate"}),
    ".webp": ("WEBP", {"quality": 90, "method": 4}),
}


def check_image_path(path: str | Path) -> Path:
    """Check that ``path`` names a supported output format; return it as a Path."""
    path = Path(path)
    if path.suffix.lower() not in IMAGE_FORMATS:
        known = ", ".join(sorted(IMAGE_FORMATS))
        raise MosaicfastError(f"{path}: unsupported output format (use one of {known})")
    return path


def check_destination(path: str | Path) -> Path:
    """Check up front that a new file can be written at ``path``: not a folder, in a
    folder that exists (or can be made) and takes new files; return it as a Path.

    Writing a probe file is the one test that also holds for root, read-only mounts
    and quotas, so when the folder exists an empty temporary file is created in it
    and removed.

    Raises
    ------
    MosaicfastError
        Naming ``path`` and the reason.
    """
    path = Path(path)
    if path.is_dir():
        raise MosaicfastError(f"{path}: is a folder; give a file name")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise MosaicfastError(f"{path}: {folder} is not a folder")
    try:
        if folder == path.parent:
            fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
            os.close(fd)
            os.unlink(probe)
        elif not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "permission denied")
    except OSError as err:
        raise MosaicfastError(f"{path}: cannot write in {folder} ({os_reason(err)})") from None
    return path


def is_tiff(path: str | Path) -> bool:
    """Whether ``path`` names a TIFF output (which can be streamed)."""
    return Path(path).suffix.lower() in (".tif", ".tiff")


def check_output(path: str | Path, size: tuple[int, int], *, in_memory: bool = False) -> Path:
    """Check up front that an image of ``size`` ``(width, height)`` can be written to ``path``.

    Parameters
    ----------
    path : str or Path
        The output; its suffix names the format.
    size : tuple of int
        Width and height in pixels.
    in_memory : bool, default False
        The image is already composed in memory, so any format may hold it.

    Raises
    ------
    MosaicfastError
        Unknown format, a side beyond what the format can hold, or (unless
        ``in_memory``) a non-TIFF output above :data:`STREAM_PIXELS`.
    """
    path = check_image_path(path)
    fmt = IMAGE_FORMATS[path.suffix.lower()][0]
    width, height = size
    if max(width, height) > MAX_SIDES[fmt]:
        raise MosaicfastError(
            f"{path}: {fmt} images are at most {MAX_SIDES[fmt]:,} pixels wide and high, and "
            f"the mosaic is {width}x{height}; write a .tif instead"
        )
    if not in_memory and fmt != "TIFF" and width * height > STREAM_PIXELS:
        raise MosaicfastError(
            f"{path}: a {width}x{height} mosaic ({width * height:,} pixels) is too large to "
            f"compose in memory for {fmt} (limit {STREAM_PIXELS:,} pixels); write a .tif "
            "instead, which is streamed band by band"
        )
    return path


def save_image(
    image: Image.Image,
    path: str | Path,
    *,
    dpi: float | None = None,
    workers: int | None = None,
) -> Path:
    """Save ``image`` atomically in the format named by the suffix of ``path``.

    RGB PNGs go through :func:`write_png` on ``workers`` threads (default one per
    core), everything else through Pillow. With ``dpi``, the resolution is recorded:
    PNG ``pHYs`` (pixels per metre, rounded), JPEG JFIF density (whole dots per
    inch), TIFF resolution tags, WebP EXIF resolution tags.
    """
    path = check_output(path, image.size, in_memory=True)
    fmt, options = IMAGE_FORMATS[path.suffix.lower()]
    if fmt == "PNG" and image.mode == "RGB":
        return write_png(path, [np.asarray(image)], image.size, dpi=dpi, workers=workers)
    if dpi is not None:
        options = {**options, **_dpi_options(fmt, dpi)}
    try:
        with atomic_path(path) as tmp:
            image.save(tmp, format=fmt, **options)
    except OSError as err:
        raise MosaicfastError(f"{path}: cannot write the image ({err.strerror or err})") from err
    return path


def _dpi_options(fmt: str, dpi: float) -> dict[str, Any]:
    """Pillow save options recording ``dpi`` dots per inch in format ``fmt``."""
    if fmt == "WEBP":
        exif = Image.Exif()
        exif[0x011A] = exif[0x011B] = dpi  # XResolution, YResolution
        exif[0x0128] = 2  # ResolutionUnit: inch
        return {"exif": exif}
    return {"dpi": (dpi, dpi)}


def _tifffile() -> ModuleType:
    """tifffile, imported on first use: most runs write no TIFF, and it takes a
    noticeable part of start-up to import."""
    import tifffile

    return tifffile


def write_tiff(
    path: str | Path,
    bands: Iterable[NDArray[np.uint8]],
    size: tuple[int, int],
    *,
    dpi: float | None = None,
    workers: int | None = None,
) -> Path:
    """Write an RGB image given as horizontal bands to a tiled TIFF, atomically.

    The bands (``(rows, width, 3)`` ``uint8``, top to bottom, any heights adding up
    to the image's) are cut into :data:`TIFF_TILE`-pixel square tiles compressed with
    zlib (Python's own: no extra codec package) on ``workers`` threads, a row of
    tiles at a time. Only the current band and a few rows of tiles (with their
    copies being compressed) are held in memory, whatever the image's height.
    Files whose pixels exceed 2 GiB are written as BigTIFF.

    Parameters
    ----------
    path : str or Path
        The output file (``.tif`` or ``.tiff``).
    bands : iterable of numpy.ndarray
        The image, band by band.
    size : tuple of int
        ``(width, height)`` of the image.
    dpi : float, optional
        Resolution recorded in the file.
    workers : int, optional
        Compression threads (default: one per core).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    MosaicfastError
        If the file cannot be written (disk full, no permission, ...).
    """
    path = check_output(path, size)
    width, height = size
    workers = workers or os.cpu_count() or 1
    options: dict[str, Any] = {}
    if dpi is not None:
        options = {"resolution": (dpi, dpi), "resolutionunit": "INCH"}
    try:
        with (
            atomic_path(path) as tmp,
            _tifffile().TiffWriter(tmp, bigtiff=width * height * 3 > 2**31) as tif,
        ):
            tif.write(
                _tiff_tiles(bands, width, height),
                shape=(height, width, 3),
                dtype=np.uint8,
                tile=(TIFF_TILE, TIFF_TILE),
                photometric="rgb",
                compression="zlib",
                compressionargs={"level": TIFF_ZLIB_LEVEL},
                maxworkers=workers,
                # Compress one row of tiles at a time: tifffile's default batch,
                # 128 MB, would hold far more than a band of a narrow image.
                buffersize=max(TIFF_TILE * width, workers * TIFF_TILE**2) * 3,
                metadata=None,
                **options,
            )
    except OSError as err:
        raise MosaicfastError(f"{path}: cannot write the image ({err.strerror or err})") from err
    return path


def _tiff_tiles(
    bands: Iterable[NDArray[np.uint8]], width: int, height: int
) -> Iterator[NDArray[np.uint8]]:
    """The TIFF tiles of an image given as bands, row of tiles by row of tiles; the
    tiles on the right and bottom edges are partial (tifffile pads them)."""
    pending: list[NDArray[np.uint8]] = []
    rows = done = 0
    for band in bands:
        if band.shape[1:] != (width, 3):
            raise ValueError(f"a band of shape {band.shape} in an image {width} pixels wide")
        pending.append(band)
        rows += len(band)
        while rows >= TIFF_TILE or (rows and done + rows == height):
            take = min(rows, TIFF_TILE)
            strip, pending = _take_rows(pending, take)
            rows -= take
            done += take
            for x in range(0, width, TIFF_TILE):
                yield strip[:, x : x + TIFF_TILE]
    if done != height:
        raise ValueError(f"the bands hold {done} rows of an image {height} rows high")


def _take_rows(
    parts: list[NDArray[np.uint8]], count: int
) -> tuple[NDArray[np.uint8], list[NDArray[np.uint8]]]:
    """The first ``count`` rows of ``parts`` (stacked) and the rows left over."""
    taken: list[NDArray[np.uint8]] = []
    need = count
    while need:
        head = parts[0]
        if len(head) <= need:
            taken.append(head)
            parts = parts[1:]
            need -= len(head)
        else:
            taken.append(head[:need])
            parts = [head[need:], *parts[1:]]
            need = 0
    strip = taken[0] if len(taken) == 1 else np.concatenate(taken)
    return strip, parts


#: ISA-L's deflate level for PNGs (0-3): level 1 compresses the filtered rows of a
#: photo mosaic about 4x faster than zlib's level 1 for files about 1% larger (the
#: first-mosaic job: 10 MB of rows in 68 ms against 282 ms); level 0 is no faster
#: and 30% larger.
PNG_LEVEL = 1

#: Bytes of PNG rows filtered and compressed per task: large enough that resetting
#: the compressor's window between tasks costs nothing measurable.
PNG_CHUNK_BYTES = 2 * 2**20

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_FILTER_UP = 2
_ZLIB_HEADER = b"\x78\x01"  # deflate, 32 kB window, fastest


def write_png(
    path: str | Path,
    bands: Iterable[NDArray[np.uint8]],
    size: tuple[int, int],
    *,
    dpi: float | None = None,
    workers: int | None = None,
) -> Path:
    """Write an RGB image given as horizontal bands to a PNG file, atomically.

    Pillow filters and compresses a PNG on one core; this writer cuts the rows into
    chunks of :data:`PNG_CHUNK_BYTES`, and on ``workers`` threads filters each row with
    the Up filter (the difference from the row above) and deflates each chunk on its
    own with ISA-L at :data:`PNG_LEVEL`, ending all but the last with a sync flush, so
    the pieces join into one valid zlib stream; each thread also makes its piece's IDAT
    chunk (with its CRC-32) and the Adler-32 of its rows, which the writer combines into
    the stream's (:func:`_adler32_combine`). About 3x faster than Pillow on two cores
    with zlib's level 1, for files about 5% larger, and faster again with ISA-L. Up for
    every row, rather than libpng's per-row choice among None, Sub and Up (least sum of
    absolute values), made the first mosaic's file 1.4% larger and its filtering 18x
    faster (0.025 s against 0.46 s on one core), a third of the write.

    Parameters
    ----------
    path : str or Path
        The output file.
    bands : iterable of numpy.ndarray
        The image, ``(rows, width, 3)`` ``uint8`` bands top to bottom.
    size : tuple of int
        ``(width, height)`` of the image.
    dpi : float, optional
        Resolution, recorded in a ``pHYs`` chunk (pixels per metre, rounded).
    workers : int, optional
        Threads (default: one per core).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    MosaicfastError
        If the file cannot be written.
    """
    width, height = size
    workers = workers or os.cpu_count() or 1
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as out:
            out.write(_PNG_SIGNATURE)
            out.writelines(_png_chunk(b"IHDR", header))
            if dpi is not None:
                per_metre = int(dpi / 0.0254 + 0.5)
                out.writelines(_png_chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)))
            adler = zlib.adler32(b"")
            jobs = _png_jobs(bands, width, height)
            for chunk, rows_adler, length in ordered_map(_png_compress, jobs, workers=workers):
                adler = _adler32_combine(adler, rows_adler, length)
                out.writelines(chunk)
                pause_point("png-chunk-written")
            out.writelines(_png_chunk(b"IDAT", struct.pack(">I", adler)))
            out.writelines(_png_chunk(b"IEND", b""))
    except OSError as err:
        raise MosaicfastError(f"{path}: cannot write the image ({err.strerror or err})") from err
    return Path(path)


def _png_chunk(kind: bytes, *data: bytes, crc32: Callable[..., int] = zlib.crc32) -> list[bytes]:
    """A PNG chunk, as pieces to write one after the other (the data not copied): length
    and kind, the pieces of ``data``, and the CRC-32 of kind and data (by ``crc32``,
    zlib's signature)."""
    crc = crc32(kind)
    for piece in data:
        crc = crc32(piece, crc)
    length = sum(len(piece) for piece in data)
    return [struct.pack(">I", length) + kind, *data, struct.pack(">I", crc)]


#: The modulus of Adler-32's two sums.
_ADLER_BASE = 65521


def _adler32_combine(adler: int, more: int, length: int) -> int:
    """The Adler-32 of two byte strings joined, from ``adler`` (the first's), ``more``
    (the second's) and ``length`` (the second's), as zlib's ``adler32_combine``: the
    second's low sum is 1 plus its bytes, its high sum the sum of its running low sums."""
    low = (adler & 0xFFFF) + (more & 0xFFFF) - 1
    high = (adler >> 16) + (more >> 16) + length * ((adler & 0xFFFF) - 1)
    return (high % _ADLER_BASE) << 16 | low % _ADLER_BASE


#: ``(rows, row above, first, last)``: a chunk of the image as ``(n, width*3)`` bytes.
_PngJob = tuple[NDArray[np.uint8], NDArray[np.uint8], bool, bool]


def _png_jobs(bands: Iterable[NDArray[np.uint8]], width: int, height: int) -> Iterator[_PngJob]:
    """The image's chunks of :data:`PNG_CHUNK_BYTES` rows, top to bottom."""
    step = max(1, PNG_CHUNK_BYTES // (width * 3))
    above = np.zeros(width * 3, np.uint8)
    done = 0
    for band in bands:
        if band.shape[1:] != (width, 3):
            raise ValueError(f"a band of shape {band.shape} in an image {width} pixels wide")
        rows = band.reshape(len(band), width * 3)
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            yield chunk, above, done == 0, done + len(chunk) == height
            done += len(chunk)
            above = chunk[-1]
    if done != height:
        raise ValueError(f"the bands hold {done} rows of an image {height} rows high")


def _png_compress(job: _PngJob) -> tuple[list[bytes], int, int]:
    """A chunk's rows, each with the Up filter, deflated (raw, after the zlib header if
    first) into an IDAT chunk (its pieces: :func:`_png_chunk`); with the Adler-32 of the
    filtered rows and their length."""
    rows, above, first, last = job
    filtered = np.empty((len(rows), rows.shape[1] + 1), np.uint8)
    filtered[:, 0] = _PNG_FILTER_UP
    np.subtract(rows[0], above, out=filtered[0, 1:])
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])
    from isal import isal_zlib  # only when writing a PNG

    compressor = isal_zlib.compressobj(PNG_LEVEL, isal_zlib.DEFLATED, -15, 9)
    end = isal_zlib.Z_FINISH if last else isal_zlib.Z_SYNC_FLUSH
    data: tuple[bytes, ...] = (compressor.compress(filtered), compressor.flush(end))
    if first:
        data = (_ZLIB_HEADER, *data)
    chunk = _png_chunk(b"IDAT", *data, crc32=isal_zlib.crc32)
    return chunk, isal_zlib.adler32(filtered), filtered.nbytes
