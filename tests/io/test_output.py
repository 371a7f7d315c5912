"""Writing outputs: streamed tiled TIFF, up-front format checks, DPI metadata."""

from __future__ import annotations

import os
import signal
import struct
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

import mosaicfast
from mosaicfast import MosaicfastError, _core
from mosaicfast._util.lifetime import InterruptedAfterCommit
from mosaicfast.io import output
from mosaicfast.io._atomic import atomic_group, atomic_path
from mosaicfast.io.output import (
    STREAM_PIXELS,
    TIFF_TILE,
    check_output,
    save_image,
    write_png,
    write_tiff,
)
from mosaicfast.render import Painter

from ..conftest import palette_target


def _image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _cut(pixels: np.ndarray, heights: list[int]) -> Iterator[np.ndarray]:
    start = 0
    for height in heights:
        yield pixels[start : start + height]
        start += height
    assert start == len(pixels)


@pytest.mark.parametrize("heights", [[600], [1] * 37 + [563], [255, 2, 300, 43], [512, 88]])
def test_tiff_from_bands_of_any_height_reads_back_exactly(
    tmp_path: Path, heights: list[int]
) -> None:
    pixels = _image(600, 300)
    path = write_tiff(tmp_path / "m.tif", _cut(pixels, heights), (300, 600), dpi=300)
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        assert page.is_tiled and (page.tilelength, page.tilewidth) == (TIFF_TILE, TIFF_TILE)
        assert page.compression == tifffile.COMPRESSION.ADOBE_DEFLATE
        assert not tif.is_bigtiff
        assert np.array_equal(page.asarray(), pixels)
    with Image.open(path) as image:  # Pillow reads it too, with its resolution
        assert np.array_equal(np.asarray(image), pixels)
        assert image.info["dpi"] == pytest.approx((300, 300))


@pytest.mark.parametrize("heights", [[600], [1] * 37 + [563], [255, 2, 300, 43]])
def test_png_from_bands_reads_back_exactly(tmp_path: Path, heights: list[int]) -> None:
    pixels = _image(600, 700)
    pixels[:300] //= 16  # flatter rows, which filtering makes small
    path = write_png(tmp_path / "m.png", _cut(pixels, heights), (700, 600), dpi=150, workers=2)
    with Image.open(path) as image:
        image.verify()  # chunk CRCs
    with Image.open(path) as image:  # zlib checks its Adler-32 while decoding
        assert image.format == "PNG" and image.info["dpi"] == pytest.approx((150, 150), abs=0.02)
        assert np.array_equal(np.asarray(image), pixels)


def test_the_png_stream_ends_with_the_adler32_of_all_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output, "PNG_CHUNK_BYTES", 50_000)  # 23 rows of 2,100 bytes a chunk
    pixels = _image(600, 700)
    path = write_png(tmp_path / "m.png", _cut(pixels, [255, 345]), (700, 600), workers=2)
    data, at, idat = path.read_bytes(), 8, []
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        if data[at + 4 : at + 8] == b"IDAT":
            idat.append(data[at + 8 : at + 8 + length])
        at += 12 + length
    assert len(idat) == 12 + 15 + 1  # one a chunk of each band, then the checksum
    rows = zlib.decompress(b"".join(idat))  # checks the stream's Adler-32
    assert len(rows) == 600 * (700 * 3 + 1)
    assert rows[0] == rows[-2101] == 2  # the Up filter


@pytest.mark.parametrize("split", [0, 1, 5552, 70_001, 200_000])
def test_adler32_of_two_pieces_combines_as_zlibs(split: int) -> None:
    data = _image(200, 500).tobytes()[:200_000] + bytes([255]) * 100_000  # large sums too
    first, second = data[:split], data[split:]
    combined = output._adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second))
    assert combined == zlib.adler32(data)


@pytest.mark.parametrize(("writer", "name"), [(write_tiff, "m.tif"), (write_png, "m.png")])
def test_bands_that_do_not_add_up_are_an_error_and_leave_no_file(
    tmp_path: Path, writer: Callable, name: str
) -> None:
    pixels = _image(100, 40)
    with pytest.raises(ValueError, match="rows"):
        writer(tmp_path / name, _cut(pixels[:90], [90]), (40, 100))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("writer", "name"), [(write_tiff, "m.tif"), (write_png, "m.png")])
