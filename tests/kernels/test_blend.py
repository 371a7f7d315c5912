"""Colour blending of tiles toward their cells, checked against skimage's CIELAB."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from PIL import Image
from skimage.color import rgb2lab

from mosaicfast import _core
from mosaicfast._reference.compose import overlay
from mosaicfast.kernels.blend import blend_tiles

SIZE = 24


def textured(count: int, seed: int, base: tuple[int, int, int], spread: int) -> np.ndarray:
    """``(count, SIZE, SIZE, 3)`` tiles: a colour per tile near ``base``, a gradient and noise."""
    rng = np.random.default_rng(seed)
    colour = np.asarray(base) + rng.integers(-20, 21, (count, 1, 1, 3))
    ramp = np.linspace(-spread, spread, SIZE)[None, :, None, None] * rng.uniform(
        0.3, 1.0, (count, 1, 1, 3)
    )
    grain = rng.normal(0, spread / 3, (count, SIZE, SIZE, 3))
    return np.clip(np.rint(colour + ramp + grain), 0, 255).astype(np.uint8)


def lab_stats(tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-tile Lab mean and (population) standard deviation, by skimage: ``(n, 3)`` each."""
    lab = rgb2lab(tiles)
    return lab.mean(axis=(1, 2)), lab.std(axis=(1, 2))


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    """Greenish, gently textured tiles and warmer, more contrasted target regions."""
    return textured(12, 1, (90, 140, 80), 25), textured(12, 2, (170, 110, 90), 35)


def test_alpha_zero_returns_the_tiles_unchanged(pair: tuple[np.ndarray, np.ndarray]) -> None:
    tiles, targets = pair
    out = blend_tiles(tiles, targets, 0.0)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, tiles)


def test_alpha_one_takes_the_targets_lab_mean_and_spread(
    pair: tuple[np.ndarray, np.ndarray],
) -> None:
    tiles, targets = pair
    out = blend_tiles(tiles, targets, 1.0)
    assert out.shape == tiles.shape
    got_mean, got_sd = lab_stats(out)
    want_mean, want_sd = lab_stats(targets)
    np.testing.assert_allclose(got_mean, want_mean, atol=0.5)
    np.testing.assert_allclose(got_sd, want_sd, rtol=0.05)


@pytest.mark.parametrize("alpha", [0.25, 0.5, 0.75])
def test_intermediate_alpha_moves_the_means_proportionally(
    pair: tuple[np.ndarray, np.ndarray], alpha: float
) -> None:
    tiles, targets = pair
    tile_mean, _ = lab_stats(tiles)
    target_mean, _ = lab_stats(targets)
    got_mean, _ = lab_stats(blend_tiles(tiles, targets, alpha))
    np.testing.assert_allclose(got_mean, tile_mean + alpha * (target_mean - tile_mean), atol=0.5)


def test_a_flat_tile_takes_the_flat_target_colour() -> None:
    colours = [(30, 60, 90), (255, 255, 255), (128, 128, 128), (0, 0, 0)]
    goals = [(200, 150, 20), (10, 200, 240), (0, 0, 0), (255, 128, 0)]
    tiles = np.array(colours, dtype=np.uint8)[:, None, None, :].repeat(8, 1).repeat(8, 2)
    targets = np.array(goals, dtype=np.uint8)[:, None, None, :].repeat(8, 1).repeat(8, 2)
    out = blend_tiles(tiles, targets, 1.0).astype(int)
    assert np.abs(out - targets.astype(int)).max() <= 2


def test_a_flat_grey_tile_takes_a_textured_cells_mean(
    pair: tuple[np.ndarray, np.ndarray],
) -> None:
    _, targets = pair
    grey = np.full_like(targets, 128)
    out = blend_tiles(grey, targets, 1.0)
    # Flat in every channel: only the mean moves, so the tile stays flat.
    assert (out == out[:, :1, :1]).all()
    np.testing.assert_allclose(lab_stats(out)[0], lab_stats(targets)[0], atol=1.0)


