"""The Rust SSIM re-ranking agrees with scikit-image's ``structural_similarity``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from skimage import data
from skimage.metrics import structural_similarity

from mosaicfast.kernels.ssim import candidate_ssim, luminance

TOLERANCE = 1e-5


def oracle(
    cells: np.ndarray, tiles: np.ndarray, candidates: np.ndarray, **options: Any
) -> np.ndarray:
    """skimage's SSIM of every (cell, candidate) pair, in float64 on the float32 patches."""
    gaussian = options.get("gaussian", False)
    sk_options: dict[str, Any] = {
        "data_range": options.get("data_range", 255.0),
        "gaussian_weights": gaussian,
        "sigma": options.get("sigma", 1.5),
        "use_sample_covariance": options.get("sample_covariance", True),
        "K1": 0.01,
        "K2": 0.03,
    }
    if not gaussian:
        sk_options["win_size"] = options.get("win_size", 7)
    x = cells.astype(np.float32).astype(np.float64)
    y = tiles.astype(np.float32).astype(np.float64)
    return np.array(
        [
            [structural_similarity(x[i], y[c], **sk_options) for c in row]
            for i, row in enumerate(candidates)
        ]
    )


def check(
    cells: np.ndarray, tiles: np.ndarray, candidates: np.ndarray, **options: Any
) -> np.ndarray:
    """Assert the core matches the oracle within TOLERANCE; return the core's values."""
    got = candidate_ssim(cells, tiles, candidates, **options)
    assert got.dtype == np.float32
    assert got.shape == candidates.shape
    np.testing.assert_allclose(got, oracle(cells, tiles, candidates, **options), atol=TOLERANCE)
    return got


def noise(count: int, side: int, seed: int, scale: float = 255.0) -> np.ndarray:
    """Uniform random patches in ``[0, scale)``."""
    rng = np.random.default_rng(seed)
    return (rng.random((count, side, side)) * scale).astype(np.float32)