def test_an_interrupted_write_leaves_no_partial_file(
    tmp_path: Path, writer: Callable, name: str
) -> None:
    (tmp_path / name).write_bytes(b"the previous mosaic")

    def bands() -> Iterator[np.ndarray]:
        yield _image(300, 500)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        writer(tmp_path / name, bands(), (500, 900))
    assert [p.name for p in tmp_path.iterdir()] == [name]
    assert (tmp_path / name).read_bytes() == b"the previous mosaic"


def test_a_group_of_outputs_appears_together_or_not_at_all(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), atomic_group():
        for name in ("m.png", "m.json"):
            with atomic_path(tmp_path / name) as tmp:
                tmp.write_bytes(name.encode())
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    with atomic_group():
        for name in ("m.png", "m.json"):
            with atomic_path(tmp_path / name) as tmp:
                tmp.write_bytes(name.encode())
        assert list(tmp_path.glob("m.*")) == []  # nothing in place before the group ends
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.png"]


def test_a_signal_while_a_group_is_put_in_place_waits_until_all_of_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replace = os.replace

    def replace_then_interrupt(src: str | Path, dst: str | Path) -> None:
        replace(src, dst)
        os.kill(os.getpid(), signal.SIGINT)  # lands between the renames

    monkeypatch.setattr(os, "replace", replace_then_interrupt)
    with pytest.raises(InterruptedAfterCommit), atomic_group():
        for name in ("m.png", "m.json"):
            with atomic_path(tmp_path / name) as tmp:
                tmp.write_bytes(name.encode())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.png"]


@pytest.mark.parametrize(
    ("name", "size", "words"),
    [
        ("m.png", (20_000, 6_000), "too large to compose in memory for PNG"),
        ("m.jpg", (70_000, 100), "at most 65,535"),
        ("m.webp", (17_000, 100), "at most 16,383"),
        ("m.gif", (10, 10), "unsupported output format"),
    ],
)
def test_outputs_a_format_cannot_hold_are_refused(name: str, size: tuple, words: str) -> None:
    with pytest.raises(MosaicfastError, match=words) as info:
        check_output(name, size)
    assert name in str(info.value)
    if name != "m.gif":
        assert ".tif" in str(info.value)


def test_tiff_takes_what_other_formats_cannot() -> None:
    side = int(STREAM_PIXELS**0.5) + 10
    assert check_output("m.tif", (side, side)) == Path("m.tif")
    # Already composed: any size.
    assert check_output("m.png", (side, side), in_memory=True) == Path("m.png")


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".webp"])
def test_dpi_is_recorded(tmp_path: Path, suffix: str) -> None:
    path = save_image(Image.fromarray(_image(30, 40)), tmp_path / f"m{suffix}", dpi=300)
    with Image.open(path) as image:
        if suffix == ".webp":
            exif = image.getexif()
            assert (exif[0x011A], exif[0x011B], exif[0x0128]) == (300, 300, 2)
        else:
            assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)


# -- streaming a mosaic ----------------------------------------------------------------------


@pytest.fixture
def mosaic(photo_target: Path, photo_tiles: Path) -> mosaicfast.Mosaic:
    return mosaicfast.build(photo_target, photo_tiles, cols=24, tile_size=12, flips=True,
                            blend=0.5, overlay=0.2)  # fmt: skip


def test_a_streamed_tiff_equals_the_mosaic_composed_in_memory(
    mosaic: mosaicfast.Mosaic, tmp_path: Path
) -> None:
    assert mosaic.flipped is not None and mosaic.flipped.any()
    mosaic.painter.band_pixels = 3 * 24 * 12 * 12  # three cell rows per band
    streamed = mosaic.save(tmp_path / "streamed.tif", stream=True)
    assert mosaic._image is None  # streaming composed nothing whole
    assert {"render", "write"} <= mosaic.timings.keys()
    in_memory = mosaic.save(tmp_path / "whole.tif")
    expected = np.asarray(mosaic.image)
    for path in (streamed, in_memory):
        assert np.array_equal(tifffile.imread(path), expected)