def test_blending_a_tile_toward_itself_round_trips(pair: tuple[np.ndarray, np.ndarray]) -> None:
    tiles, _ = pair
    rng = np.random.default_rng(3)
    wild = rng.integers(0, 256, (4, SIZE, SIZE, 3), dtype=np.uint8)
    for stack in (tiles, wild):
        out = blend_tiles(stack, stack, 1.0)
        assert np.abs(out.astype(int) - stack.astype(int)).max() <= 1


def test_results_do_not_depend_on_the_thread_count() -> None:
    rng = np.random.default_rng(4)
    tiles = rng.integers(0, 256, (37, 16, 16, 3), dtype=np.uint8)
    targets = rng.integers(0, 256, (37, 16, 16, 3), dtype=np.uint8)
    runs = [blend_tiles(tiles, targets, 0.7, threads=n) for n in (1, 2, 3)]
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])


def test_the_gil_is_released_and_concurrent_calls_agree() -> None:
    rng = np.random.default_rng(5)
    tiles = rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    targets = rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    expected = blend_tiles(tiles, targets, 0.5)
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda _: blend_tiles(tiles, targets, 0.5), range(4)))
    for run in runs:
        np.testing.assert_array_equal(run, expected)


def test_non_contiguous_and_wider_integer_inputs_are_normalised(
    pair: tuple[np.ndarray, np.ndarray],
) -> None:
    tiles, targets = pair
    expected = blend_tiles(tiles, targets, 0.4)
    flipped = np.ascontiguousarray(tiles[:, ::-1])[:, ::-1]
    assert not flipped.flags.c_contiguous
    np.testing.assert_array_equal(blend_tiles(flipped, targets.astype(np.int64), 0.4), expected)


def test_tiles_need_not_be_square() -> None:
    rng = np.random.default_rng(6)
    tiles = rng.integers(0, 256, (3, 5, 9, 3), dtype=np.uint8)
    out = blend_tiles(tiles, tiles[::-1], 0.5)
    assert out.shape == tiles.shape


def test_no_tiles_give_no_tiles() -> None:
    empty = np.zeros((0, 8, 8, 3), dtype=np.uint8)
    assert blend_tiles(empty, empty, 0.5).shape == (0, 8, 8, 3)


BAD_ARGUMENTS: list[tuple[Any, Any, Any, str]] = [
    (np.zeros((2, 4, 4, 3)), np.zeros((2, 4, 4, 3)), 0.5, "8-bit integer"),
    (np.zeros((2, 4, 4), np.uint8), np.zeros((2, 4, 4), np.uint8), 0.5, "shape"),
    (np.zeros((2, 4, 4, 4), np.uint8), np.zeros((2, 4, 4, 4), np.uint8), 0.5, "shape"),
    (np.zeros((2, 4, 4, 3), np.uint8), np.zeros((3, 4, 4, 3), np.uint8), 0.5, "targets"),
    (np.zeros((2, 4, 4, 3), np.uint8), np.zeros((2, 4, 5, 3), np.uint8), 0.5, "targets"),
    (np.zeros((2, 0, 4, 3), np.uint8), np.zeros((2, 0, 4, 3), np.uint8), 0.5, "one pixel"),
    (np.full((1, 2, 2, 3), 256), np.zeros((1, 2, 2, 3), np.uint8), 0.5, "0..255"),
    (np.full((1, 2, 2, 3), -1), np.zeros((1, 2, 2, 3), np.uint8), 0.5, "0..255"),
    (np.zeros((1, 2, 2, 3), np.uint8), np.zeros((1, 2, 2, 3), np.uint8), -0.1, "alpha"),
    (np.zeros((1, 2, 2, 3), np.uint8), np.zeros((1, 2, 2, 3), np.uint8), 1.01, "alpha"),
    (np.zeros((1, 2, 2, 3), np.uint8), np.zeros((1, 2, 2, 3), np.uint8), float("nan"), "alpha"),
    (np.zeros((1, 2, 2, 3), np.uint8), np.zeros((1, 2, 2, 3), np.uint8), "0.5", "alpha"),
    (np.zeros((1, 2, 2, 3), np.uint8), np.zeros((1, 2, 2, 3), np.uint8), True, "alpha"),
]