def smooth(count: int, side: int, seed: int) -> np.ndarray:
    """Gentle gradients with a little noise, values within 0..255."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.0, 1.0, side)
    out = []
    for _ in range(count):
        a, b, c = rng.uniform(-80, 80, 3)
        base = 128 + a * ramp[:, None] + b * ramp[None, :] + c * np.outer(ramp, ramp) / 2
        out.append(np.clip(base + rng.normal(0, 2, (side, side)), 0, 255))
    return np.array(out, dtype=np.float32)


def some_candidates(cells: int, tiles: int, k: int, seed: int) -> np.ndarray:
    """``(cells, k)`` random tile indices."""
    return np.random.default_rng(seed).integers(0, tiles, (cells, k))


@pytest.mark.parametrize("side", [8, 16, 32, 64])
@pytest.mark.parametrize("win_size", [3, 5, 7])
def test_uniform_windows_on_noise(side: int, win_size: int) -> None:
    cells, tiles = noise(4, side, 1), noise(6, side, 2)
    check(cells, tiles, some_candidates(4, 6, 3, side), win_size=win_size)


@pytest.mark.parametrize("side", [8, 16, 32, 64])
@pytest.mark.parametrize("sample_covariance", [True, False])
def test_smooth_patches(side: int, sample_covariance: bool) -> None:
    cells, tiles = smooth(4, side, 3), smooth(6, side, 4)
    check(cells, tiles, some_candidates(4, 6, 4, side), sample_covariance=sample_covariance)


@pytest.mark.parametrize("side", [16, 32, 64])
@pytest.mark.parametrize("sample_covariance", [True, False])
@pytest.mark.parametrize("sigma", [1.5, 1.0])
def test_gaussian_window(side: int, sample_covariance: bool, sigma: float) -> None:
    cells, tiles = smooth(3, side, 5), noise(5, side, 6)
    cells[1:] = noise(2, side, 7)
    check(
        cells,
        tiles,
        some_candidates(3, 5, 4, side),
        gaussian=True,
        sigma=sigma,
        sample_covariance=sample_covariance,
    )


def test_gaussian_window_on_the_smallest_patches() -> None:
    # sigma 0.8 gives a 7-pixel window, which fits 8x8 patches; 1.5 (11 pixels) does not.
    cells, tiles = noise(3, 8, 8), smooth(4, 8, 9)
    check(cells, tiles, some_candidates(3, 4, 4, 0), gaussian=True, sigma=0.8)


@pytest.mark.parametrize("data_range", [1.0, 100.0, 255.0, 65535.0])
def test_data_ranges(data_range: float) -> None:
    scale = min(data_range, 255.0)
    cells, tiles = noise(3, 16, 10, scale), noise(5, 16, 11, scale)
    tiles[0] = cells[0] * 0.9 + 0.05 * scale
    candidates = np.array([[0, 1, 2], [3, 4, 0], [1, 1, 2]])
    check(cells, tiles, candidates, data_range=data_range)
    check(cells, tiles, candidates, data_range=data_range, gaussian=True)


def test_identical_patches_score_one() -> None:
    tiles = np.concatenate([noise(2, 16, 12), smooth(2, 16, 13)])
    cells = tiles[[3, 0, 2, 1]]
    got = check(cells, tiles, np.array([[3], [0], [2], [1]]))
    np.testing.assert_allclose(got, 1.0, atol=1e-6)


def test_constant_patches() -> None:
    tiles = np.stack([np.full((16, 16), v, np.float32) for v in (0.0, 50.0, 200.0, 255.0)])
    cells = np.concatenate([tiles[:2], noise(2, 16, 14)])
    got = check(cells, tiles, np.array([[0, 1, 2, 3]] * 4))
    assert got[0, 0] == pytest.approx(1.0) and got[1, 1] == pytest.approx(1.0)
    assert got[0, 3] < 0.01


def image_patches(image: np.ndarray, side: int, count: int, seed: int) -> np.ndarray:
    """``count`` random ``side x side`` crops of a 2-D luminance image."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, image.shape[0] - side, count)
    cols = rng.integers(0, image.shape[1] - side, count)
    return np.stack([image[r : r + side, c : c + side] for r, c in zip(rows, cols, strict=True)])


@pytest.mark.parametrize("side", [16, 32])
def test_real_image_patches(side: int) -> None:
    camera = data.camera().astype(np.float32)
    astronaut = luminance(data.astronaut())
    cells = np.concatenate(
        [image_patches(camera, side, 6, 1), image_patches(astronaut, side, 6, 2)]
    )
    tiles = np.concatenate(
        [image_patches(astronaut, side, 20, 3), image_patches(camera, side, 20, 4)]
    )
    candidates = some_candidates(len(cells), len(tiles), 8, side)
    check(cells, tiles, candidates)
    check(cells, tiles, candidates, gaussian=True, sample_covariance=False)


def test_luminance_is_rec601() -> None:
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]], dtype=np.uint8)
    got = luminance(rgb)
    assert got.dtype == np.float32 and got.shape == (1, 4)
    np.testing.assert_allclose(got[0], [76.245, 149.685, 29.07, 18.15], rtol=1e-6)
    with pytest.raises(ValueError, match="uint8"):
        luminance(rgb.astype(np.float32))
    with pytest.raises(ValueError, match="colour channels"):
        luminance(rgb[..., :2])


def test_inputs_of_other_dtypes_and_layouts() -> None:
    cells = np.asfortranarray(noise(3, 16, 15).astype(np.float64))
    tiles = noise(4, 16, 16).astype(np.uint8)
    candidates = np.array([[0, 1], [2, 3], [3, 3]], dtype=np.int32)
    check(cells, tiles, candidates)
    check(cells[:, ::-1, :], tiles, candidates)


