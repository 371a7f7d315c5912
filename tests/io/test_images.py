"""Tests for mosaicfast.io.images: reading one photo as upright 8-bit sRGB."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pillow_heif
import pytest
from PIL import Image, ImageCms, ImageOps

from mosaicfast.errors import ImageReadError
from mosaicfast.io.images import (
    BACKGROUND,
    IMAGE_SUFFIXES,
    load_square,
    open_rgb,
    square_box,
    to_srgb,
)

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
YELLOW = (255, 255, 0)

# Image that exif_transpose turns the stored pixels into, per EXIF orientation; the
# stored pixels are made with the inverse.
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
INVERSE = {
    **TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
}


def save(image: Image.Image, path: Path, **params: Any) -> Path:
    image.save(path, **params)
    return path


def stored_mode(path: Path) -> str:
    """Mode Pillow decodes the file to, before any conversion."""
    with Image.open(path) as image:
        return image.mode


def pixels(path: Path) -> np.ndarray:
    return np.asarray(open_rgb(path), dtype=np.int16)


def quadrants(width: int, height: int) -> Image.Image:
    """Red top-left, green top-right, blue bottom-left, yellow bottom-right."""
    image = Image.new("RGB", (width, height), RED)
    image.paste(GREEN, (width // 2, 0, width, height // 2))
    image.paste(BLUE, (0, height // 2, width // 2, height))
    image.paste(YELLOW, (width // 2, height // 2, width, height))
    return image


def with_orientation(image: Image.Image, orientation: int) -> tuple[Image.Image, Image.Exif]:
    """Stored pixels and EXIF that display as `image` under `orientation`."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored = image.transpose(INVERSE[orientation]) if orientation in INVERSE else image
    return stored, exif


def swapped_primaries_profile() -> bytes:
    """An RGB ICC profile like sRGB but with the red and blue primaries exchanged.

    A pixel stored as pure red in an image with this profile is pure blue in sRGB.
    """
    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack_from(">I", data, 128)
    for entry in range(132, 132 + 12 * count, 12):
        signature = bytes(data[entry : entry + 4])
        if signature in (b"rXYZ", b"bXYZ"):
            data[entry : entry + 4] = b"bXYZ" if signature == b"rXYZ" else b"rXYZ"
    return bytes(data)


def assert_close(actual: np.ndarray, expected: tuple[int, ...], tolerance: int) -> None:
    difference = np.abs(np.asarray(actual, dtype=np.int16) - np.asarray(expected, np.int16))
    assert difference.max() <= tolerance, f"{actual.tolist()} != {expected}"


# --- square_box -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "box"),
    [
        ((4000, 3000), (500, 0, 3500, 3000)),
        ((3000, 4000), (0, 500, 3000, 3500)),
        ((7, 7), (0, 0, 7, 7)),
        ((5, 4), (0, 0, 4, 4)),  # odd margin of 1: all of it on the right
        ((4, 7), (0, 1, 4, 5)),  # odd margin of 3: 1 on top, 2 at the bottom
        ((1, 9), (0, 4, 1, 5)),
    ],
)
def test_square_box_is_the_centred_largest_square(
    size: tuple[int, int], box: tuple[int, int, int, int]
) -> None:
    assert square_box(*size) == box


def test_square_box_rejects_empty_images() -> None:
    with pytest.raises(ValueError, match="positive"):
        square_box(0, 10)


def test_image_suffixes_are_lower_case_with_dot() -> None:
    assert {".jpg", ".jpeg", ".png", ".tif", ".webp", ".heic", ".avif"} <= IMAGE_SUFFIXES
    assert ".txt" not in IMAGE_SUFFIXES
    assert all(s.startswith(".") and s == s.lower() for s in IMAGE_SUFFIXES)


# --- modes -------------------------------------------------------------------------------