@pytest.mark.parametrize(("tiles", "targets", "alpha", "message"), BAD_ARGUMENTS)
def test_bad_arguments_raise_value_error(
    tiles: Any, targets: Any, alpha: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        blend_tiles(tiles, targets, alpha)


def test_bad_threads_raise_value_error() -> None:
    px = np.zeros((1, 2, 2, 3), np.uint8)
    with pytest.raises(ValueError, match="threads"):
        blend_tiles(px, px, 0.5, threads=0)


@pytest.mark.parametrize(
    ("shape", "other", "alpha"),
    [
        ((1, 2, 2, 3), (1, 2, 2, 3), 1.5),
        ((1, 2, 2, 3), (1, 2, 2, 3), float("nan")),
        ((1, 2, 2, 3), (1, 2, 3, 3), 0.5),
        ((1, 2, 2, 4), (1, 2, 2, 4), 0.5),
    ],
)
def test_the_core_checks_its_arguments_too(
    shape: tuple[int, ...], other: tuple[int, ...], alpha: float
) -> None:
    with pytest.raises(ValueError):
        _core.blend_tiles(np.zeros(shape, np.uint8), np.zeros(other, np.uint8), alpha)


@pytest.fixture(scope="module")
def images() -> tuple[Image.Image, Image.Image]:
    """A 120x80 'mosaic' and a 45x30 target of a different size."""
    rng = np.random.default_rng(7)
    mosaic = Image.fromarray(rng.integers(0, 256, (80, 120, 3), dtype=np.uint8))
    target = Image.fromarray(rng.integers(0, 256, (30, 45, 3), dtype=np.uint8))
    return mosaic, target


def test_overlay_at_zero_is_the_mosaic(images: tuple[Image.Image, Image.Image]) -> None:
    mosaic, target = images
    out = overlay(mosaic, target, 0.0)
    assert out is not mosaic
    np.testing.assert_array_equal(np.asarray(out), np.asarray(mosaic))


def test_overlay_at_one_is_the_resized_target(images: tuple[Image.Image, Image.Image]) -> None:
    mosaic, target = images
    out = overlay(mosaic, target, 1.0)
    assert out.size == mosaic.size
    resized = target.resize(mosaic.size, Image.Resampling.LANCZOS)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(resized))


def test_overlay_at_half_is_the_average(images: tuple[Image.Image, Image.Image]) -> None:
    mosaic, target = images
    out = np.asarray(overlay(mosaic, target, 0.5)).astype(float)
    resized = np.asarray(target.resize(mosaic.size, Image.Resampling.LANCZOS)).astype(float)
    average = (np.asarray(mosaic).astype(float) + resized) / 2
    assert np.abs(out - average).max() <= 1


def test_overlay_converts_modes_and_checks_alpha(images: tuple[Image.Image, Image.Image]) -> None:
    mosaic, target = images
    out = overlay(mosaic, target.convert("L"), 0.3)
    assert out.mode == "RGB"
    assert out.size == mosaic.size
    for alpha in (-0.5, 2.0, float("inf")):
        with pytest.raises(ValueError, match="alpha"):
            overlay(mosaic, target, alpha)


def test_a_nearly_flat_tile_is_not_blown_up_into_speckles() -> None:
    rng = np.random.default_rng(3)
    tile = (128 + rng.integers(-1, 2, (1, 32, 32, 3))).astype(np.uint8)
    busy = rng.integers(0, 256, (1, 32, 32, 3)).astype(np.uint8)
    blended = blend_tiles(tile, busy, 1.0)
    # Each channel's spread grows at most about 4x (plus 8-bit rounding); matching the
    # busy cell's spread would be ~70.
    spread = blended.astype(float).std(axis=(0, 1, 2))
    assert (spread < 4 * tile.astype(float).std(axis=(0, 1, 2)) + 3).all(), spread
    assert (busy.astype(float).std(axis=(0, 1, 2)) > 60).all()