def test_same_result_on_any_number_of_threads() -> None:
    cells, tiles = noise(200, 16, 17), smooth(300, 16, 18)
    candidates = some_candidates(200, 300, 16, 19)
    one = candidate_ssim(cells, tiles, candidates, threads=1)
    np.testing.assert_array_equal(one, candidate_ssim(cells, tiles, candidates, threads=2))
    gauss = candidate_ssim(cells, tiles, candidates, gaussian=True, threads=1)
    np.testing.assert_array_equal(
        gauss, candidate_ssim(cells, tiles, candidates, gaussian=True, threads=2)
    )


def test_empty_inputs() -> None:
    tiles = noise(2, 8, 20)
    assert candidate_ssim(noise(0, 8, 21), tiles, np.zeros((0, 3), np.int64)).shape == (0, 3)
    assert candidate_ssim(noise(2, 8, 21), tiles, np.zeros((2, 0), np.int64)).shape == (2, 0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cells": np.zeros((2, 16, 15), np.float32)}, "cells must have shape"),
        ({"cells": np.zeros((16, 16), np.float32)}, "cells must have shape"),
        ({"tiles": np.zeros((4, 8, 8), np.float32)}, "square patches of one size"),
        ({"cells": np.zeros((2, 4, 4)), "tiles": np.zeros((4, 4, 4))}, "between 8 and 64"),
        ({"cells": np.zeros((2, 72, 72)), "tiles": np.zeros((4, 72, 72))}, "between 8 and 64"),
        ({"cells": np.zeros((2, 16, 16), complex)}, "real luminance"),
        ({"candidates": np.zeros((3, 2), np.int64)}, r"shape \(2, k\)"),
        ({"candidates": np.zeros(2, np.int64)}, r"shape \(2, k\)"),
        ({"candidates": np.zeros((2, 2))}, "integer tile indices"),
        ({"candidates": np.array([[0, 1], [4, 0]])}, r"candidates\[1, 0\] = 4 is not a tile"),
        ({"candidates": np.array([[0, -1], [0, 0]])}, r"candidates\[0, 1\] = -1 is not a tile"),
        ({"win_size": 6}, "odd integer"),
        ({"win_size": 17}, "odd integer"),
        ({"win_size": 1}, "odd integer"),
        ({"win_size": 7.0}, "win_size must be a non-negative integer"),
        ({"gaussian": True, "sigma": 3.0}, "23-pixel Gaussian window"),
        ({"gaussian": True, "sigma": 0.1}, "1-pixel Gaussian window"),
        ({"gaussian": True, "sigma": -1.0}, "sigma must be a positive"),
        ({"data_range": 0.0}, "data_range must be a positive"),
        ({"data_range": float("nan")}, "data_range must be a positive"),
        ({"data_range": "255"}, "data_range must be a number"),
        ({"threads": 0}, "threads must be from 1 to 256, got 0"),
        ({"threads": -1}, "threads must be from 1 to 256, got -1"),
    ],
)
def test_bad_arguments_raise_value_error(change: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {
        "cells": noise(2, 16, 22),
        "tiles": noise(4, 16, 23),
        "candidates": np.array([[0, 1], [2, 3]]),
    }
    arguments.update(change)
    with pytest.raises(ValueError, match=message):
        candidate_ssim(
            arguments.pop("cells"), arguments.pop("tiles"), arguments.pop("candidates"), **arguments
        )


def test_core_refuses_bad_indices_itself() -> None:
    from mosaicfast import _core

    cells, tiles = noise(1, 16, 24), noise(2, 16, 25)
    with pytest.raises(ValueError, match=r"candidates\[0, 1\] = 2 is not a tile index"):
        _core.ssim_candidates(cells, tiles, np.array([[0, 2]]), data_range=255.0)
    with pytest.raises(ValueError, match="win_size must be an odd integer"):
        _core.ssim_candidates(cells, tiles, np.array([[0, 1]]), data_range=255.0, win_size=8)
    with pytest.raises(ValueError, match="square patches"):
        _core.ssim_candidates(cells, tiles[:, :8], np.array([[0, 1]]), data_range=255.0)