def test_only_tiff_can_be_streamed(mosaic: mosaicfast.Mosaic, tmp_path: Path) -> None:
    with pytest.raises(MosaicfastError, match="only TIFF"):
        mosaic.save(tmp_path / "out" / "m.png", stream=True)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_streaming_holds_one_band_at_a_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A 1200 x 8000 mosaic (29 MB) streamed in 0.1-megapixel bands: every buffer the
    painter touches is at most a band, and NumPy's peak is a few bands and rows of
    TIFF tiles, a fraction of the image.

    tracemalloc sees NumPy's allocations, not the buffers Rust allocates itself (the
    target resized under a band, ``paint_band``'s scratch), so the peak bound here is
    partial; the check on the whole process is the huge-output row of ``make bench``
    (peak RSS below the size of the RGB image)."""
    t, rows, cols = 20, 400, 60
    rng = np.random.default_rng(0)
    tiles = rng.integers(0, 256, (50, t, t, 3), dtype=np.uint8)
    target = Image.fromarray(rng.integers(0, 256, (200, 30, 3), dtype=np.uint8))
    painter = Painter(rng.integers(0, 50, (rows, cols)), t, lambda used: tiles[used],
                      target=target, blend=0.5, overlay=0.3, band_pixels=100_000)  # fmt: skip
    width, height = painter.size
    image_bytes = width * height * 3
    band_bytes = painter.band_rows * t * width * 3
    tile_row_bytes = TIFF_TILE * width * 3
    largest = []
    paint = _core.paint_band

    def watched(tiles: np.ndarray, index: np.ndarray, out: np.ndarray, **kw: object) -> None:
        under = kw["under"]
        assert isinstance(under, np.ndarray)
        largest.append(max(tiles.nbytes, out.nbytes, under.nbytes))
        paint(tiles, index, out, **kw)

    monkeypatch.setattr(_core, "paint_band", watched)
    tracemalloc.start()
    try:
        write_tiff(tmp_path / "big.tif", painter.bands(), painter.size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(largest) == len(painter.band_starts()) and max(largest) <= band_bytes
    assert peak < 3 * band_bytes + 6 * tile_row_bytes < image_bytes / 4, (peak, image_bytes)


def test_a_huge_mosaic_is_not_composed_unless_asked(palette_tiles: Path, tmp_path: Path) -> None:
    # 10 x 7 cells of 2,000 px: 280 megapixels, matched in a moment, never painted.
    target = palette_target(np.zeros((7, 10), int))
    mosaic = mosaicfast.build(target, palette_tiles, cols=10, tile_size=2000, blend=0)
    assert mosaic.pixels > STREAM_PIXELS and "render" not in mosaic.timings
    with pytest.raises(MosaicfastError, match=r"save it to a \.tif"):
        _ = mosaic.image
    with pytest.raises(MosaicfastError, match=r"write a \.tif instead"):
        mosaic.save(tmp_path / "out" / "m.png")
    assert not (tmp_path / "out").exists()


def test_build_refuses_an_output_that_cannot_hold_the_mosaic_before_matching(
    palette_tiles: Path, tmp_path: Path, cache_dir: Path
) -> None:
    target = palette_target(np.zeros((7, 10), int))
    with pytest.raises(MosaicfastError, match=r"write a \.tif instead"):
        mosaicfast.build(target, palette_tiles, cols=10, tile_size=2000,
                         output=tmp_path / "m.jpg")  # fmt: skip
    # The check came before the tiles were even indexed into the cache.
    assert list(cache_dir.iterdir()) == []


def test_a_streamed_mosaic_is_measured_band_by_band(
    mosaic: mosaicfast.Mosaic, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = np.asarray(mosaic.reduced())
    assert whole.shape == (mosaic.plan.rows * 8, mosaic.plan.cols * 8, 3)
    monkeypatch.setattr(mosaicfast.api, "STREAM_PIXELS", 100)
    fresh = mosaicfast.Mosaic(**{
        name: getattr(mosaic, name)
        for name in ("assignment", "sources", "plan", "distances", "painter", "target")
    })  # fmt: skip
    fresh.painter.band_pixels = 2 * 24 * 12 * 12
    with pytest.raises(MosaicfastError, match=r"\.tif"):
        _ = fresh.image
    assert np.array_equal(np.asarray(fresh.reduced()), whole)