def test_rgba_is_composited_over_white(tmp_path: Path) -> None:
    path = save(Image.new("RGBA", (4, 4), (255, 0, 0, 128)), tmp_path / "a.png")
    image = open_rgb(path)
    assert image.mode == "RGB"
    assert BACKGROUND == (255, 255, 255)
    assert_close(np.asarray(image)[0, 0], (255, 127, 127), 1)


def test_fully_transparent_pixels_become_background(tmp_path: Path) -> None:
    path = save(Image.new("RGBA", (4, 4), (0, 0, 0, 0)), tmp_path / "a.webp", lossless=True)
    assert_close(pixels(path)[1, 1], BACKGROUND, 0)


def test_la_is_composited_over_white(tmp_path: Path) -> None:
    path = save(Image.new("LA", (4, 4), (0, 128)), tmp_path / "la.png")
    assert_close(pixels(path)[0, 0], (127, 127, 127), 1)


@pytest.mark.parametrize("suffix", [".png", ".gif"])
def test_palette_transparency_is_composited_over_white(tmp_path: Path, suffix: str) -> None:
    image = Image.new("P", (2, 1))
    image.putpalette([*RED, *BLUE] + [0] * 762)
    image.putpixel((1, 0), 1)
    path = save(image, tmp_path / f"p{suffix}", transparency=0)
    result = pixels(path)
    assert_close(result[0, 0], BACKGROUND, 0)
    assert_close(result[0, 1], BLUE, 0)


def test_palette_without_transparency_keeps_its_colours(tmp_path: Path) -> None:
    image = Image.new("P", (2, 1))
    image.putpalette([*RED, *BLUE] + [0] * 762)
    image.putpixel((1, 0), 1)
    result = pixels(save(image, tmp_path / "p.png"))
    assert_close(result[0, 0], RED, 0)
    assert_close(result[0, 1], BLUE, 0)


def test_palette_with_alpha_from_tiff(tmp_path: Path) -> None:
    image = Image.new("PA", (2, 2), (0, 128))
    image.putpalette([*RED] + [0] * 765)
    path = save(image, tmp_path / "pa.tif")
    assert stored_mode(path) == "PA"
    assert_close(pixels(path)[0, 0], (255, 127, 127), 1)


def test_bilevel_is_black_and_white(tmp_path: Path) -> None:
    image = Image.new("1", (2, 1), 0)
    image.putpixel((1, 0), 1)
    result = pixels(save(image, tmp_path / "b.png"))
    assert_close(result[0, 0], (0, 0, 0), 0)
    assert_close(result[0, 1], (255, 255, 255), 0)


def test_grey_becomes_equal_channels(tmp_path: Path) -> None:
    result = pixels(save(Image.new("L", (3, 3), 77), tmp_path / "l.pgm"))
    assert_close(result, (77, 77, 77), 0)


@pytest.mark.parametrize(("suffix", "mode"), [(".png", "I;16"), (".tif", "I;16B")])
def test_16_bit_grey_is_scaled_not_clipped(tmp_path: Path, suffix: str, mode: str) -> None:
    image = Image.new(mode, (3, 1))
    for x, value in enumerate((65535, 32768, 255)):
        image.putpixel((x, 0), value)
    path = save(image, tmp_path / f"g16{suffix}")
    assert stored_mode(path).startswith("I;16")
    assert pixels(path)[0, :, 0].tolist() == [255, 128, 0]


def test_16_bit_grey_png_round_trip(tmp_path: Path) -> None:
    values = np.array([[0, 1000, 32768, 65535]], dtype=np.uint16)
    path = save(Image.fromarray(values), tmp_path / "g16.png")
    assert pixels(path)[0, :, 1].tolist() == [0, 3, 128, 255]


def test_32_bit_grey_with_16_bit_range_is_scaled(tmp_path: Path) -> None:
    image = Image.fromarray(np.array([[65535, 32768, 1000, -5, 70000]], dtype=np.int32))
    path = save(image, tmp_path / "i.tif")
    assert stored_mode(path) == "I"
    assert pixels(path)[0, :, 2].tolist() == [255, 128, 4, 0, 255]


