"""Resizing in the Rust core is Pillow's, bit for bit (moved from test_render.py)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import pytest
from PIL import Image

from mosaicfast._reference.compose import resize_tile
from mosaicfast.kernels.resample import resize_image, resize_lanczos, resize_tiles

LANCZOS = Image.Resampling.LANCZOS


def test_resize_tile_keeps_a_solid_colour() -> None:
    tile = np.full((64, 64, 3), (10, 200, 30), np.uint8)
    assert resize_tile(tile, 64) is tile
    small = resize_tile(tile, 50)
    assert small.shape == (50, 50, 3)
    assert (small == (10, 200, 30)).all()


# -- Pillow-exact resampling -------------------------------------------------------------


@pytest.mark.parametrize(
    ("resize", "resample"),
    [(resize_lanczos, LANCZOS), (partial(resize_image, filter="box"), Image.Resampling.BOX)],
    ids=["lanczos", "box"],
)
@pytest.mark.parametrize("seed", range(4))
def test_resize_is_pillow_bit_for_bit(seed: int, resize: Callable, resample: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(40):
        height, width = (int(v) for v in rng.integers(1, 70, 2))
        out_w, out_h = (int(v) for v in rng.integers(1, 160, 2))
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        want = np.asarray(Image.fromarray(pixels).resize((out_w, out_h), resample))
        assert np.array_equal(resize(pixels, (out_w, out_h)), want), (
            pixels.shape,
            want.shape,
        )
        start = int(rng.integers(0, out_h))
        stop = int(rng.integers(start, out_h + 1))
        part = resize(pixels, (out_w, out_h), rows=(start, stop))
        assert np.array_equal(part, want[start:stop])


@pytest.mark.parametrize("out_w", [341, 342, 683, 700])
def test_wide_rows_resize_as_pillow_does(out_w: int) -> None:
    # The vertical pass sums rows in blocks of 1,024 bytes: rows of one block and a
    # part, of a pixel split between two blocks, and of several blocks.
    rng = np.random.default_rng(out_w)
    pixels = rng.integers(0, 256, (37, 260, 3), dtype=np.uint8)
    for resample, name in ((LANCZOS, "lanczos"), (Image.Resampling.BOX, "box")):
        for out_h in (23, 90):
            want = np.asarray(Image.fromarray(pixels).resize((out_w, out_h), resample))
            assert np.array_equal(resize_image(pixels, (out_w, out_h), filter=name), want)


def test_resize_tiles_matches_pillow_per_tile() -> None:
    tiles = np.random.default_rng(5).integers(0, 256, (7, 64, 64, 3), dtype=np.uint8)
    out = resize_tiles(tiles, 50, threads=2)
    for tile, got in zip(tiles, out, strict=True):
        assert np.array_equal(got, np.asarray(Image.fromarray(tile).resize((50, 50), LANCZOS)))
    assert resize_tiles(tiles, 64) is tiles
