"""The Rust core, through ``mosaicfast.kernels.descriptors``, is bit-identical to the Python
reference."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mosaicfast._reference import descriptors as ref
from mosaicfast.kernels import descriptors as core

SEEDS = range(40)
DESCRIPTOR_LIMIT = 16383
"""Largest magnitude of a descriptor value the core's search accepts (``-16384`` too)."""


def smooth_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth random image: per-channel gradients plus a low-frequency wave."""
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    channels = []
    for _ in range(3):
        gy, gx, phase = rng.uniform(-300, 300), rng.uniform(-300, 300), rng.uniform(0, 6.3)
        wave = 60 * np.sin(rng.uniform(1, 8) * (x + y) + phase)
        channels.append(rng.uniform(0, 255) + gy * y + gx * x + wave)
    return np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.uint8)


def random_image(rng: np.random.Generator, height: int, width: int, smooth: bool) -> np.ndarray:
    """A smooth image or uniform noise of the given size."""
    if smooth:
        return smooth_image(rng, height, width)
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def assert_search_equal(cells: np.ndarray, tiles: np.ndarray, k: int, **kwargs: int) -> None:
    """The core's top-k equals the reference's, indices and distances, with their dtypes."""
    expected_indices, expected_distances = ref.search_topk(cells, tiles, k)
    indices, distances = core.search_topk(cells, tiles, k, **kwargs)
    assert indices.dtype == np.int64
    assert distances.dtype == np.int64
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_array_equal(distances, expected_distances)


class TestDescriptors:
    @pytest.mark.parametrize("seed", SEEDS)
    def test_tiles(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        grid = int(rng.integers(1, 9))
        size = int(rng.integers(grid, 41))
        n = int(rng.integers(1, 5))
        thumbs = np.stack([random_image(rng, size, size, seed % 2 == 0) for _ in range(n)])
        got = core.tile_descriptors(thumbs, grid)
        assert got.dtype == np.int16
        assert got.shape == (n, 3 * grid * grid)
        np.testing.assert_array_equal(got, ref.tile_descriptors(thumbs, grid))

    @pytest.mark.parametrize("seed", SEEDS)
    def test_cells(self, seed: int) -> None:
        rng = np.random.default_rng(1000 + seed)
        grid = int(rng.integers(1, 7))
        rows, cols = (int(v) for v in rng.integers(1, 9, size=2))
        height = rows * grid + int(rng.integers(0, 40))
        width = cols * grid + int(rng.integers(0, 40))
        image = random_image(rng, height, width, seed % 2 == 0)
        got = core.cell_descriptors(image, rows, cols, grid)
        assert got.dtype == np.int16
        assert got.shape == (rows * cols, 3 * grid * grid)
        np.testing.assert_array_equal(got, ref.cell_descriptors(image, rows, cols, grid))

    @pytest.mark.parametrize("seed", range(12))
    @pytest.mark.parametrize("space", ["lab", "ylab"])
    def test_cells_of_an_enlarged_image(self, seed: int, space: str) -> None:
        """As the cells of the image enlarged by Pillow's box filter, bit for bit: whole
        and fractional factors, one axis unchanged, blocks smaller and larger than a
        pixel; None when an axis would shrink."""
        rng = np.random.default_rng(2000 + seed)
        grid = 2 * int(rng.integers(1, 5))
        rows, cols = (int(v) for v in rng.integers(1, 9, size=2))
        height, width = (int(v) for v in rng.integers(1, 30, size=2))
        if seed % 4 == 3:  # the width unchanged
            width = cols * grid + int(rng.integers(0, 20))
        image = random_image(rng, height, width, seed % 2 == 0)
        per_cell = grid * int(rng.integers(1, 6))
        size = (max(width, cols * per_cell), max(height, rows * per_cell))
        if seed % 4 == 3:
            size = (width, size[1])
        enlarged = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BOX))
        got = core.enlarged_cell_descriptors(image, size, rows, cols, grid, space=space)
        expected = core.cell_descriptors(enlarged, rows, cols, grid, space=space)
        assert got is not None
        np.testing.assert_array_equal(got, expected)
        if height > 1:
            shrunk = (size[0], height - 1)
            assert core.enlarged_cell_descriptors(image, shrunk, 1, 1, 2, space=space) is None

    def test_every_grey_level_and_primary(self) -> None:
        values = np.arange(256, dtype=np.uint8)
        colours = np.concatenate(
            [
                np.stack([values] * 3, axis=-1),
                np.stack([values, 0 * values, 0 * values], axis=-1),
                np.stack([0 * values, values, 0 * values], axis=-1),
                np.stack([0 * values, 0 * values, values], axis=-1),
            ]
        )
        thumbs = np.broadcast_to(colours[:, None, None, :], (len(colours), 1, 1, 3))
        np.testing.assert_array_equal(
            core.tile_descriptors(thumbs, 1), ref.tile_descriptors(thumbs, 1)
        )

    @pytest.mark.parametrize("size", [1, 2, 3])
    def test_many_colours_and_block_sizes(self, size: int) -> None:
        rng = np.random.default_rng(size)
        thumbs = rng.integers(0, 256, size=(20000, size, size, 3), dtype=np.uint8)
        np.testing.assert_array_equal(
            core.tile_descriptors(thumbs, 1), ref.tile_descriptors(thumbs, 1)
        )

    def test_largest_grid(self) -> None:
        rng = np.random.default_rng(5)
        thumbs = rng.integers(0, 256, size=(2, 37, 37, 3), dtype=np.uint8)
        np.testing.assert_array_equal(
            core.tile_descriptors(thumbs, 16), ref.tile_descriptors(thumbs, 16)
        )

    def test_non_contiguous_inputs(self) -> None:
        rng = np.random.default_rng(11)
        big = rng.integers(0, 256, size=(3, 30, 30, 3), dtype=np.uint8)
        thumbs = big[:, 1:-2, 2:-1]
        assert not thumbs.flags.c_contiguous
        np.testing.assert_array_equal(
            core.tile_descriptors(thumbs, 4), ref.tile_descriptors(thumbs, 4)
        )
        image = np.asfortranarray(big[0])
        np.testing.assert_array_equal(
            core.cell_descriptors(image, 2, 3, 3), ref.cell_descriptors(image, 2, 3, 3)
        )

    def test_thread_count_does_not_change_the_result(self) -> None:
        rng = np.random.default_rng(12)
        thumbs = rng.integers(0, 256, size=(20, 9, 9, 3), dtype=np.uint8)
        image = smooth_image(rng, 50, 70)
        np.testing.assert_array_equal(
            core.tile_descriptors(thumbs, 3, threads=1),
            core.tile_descriptors(thumbs, 3, threads=2),
        )
        np.testing.assert_array_equal(
            core.cell_descriptors(image, 5, 7, 3, threads=1),
            core.cell_descriptors(image, 5, 7, 3, threads=2),
        )

    @pytest.mark.parametrize("grid", [0, 17])
    def test_grid_out_of_range(self, grid: int) -> None:
        with pytest.raises(ValueError):
            core.tile_descriptors(np.zeros((1, 20, 20, 3), np.uint8), grid)
        with pytest.raises(ValueError):
            core.cell_descriptors(np.zeros((40, 40, 3), np.uint8), 1, 1, grid)

    def test_image_too_small(self) -> None:
        with pytest.raises(ValueError):
            core.tile_descriptors(np.zeros((1, 3, 3, 3), np.uint8), 4)
        with pytest.raises(ValueError):
            core.cell_descriptors(np.zeros((8, 20, 3), np.uint8), 3, 1, 3)


class TestYlabDescriptors:
    """The ``ylab`` space (luma grid and half-resolution a*b* grid), bit for bit."""

    @pytest.mark.parametrize("seed", SEEDS)
    def test_tiles(self, seed: int) -> None:
        rng = np.random.default_rng(2000 + seed)
        grid = 2 * int(rng.integers(1, 6))
        size = int(rng.integers(grid, 41))
        n = int(rng.integers(1, 5))
        thumbs = np.stack([random_image(rng, size, size, seed % 2 == 0) for _ in range(n)])
        got = core.tile_descriptors(thumbs, grid, space="ylab")
        assert got.dtype == np.int16
        assert got.shape == (n, 3 * grid * grid // 2)
        np.testing.assert_array_equal(got, ref.tile_descriptors(thumbs, grid, "ylab"))

    @pytest.mark.parametrize("seed", SEEDS)
    def test_cells(self, seed: int) -> None:
        rng = np.random.default_rng(3000 + seed)
        grid = 2 * int(rng.integers(1, 5))
        rows, cols = (int(v) for v in rng.integers(1, 7, size=2))
        height = rows * grid + int(rng.integers(0, 40))
        width = cols * grid + int(rng.integers(0, 40))
        image = random_image(rng, height, width, seed % 2 == 0)
        got = core.cell_descriptors(image, rows, cols, grid, space="ylab")
        np.testing.assert_array_equal(got, ref.cell_descriptors(image, rows, cols, grid, "ylab"))

    def test_every_grey_level_and_primary(self) -> None:
        values = np.arange(256, dtype=np.uint8)
        zero = 0 * values
        colours = np.concatenate(
            [np.stack(c, axis=-1) for c in ([values] * 3, [values, zero, zero],
                                            [zero, values, zero], [zero, zero, values])]
        )  # fmt: skip
        thumbs = np.ascontiguousarray(
            np.broadcast_to(colours[:, None, None, :], (len(colours), 2, 2, 3))
        )
        got = core.tile_descriptors(thumbs, 2, space="ylab")
        np.testing.assert_array_equal(got, ref.tile_descriptors(thumbs, 2, "ylab"))
        # Grey levels: luma in quarter units of 0-100, no colour.
        grey = got[:256]
        levels = values.astype(np.float64)
        np.testing.assert_array_equal(grey[:, 0], np.floor(levels * 400 / 255 + 0.5))
        assert np.abs(grey[:, 4:]).max() <= 1

    def test_mirrored_descriptor_is_the_mirror_images(self) -> None:
        rng = np.random.default_rng(13)
        thumbs = smooth_image(rng, 32, 32)[None]
        for space in ("lab", "ylab"):
            flipped = np.ascontiguousarray(thumbs[:, :, ::-1])
            np.testing.assert_array_equal(
                core.mirrored(core.tile_descriptors(thumbs, 8, space=space), 8, space),
                core.tile_descriptors(flipped, 8, space=space),
            )

    def test_oriented_descriptors_are_those_of_the_turned_images(self) -> None:
        rng = np.random.default_rng(14)
        thumbs = np.stack([smooth_image(rng, 32, 32) for _ in range(3)])
        for space, grid in (("lab", 4), ("ylab", 8)):
            upright = core.tile_descriptors(thumbs, grid, space=space)
            seen = set()
            for code in range(8):
                laid = thumbs[:, :, ::-1] if code & 1 else thumbs
                laid = np.ascontiguousarray(np.rot90(laid, code >> 1, axes=(1, 2)))
                want = core.tile_descriptors(laid, grid, space=space)
                got = core.oriented(upright, grid, space, code)
                np.testing.assert_array_equal(got, want, err_msg=f"{space} {code}")
                seen.add(got.tobytes())
            assert len(seen) == 8  # eight different descriptors: no orientation is lost

    @pytest.mark.parametrize("grid", [0, 3, 18])
    def test_odd_or_out_of_range_grid(self, grid: int) -> None:
        with pytest.raises(ValueError):
            core.tile_descriptors(np.zeros((1, 20, 20, 3), np.uint8), grid, space="ylab")
        with pytest.raises(ValueError):
            core.cell_descriptors(np.zeros((40, 40, 3), np.uint8), 1, 1, grid, space="ylab")

    def test_unknown_space(self) -> None:
        with pytest.raises(ValueError, match="lab or ylab"):
            core.tile_descriptors(np.zeros((1, 8, 8, 3), np.uint8), 2, space="rgb")


class TestSearch:
    @pytest.mark.parametrize("seed", SEEDS)
    def test_random(self, seed: int) -> None:
        rng = np.random.default_rng(2000 + seed)
        d = int(rng.choice([1, 3, 7, 12, 27, 48, 75, 147]))
        m, n = int(rng.integers(1, 61)), int(rng.integers(1, 401))
        k = int(rng.integers(1, min(8, n) + 1))
        cells = rng.integers(-200, 401, size=(m, d), dtype=np.int16)
        tiles = rng.integers(-200, 401, size=(n, d), dtype=np.int16)
        assert_search_equal(cells, tiles, k)

    @pytest.mark.parametrize("seed", range(10))
    def test_many_ties(self, seed: int) -> None:
        rng = np.random.default_rng(3000 + seed)
        d, m, n = int(rng.integers(1, 5)), 30, int(rng.integers(20, 300))
        cells = rng.integers(0, 3, size=(m, d), dtype=np.int16)
        tiles = rng.integers(0, 3, size=(n, d), dtype=np.int16)
        assert_search_equal(cells, tiles, min(8, n))

    def test_identical_tiles(self) -> None:
        tiles = np.zeros((50, 12), dtype=np.int16)
        cells = np.arange(36, dtype=np.int16).reshape(3, 12)
        assert_search_equal(cells, tiles, 5)

    def test_k_equal_to_the_tile_count(self) -> None:
        rng = np.random.default_rng(4)
        cells = rng.integers(0, 5, size=(7, 6), dtype=np.int16)
        tiles = rng.integers(0, 5, size=(9, 6), dtype=np.int16)
        assert_search_equal(cells, tiles, 9)

    def test_thread_count_does_not_change_the_result(self) -> None:
        rng = np.random.default_rng(5)
        cells = rng.integers(0, 4, size=(300, 27), dtype=np.int16)
        tiles = rng.integers(0, 4, size=(3000, 27), dtype=np.int16)
        one = core.search_topk(cells, tiles, 6, threads=1)
        two = core.search_topk(cells, tiles, 6, threads=2)
        np.testing.assert_array_equal(one[0], two[0])
        np.testing.assert_array_equal(one[1], two[1])

    def test_other_layouts_and_dtypes(self) -> None:
        rng = np.random.default_rng(6)
        cells = rng.integers(-200, 401, size=(20, 27), dtype=np.int16)
        tiles = rng.integers(-200, 401, size=(150, 27), dtype=np.int16)
        expected = ref.search_topk(cells, tiles, 4)
        variants = [
            (np.asfortranarray(cells), np.asfortranarray(tiles)),
            (cells.astype(np.int32), tiles.astype(np.int64)),
            (np.asfortranarray(cells.astype(np.int32)), tiles.astype(np.int32)),
            (np.repeat(cells, 2, axis=0)[::2], np.repeat(tiles, 2, axis=1)[:, ::2]),
        ]
        for cell_variant, tile_variant in variants:
            indices, distances = core.search_topk(cell_variant, tile_variant, 4)
            np.testing.assert_array_equal(indices, expected[0])
            np.testing.assert_array_equal(distances, expected[1])

    def test_default_k_is_one(self) -> None:
        rng = np.random.default_rng(7)
        cells = rng.integers(0, 50, size=(10, 3), dtype=np.int16)
        tiles = rng.integers(0, 50, size=(40, 3), dtype=np.int16)
        indices, distances = core.search_topk(cells, tiles)
        expected = ref.search_topk(cells, tiles, 1)
        np.testing.assert_array_equal(indices, expected[0])
        np.testing.assert_array_equal(distances, expected[1])

    @pytest.mark.parametrize("seed", range(3))
    @pytest.mark.parametrize("d", [1, 2, 3, 8])
    @pytest.mark.parametrize("lowest", [-DESCRIPTOR_LIMIT - 1, -DESCRIPTOR_LIMIT])
    def test_values_at_the_limits(self, seed: int, d: int, lowest: int) -> None:
        # Small d at the extremes sits right at the edge of exact 32-bit accumulation.
        rng = np.random.default_rng(4000 + seed)
        extremes = np.array([lowest, DESCRIPTOR_LIMIT], dtype=np.int16)
        cells = rng.choice(extremes, size=(20, d))
        tiles = rng.integers(lowest, DESCRIPTOR_LIMIT + 1, size=(200, d)).astype(np.int16)
        tiles[:50] = rng.choice(extremes, size=(50, d))
        assert_search_equal(cells, tiles, 5)

    def test_largest_distance(self) -> None:
        cells = np.full((2, 8), -DESCRIPTOR_LIMIT - 1, dtype=np.int16)
        tiles = np.full((3, 8), DESCRIPTOR_LIMIT, dtype=np.int16)
        assert_search_equal(cells, tiles, 3)

    @pytest.mark.parametrize("value", [DESCRIPTOR_LIMIT + 1, -DESCRIPTOR_LIMIT - 2, 32767])
    @pytest.mark.parametrize("where", ["cells", "tiles"])
    def test_values_beyond_the_limits_are_refused(self, value: int, where: str) -> None:
        arrays = {"cells": np.zeros((4, 8), np.int32), "tiles": np.zeros((10, 8), np.int32)}
        arrays[where][1, 3] = value
        with pytest.raises(ValueError):
            core.search_topk(arrays["cells"], arrays["tiles"], 2)

    @pytest.mark.parametrize("k", [0, 11])
    def test_k_out_of_range(self, k: int) -> None:
        with pytest.raises(ValueError):
            core.search_topk(np.zeros((4, 8), np.int16), np.zeros((10, 8), np.int16), k)

    def test_mismatched_lengths(self) -> None:
        with pytest.raises(ValueError):
            core.search_topk(np.zeros((4, 8), np.int16), np.zeros((10, 9), np.int16), 1)


@pytest.mark.parametrize(("height", "width"), [(64, 64), (50, 50), (7, 13), (1, 1)])
def test_luma_spread_is_the_standard_deviation_of_every_pixels_luma(
    height: int, width: int
) -> None:
    """The core's spread of each tile's luma equals NumPy's standard deviation of the
    Rec. 601 luma of every pixel, on smooth images and noise, whatever the threads."""
    rng = np.random.default_rng(height * 100 + width)
    thumbs = np.stack([random_image(rng, height, width, smooth=i % 2 == 0) for i in range(24)])
    thumbs[0] = thumbs[0, 0, 0]  # one solid tile
    luma = thumbs.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    expected = luma.reshape(len(thumbs), -1).std(axis=1)
    spread = core.luma_spread(thumbs, threads=1)
    assert spread.dtype == np.float32 and spread.shape == (len(thumbs),)
    np.testing.assert_allclose(spread, expected, rtol=1e-6, atol=1e-4)
    assert spread[0] == 0.0
    assert np.array_equal(core.luma_spread(thumbs, threads=2), spread)


def test_luma_spread_refuses_what_is_not_a_stack_of_rgb_tiles() -> None:
    with pytest.raises(ValueError, match="thumbs"):
        core.luma_spread(np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="thumbs"):
        core.luma_spread(np.zeros((2, 4, 4, 3), np.float32))
    assert core.luma_spread(np.zeros((0, 4, 4, 3), np.uint8)).shape == (0,)