def test_32_bit_grey_with_8_bit_range_is_kept(tmp_path: Path) -> None:
    image = Image.fromarray(np.array([[0, 100, 255]], dtype=np.int32))
    path = save(image, tmp_path / "i8.tif")
    assert pixels(path)[0, :, 0].tolist() == [0, 100, 255]


def test_float_grey_in_unit_range_is_scaled(tmp_path: Path) -> None:
    image = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32))
    result = pixels(save(image, tmp_path / "f.tif"))[0, :, 0].tolist()
    assert result[0] == 0
    assert result[1] in (127, 128)
    assert result[2] == 255


def test_float_grey_beyond_unit_range_is_clipped(tmp_path: Path) -> None:
    image = Image.fromarray(np.array([[300.0, -5.0, 42.4, 1.5]], dtype=np.float32))
    result = pixels(save(image, tmp_path / "f.tif"))[0, :, 0].tolist()
    assert result == [255, 0, 42, 2]


@pytest.mark.parametrize("suffix", [".tif", ".jpg"])
def test_cmyk_cyan_becomes_rgb_cyan(tmp_path: Path, suffix: str) -> None:
    path = save(Image.new("CMYK", (16, 16), (255, 0, 0, 0)), tmp_path / f"c{suffix}")
    assert stored_mode(path) == "CMYK"
    assert_close(pixels(path)[8, 8], (0, 255, 255), 3)


def test_ycbcr_and_lab_tiffs_are_converted(tmp_path: Path) -> None:
    ycbcr = Image.new("RGB", (4, 4), (200, 30, 90)).convert("YCbCr")
    assert_close(pixels(save(ycbcr, tmp_path / "y.tif"))[0, 0], (200, 30, 90), 3)
    white = save(Image.new("LAB", (4, 4), (255, 128, 128)), tmp_path / "lab.tif")
    assert stored_mode(white) == "LAB"
    assert_close(pixels(white)[0, 0], (255, 255, 255), 2)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (Image.new("RGBa", (2, 2), (128, 0, 0, 128)), (255, 127, 127)),
        (Image.new("La", (2, 2), (0, 128)), (127, 127, 127)),
        (Image.new("HSV", (2, 2), (170, 255, 255)), BLUE),
        (Image.new("RGBX", (2, 2), (1, 2, 3, 0)), (1, 2, 3)),
    ],
    ids=["RGBa", "La", "HSV", "RGBX"],
)
def test_modes_without_a_file_format(image: Image.Image, expected: tuple[int, ...]) -> None:
    result = to_srgb(image)
    assert result.mode == "RGB"
    assert_close(np.asarray(result)[0, 0], expected, 1)


def test_plain_rgb_is_returned_as_is() -> None:
    image = Image.new("RGB", (2, 2), RED)
    assert to_srgb(image) is image


@pytest.mark.parametrize("suffix", [".gif", ".tif"])
def test_multi_frame_files_give_their_first_frame(tmp_path: Path, suffix: str) -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in (RED, BLUE, GREEN)]
    path = save(frames[0], tmp_path / f"m{suffix}", save_all=True, append_images=frames[1:])
    with Image.open(path) as image:
        assert getattr(image, "n_frames", 1) == 3
    assert_close(pixels(path)[4, 4], RED, 0)


def test_result_carries_no_metadata(tmp_path: Path) -> None:
    stored, exif = with_orientation(quadrants(8, 6), 6)
    path = save(stored, tmp_path / "o.png", exif=exif, icc_profile=swapped_primaries_profile())
    image = open_rgb(path)
    assert image.info == {}
    assert ImageOps.exif_transpose(image).size == image.size


# --- EXIF orientation -------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int) -> None:
    shown = quadrants(30, 20)
    stored, exif = with_orientation(shown, orientation)
    assert stored.size == ((20, 30) if orientation >= 5 else (30, 20))
    path = save(stored, tmp_path / "o.png", exif=exif)
    image = open_rgb(path)
    assert image.size == (30, 20)
    assert np.array_equal(np.asarray(image), np.asarray(shown))
    with Image.open(path) as stored_file:
        assert np.array_equal(np.asarray(image), np.asarray(ImageOps.exif_transpose(stored_file)))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_of_jpeg_puts_the_corner_colour_top_left(
    tmp_path: Path, orientation: int
) -> None:
    stored, exif = with_orientation(quadrants(64, 32), orientation)
    path = save(stored, tmp_path / "o.jpg", exif=exif, quality=95)
    result = pixels(path)
    assert result.shape == (32, 64, 3)
    assert_close(result[4, 4], RED, 8)
    assert_close(result[4, 60], GREEN, 8)
    assert_close(result[28, 4], BLUE, 8)
    assert_close(result[28, 60], YELLOW, 8)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_load_square_crops_the_upright_image(tmp_path: Path, orientation: int) -> None:
    shown = quadrants(30, 20)
    upright = save(shown, tmp_path / "upright.png")
    stored, exif = with_orientation(shown, orientation)
    rotated = save(stored, tmp_path / "stored.png", exif=exif)
    expected, expected_box = load_square(upright, 8)
    tile, box = load_square(rotated, 8)
    assert box == expected_box == (5, 0, 25, 20)
    # Transposed pixels are resampled with the passes in the other order: tiny rounding
    # differences where Lanczos rings at the colour edges.
    assert np.abs(tile.astype(int) - expected).max() <= 8
    assert_close(tile[0, 0], RED, 1)
    assert_close(tile[7, 7], YELLOW, 1)


def test_draft_jpeg_with_odd_size_and_rotation_crops_the_same_region(tmp_path: Path) -> None:
    shown = quadrants(1203, 803)
    stored, exif = with_orientation(shown, 6)
    rotated = save(stored, tmp_path / "rotated.jpg", exif=exif, quality=95)
    box = (101, 3, 901, 803)
    reference, _ = load_square(save(shown, tmp_path / "upright.png"), 40, box=box)
    tile, returned = load_square(rotated, 40, box=box)
    assert returned == box
    difference = np.abs(tile.astype(int) - reference)
    assert difference.mean() < 1.5
    assert difference.max() <= 40  # JPEG ringing at the colour edges only


# --- ICC profiles -----------------------------------------------------------------------


def test_srgb_profile_leaves_pixels_unchanged(tmp_path: Path) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = save(quadrants(8, 8), tmp_path / "s.png", icc_profile=srgb)
    assert np.abs(pixels(path) - np.asarray(quadrants(8, 8))).max() <= 1


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_embedded_profile_is_converted_to_srgb(tmp_path: Path, suffix: str) -> None:
    path = save(
        Image.new("RGB", (16, 16), RED),
        tmp_path / f"swapped{suffix}",
        icc_profile=swapped_primaries_profile(),
    )
    assert_close(pixels(path)[8, 8], BLUE, 3)


def test_profile_of_transparent_image_is_applied_before_compositing(tmp_path: Path) -> None:
    image = Image.new("RGBA", (4, 4), (255, 0, 0, 128))
    path = save(image, tmp_path / "a.png", icc_profile=swapped_primaries_profile())
    assert_close(pixels(path)[0, 0], (127, 127, 255), 2)


def test_load_square_applies_profile_and_transparency(tmp_path: Path) -> None:
    profiled = save(
        Image.new("RGB", (30, 20), RED), tmp_path / "s.jpg", icc_profile=swapped_primaries_profile()
    )
    assert_close(load_square(profiled, 4)[0][2, 2], BLUE, 3)
    image = Image.new("P", (30, 20))
    image.putpalette([*RED] + [0] * 765)
    transparent = save(image, tmp_path / "t.png", transparency=0)
    assert_close(load_square(transparent, 4)[0][2, 2], BACKGROUND, 0)


def test_broken_profile_falls_back_to_plain_conversion(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (4, 4), (10, 20, 30)), tmp_path / "g.png", icc_profile=b"garbage")
    with Image.open(path) as image:
        assert image.info["icc_profile"] == b"garbage"
    assert_close(pixels(path)[0, 0], (10, 20, 30), 0)


def test_profile_of_another_colour_space_falls_back(tmp_path: Path) -> None:
    path = save(
        Image.new("L", (4, 4), 99), tmp_path / "l.png", icc_profile=swapped_primaries_profile()
    )
    assert_close(pixels(path)[0, 0], (99, 99, 99), 0)


# --- JPEG draft and crops ---------------------------------------------------------------


@pytest.fixture
def big_jpeg(tmp_path: Path) -> Path:
    """4000x3000 JPEG: green margins around a centred square, red left, blue right."""
    image = Image.new("RGB", (4000, 3000), GREEN)
    image.paste(RED, (500, 0, 2000, 3000))
    image.paste(BLUE, (2000, 0, 3500, 3000))
    image.paste(YELLOW, (3000, 2000, 3500, 3000))
    return save(image, tmp_path / "big.jpg", quality=90)


def test_draft_decodes_big_jpegs_at_reduced_scale(big_jpeg: Path) -> None:
    image = open_rgb(big_jpeg, draft_size=100)
    assert min(image.size) >= 100
    assert image.size == (500, 375)
    assert open_rgb(big_jpeg, draft_size=1000).size == (2000, 1500)  # 1/2: 1/4 is too small


def test_draft_size_is_harmless_for_other_formats(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (400, 300), RED), tmp_path / "r.png")
    assert open_rgb(path, draft_size=10).size == (400, 300)


def test_load_square_of_big_jpeg_returns_full_resolution_box(big_jpeg: Path) -> None:
    tile, box = load_square(big_jpeg, 100)
    assert tile.shape == (100, 100, 3)
    assert tile.dtype == np.uint8
    assert tile.flags.c_contiguous
    assert box == (500, 0, 3500, 3000)
    assert_close(tile[2, 2], RED, 6)  # no green margin leaks in
    assert_close(tile[2, 97], BLUE, 6)
    assert_close(tile[97, 97], YELLOW, 6)


@pytest.mark.parametrize(
    ("box", "colour"),
    [((3000, 2000, 3500, 2500), YELLOW), ((0, 0, 500, 500), GREEN), ((600, 100, 1900, 1400), RED)],
)
def test_load_square_with_box_gives_the_same_crop_at_any_size(
    big_jpeg: Path, box: tuple[int, int, int, int], colour: tuple[int, int, int]
) -> None:
    small, small_box = load_square(big_jpeg, 20, box=box)
    large, large_box = load_square(big_jpeg, 400, box=box)
    assert small_box == large_box == box
    assert small.shape == (20, 20, 3)
    assert large.shape == (400, 400, 3)
    assert_close(small.reshape(-1, 3).mean(axis=0).round(), colour, 4)
    assert np.abs(small.mean(axis=(0, 1)) - large.mean(axis=(0, 1))).max() < 1.5


def test_load_square_with_box_keeps_a_quadrant_pattern(tmp_path: Path) -> None:
    path = save(quadrants(200, 100), tmp_path / "q.png")
    box = (100, 0, 200, 100)  # green over yellow
    small, _ = load_square(path, 10, box=box)
    large, _ = load_square(path, 50, box=box)
    assert_close(small[0, 0], GREEN, 1)  # the red next to the box does not bleed in
    assert_close(small[2, 5], GREEN, 1)
    assert_close(small[7, 5], YELLOW, 1)
    assert np.abs(small.mean(axis=(0, 1)) - large.mean(axis=(0, 1))).max() < 1


def test_load_square_rejects_box_outside_the_image(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (40, 30), RED), tmp_path / "r.png")
    with pytest.raises(ImageReadError, match="outside the 40x30 image"):
        load_square(path, 8, box=(10, 0, 41, 30))
    with pytest.raises(ValueError, match="non-empty"):
        load_square(path, 8, box=(10, 10, 10, 20))
    with pytest.raises(ValueError, match="size"):
        load_square(path, 0)


# --- errors -----------------------------------------------------------------------------


def missing(tmp_path: Path) -> Path:
    return tmp_path / "missing.jpg"


def empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.jpg"
    path.touch()
    return path


def text(tmp_path: Path) -> Path:
    path = tmp_path / "notes.jpg"
    path.write_text("not a picture\n" * 20)
    return path


def truncated(tmp_path: Path) -> Path:
    source = save(quadrants(256, 256), tmp_path / "whole.jpg", quality=95)
    path = tmp_path / "truncated.jpg"
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def directory(tmp_path: Path) -> Path:
    path = tmp_path / "folder.jpg"
    path.mkdir()
    return path


def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.jpg"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (missing, "no such file"),
        (empty, "file is empty"),
        (text, "not an image file Pillow can read"),
        (truncated, "truncated or corrupt image data"),
        (directory, "is a directory"),
        (fifo, "not a regular file"),
    ],
)
def test_unreadable_files_raise_image_read_error(
    tmp_path: Path, make: Callable[[Path], Path], reason: str
) -> None:
    path = make(tmp_path)
    for read in (open_rgb, lambda p: load_square(p, 8)):
        with pytest.raises(ImageReadError) as caught:
            read(path)
        assert caught.value.path == path
        assert reason in caught.value.reason
        assert str(caught.value).startswith(f"{path}: ")


def test_truncated_jpeg_is_an_error_even_with_draft(tmp_path: Path) -> None:
    path = truncated(tmp_path)
    with pytest.raises(ImageReadError, match="truncated"):
        open_rgb(path, draft_size=16)


def test_permission_denied(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (4, 4)), tmp_path / "secret.png")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("this user (root) reads files regardless of their permissions")
        with pytest.raises(ImageReadError, match="permission denied"):
            open_rgb(path)
    finally:
        path.chmod(0o644)


@pytest.mark.parametrize("limit", [6000, 1000], ids=["over-limit", "over-twice-limit"])
def test_decompression_bomb_guard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    path = save(Image.new("RGB", (100, 100)), tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning escaping to stderr would fail here
        with pytest.raises(ImageReadError) as caught:
            open_rgb(path)
    assert caught.value.reason == (
        f"image has 10000 pixels, more than the limit of {limit} (decompression bomb guard)"
    )
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10000)
    assert open_rgb(path).size == (100, 100)


def save_phone_photo(path: Path) -> None:
    """A 90 x 60 red photo as HEIC (written by pillow-heif without registering its
    opener with Pillow: reading it must not depend on that) or AVIF."""
    image = Image.new("RGB", (90, 60), (200, 40, 30))
    if path.suffix == ".heic":
        pillow_heif.from_pillow(image).save(path, quality=95)
    else:
        image.save(path, format="AVIF", quality=95)


@pytest.mark.parametrize("suffix", [".heic", ".avif"])
def test_phone_formats_are_read(tmp_path: Path, suffix: str) -> None:
    assert suffix in IMAGE_SUFFIXES
    path = tmp_path / f"photo{suffix}"
    save_phone_photo(path)
    pixels, box = load_square(path, 16)
    assert box == (15, 0, 75, 60)
    assert np.abs(pixels.reshape(-1, 3).mean(axis=0) - (200, 40, 30)).max() < 8


def test_heic_support_is_loaded_when_a_heic_file_is_met(tmp_path: Path) -> None:
    heic, jpeg = tmp_path / "photo.heic", tmp_path / "photo.jpg"
    save_phone_photo(heic)
    Image.new("RGB", (90, 60), (200, 40, 30)).save(jpeg)
    script = (
        "import sys\n"
        "from mosaicfast.io.images import load_square\n"
        f"load_square({str(jpeg)!r}, 16)\n"
        "assert 'pillow_heif' not in sys.modules\n"
        f"pixels, box = load_square({str(heic)!r}, 16)\n"
        "assert box == (15, 0, 75, 60), box\n"
        "assert abs(int(pixels[..., 0].mean()) - 200) < 8\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
